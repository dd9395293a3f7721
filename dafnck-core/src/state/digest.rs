//! A SHA-256 of any serializable value, fed its serde data model in a
//! compact binary form: a tag byte per item, lengths as 8 bytes, strings as
//! raw bytes, an end mark after every sequence, map and struct. No text is
//! formatted or escaped on the way (what made hashing the state as JSON
//! slow), and every field a type serializes is covered without listing it.
//!
//! Every item starts with its tag, every string and field name with its
//! length, and every compound ends with a mark, so the encoding is
//! prefix-free: two different values never feed the hash the same bytes.
//!
//! The one exception: the content of a secret (a map entry under `$secret`,
//! how [`Value::Secret`](crate::Value::Secret) serializes) is not hashed,
//! only that a secret is there. A saved plan's fingerprint is then no
//! oracle for guessing a secret, and is the same whether the state's
//! secrets were opened with the key or left sealed (every change of a
//! secret is a journal record, which changes the serial anyway).

use std::fmt;

use serde::ser::{self, Serialize};
use sha2::{Digest, Sha256};

/// The SHA-256 of `value`'s serde data model.
pub(crate) fn sha256<T: Serialize + ?Sized>(value: &T) -> [u8; 32] {
    let mut d = Digester {
        hash: Sha256::new(),
        buf: Vec::with_capacity(BUF),
        secret_key: false,
        skip_value: false,
    };
    if let Err(e) = value.serialize(&mut d) {
        // A `Serialize` impl refused (none in this crate does): hash what it
        // said, so the digest still depends on the value.
        d.str(&e.0);
    }
    d.hash.update(&d.buf);
    d.hash.finalize().into()
}

const BUF: usize = 64 * 1024;

/// The map key under which a secret's content is serialized.
const SECRET_KEY: &str = "$secret";

mod tag {
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const UINT: u8 = 3;
    pub const INT128: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const CHAR: u8 = 6;
    pub const STR: u8 = 7;
    pub const BYTES: u8 = 8;
    pub const NONE: u8 = 9;
    pub const SOME: u8 = 10;
    pub const UNIT: u8 = 11;
    pub const VARIANT: u8 = 12;
    pub const NEWTYPE: u8 = 13;
    pub const SEQ: u8 = 14;
    pub const MAP: u8 = 15;
    pub const STRUCT: u8 = 16;
    pub const END: u8 = 17;
    pub const UINT128: u8 = 18;
    pub const KEY: u8 = 19;
    pub const SECRET: u8 = 20;
}

struct Digester {
    hash: Sha256,
    buf: Vec<u8>,
    /// The last string serialized was `$secret`.
    secret_key: bool,
    /// The map value about to be serialized is a secret's content.
    skip_value: bool,
}

/// Why serializing failed (a `Serialize` impl's own error).
#[derive(Debug)]
pub(crate) struct DigestError(String);

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DigestError {}

impl ser::Error for DigestError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DigestError(msg.to_string())
    }
}

impl Digester {
    /// Hands the buffer to the hash once it is full.
    fn spill(&mut self) {
        if self.buf.len() >= BUF {
            self.hash.update(&self.buf);
            self.buf.clear();
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.spill();
        if bytes.len() <= 16 {
            // Most strings here are short: a plain loop beats a `memcpy` call.
            self.buf.extend(bytes.iter().copied());
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn tag(&mut self, tag: u8) {
        self.spill();
        self.buf.push(tag);
    }

    fn tagged_len(&mut self, tag: u8, len: usize) {
        self.spill();
        self.buf.push(tag);
        self.buf.extend_from_slice(&(len as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.tagged_len(tag::STR, s.len());
        self.put(s.as_bytes());
    }

    /// A struct field's or variant's name: short, so one byte of length.
    fn key(&mut self, key: &str) {
        self.tag(tag::KEY);
        match u8::try_from(key.len()) {
            Ok(len) if len < u8::MAX => {
                self.buf.push(len);
                self.put(key.as_bytes());
            }
            _ => {
                self.buf.push(u8::MAX);
                self.str(key);
            }
        }
    }

    fn variant(&mut self, index: u32, name: &str) {
        self.tag(tag::VARIANT);
        self.put(&index.to_le_bytes());
        self.key(name);
    }
}

type Result<T = (), E = DigestError> = std::result::Result<T, E>;

impl ser::Serializer for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result {
        self.put(&[tag::BOOL, u8::from(v)]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.tag(tag::INT);
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result {
        self.tag(tag::INT128);
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.tag(tag::UINT);
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.tag(tag::UINT128);
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.tag(tag::FLOAT);
        self.put(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result {
        self.tag(tag::CHAR);
        self.put(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        self.secret_key = v == SECRET_KEY;
        self.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        self.tagged_len(tag::BYTES, v.len());
        self.put(v);
        Ok(())
    }
    fn serialize_none(self) -> Result {
        self.tag(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        self.tag(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.tag(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result {
        self.variant(index, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.variant(index, variant);
        self.tag(tag::NEWTYPE);
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self> {
        self.tag(tag::SEQ);
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self> {
        self.variant(index, variant);
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self> {
        self.tag(tag::MAP);
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        self.tag(tag::STRUCT);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.variant(index, variant);
        self.tag(tag::STRUCT);
        Ok(self)
    }
}

impl ser::SerializeSeq for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeMap for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.secret_key = false;
        key.serialize(&mut **self)?;
        self.skip_value = std::mem::take(&mut self.secret_key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        if std::mem::take(&mut self.skip_value) {
            self.tag(tag::SECRET);
            return Ok(());
        }
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.key(key);
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Digester {
    type Ok = ();
    type Error = DigestError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.key(key);
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        self.tag(tag::END);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use std::collections::BTreeMap;

    #[test]
    fn equal_values_hash_equal_and_different_ones_differ() {
        let a: Value = [("a", Value::from("x")), ("b", Value::Int(1))]
            .into_iter()
            .collect();
        assert_eq!(sha256(&a), sha256(&a.clone()));
        // Moving bytes between neighbouring strings changes the hash.
        let v1 = vec!["ab".to_owned(), "c".to_owned()];
        let v2 = vec!["a".to_owned(), "bc".to_owned()];
        assert_ne!(sha256(&v1), sha256(&v2));
        // Nesting is part of the hash.
        let n1 = vec![vec![1u8], vec![]];
        let n2 = vec![vec![], vec![1u8]];
        assert_ne!(sha256(&n1), sha256(&n2));
        // So are types: a string is not an integer.
        assert_ne!(sha256(&Value::from("1")), sha256(&Value::Int(1)));
        let mut m = BTreeMap::new();
        m.insert("k".to_owned(), None::<u8>);
        let mut m2 = BTreeMap::new();
        m2.insert("k".to_owned(), Some(0u8));
        assert_ne!(sha256(&m), sha256(&m2));
    }

    #[test]
    fn a_secrets_content_is_not_hashed_only_its_presence() {
        let with = |v: Value| -> Value { [("pw", v), ("n", Value::Int(1))].into_iter().collect() };
        let secret = |v: Value| Value::Secret(Box::new(v));
        let sealed: Value = [("$sealed", Value::from("v1.xchacha20poly1305.AAAA"))]
            .into_iter()
            .collect();
        let a = sha256(&with(secret("hunter2".into())));
        assert_eq!(a, sha256(&with(secret("another".into()))));
        assert_eq!(a, sha256(&with(secret(sealed))), "opened or sealed");
        assert_ne!(
            a,
            sha256(&with("hunter2".into())),
            "a secret is not a string"
        );
        assert_ne!(a, sha256(&with(Value::Null)));
        // Other entries still count.
        let b: Value = [("pw", secret("hunter2".into())), ("n", Value::Int(2))]
            .into_iter()
            .collect();
        assert_ne!(a, sha256(&b));
        // A string value "$secret" elsewhere changes nothing of the rule.
        let c: Value = [("k", Value::from("$secret")), ("v", Value::from("x"))]
            .into_iter()
            .collect();
        let d: Value = [("k", Value::from("$secret")), ("v", Value::from("y"))]
            .into_iter()
            .collect();
        assert_ne!(sha256(&c), sha256(&d));
    }
}
