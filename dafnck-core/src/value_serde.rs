//! Direct conversions between users' typed structs and [`Value`], without
//! building a `serde_json::Value` in between.
//!
//! Every resource declared, read back or refreshed goes through these two
//! conversions, so at 100,000 resources the intermediate JSON tree (a second
//! allocation of every map, string and list) was a large part of what a
//! `preview` spent (BENCHMARKS.md §13). Both keep the exact meaning of the
//! JSON route they replace, which the tests check against it:
//! - [`to_value`] is `Value::from_json(serde_json::to_value(v))`: the
//!   `$secret`, `$ref`, `$unknown` and `$computed` markers that
//!   [`crate::Input`], [`crate::Secret`] and computed values serialize as
//!   become those values again; numbers become `Int` when they fit `i64`,
//!   else `Float`; a non-finite float becomes `Null`.
//! - [`from_value`] is `serde_json::from_value(v.to_plain_json())`: secrets
//!   read as their inner value, unknowns, references and computed values as
//!   `null`; map keys read as numbers or booleans where the type asks.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::ser::{self, Impossible, Serialize};

use crate::computed;
use crate::value::{OutputRef, Value};

type Error = serde_json::Error;

/// Converts a serializable value, as `Value::from_json(serde_json::to_value(v))`.
pub(crate) fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Error> {
    value.serialize(ValueSerializer)
}

/// Deserializes a typed value, as `serde_json::from_value(v.to_plain_json())`.
pub(crate) fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Error> {
    T::deserialize(Plain(value))
}

/// A map's entries as a value, decoding a single-entry marker map the way
/// [`Value::from_json`] does.
fn map_value(mut entries: Vec<(String, Value)>) -> Value {
    if entries.len() == 1 {
        let (key, value) = &entries[0];
        match (key.as_str(), value) {
            ("$secret", _) => {
                let (_, inner) = entries.pop().expect("one entry");
                return Value::Secret(Box::new(inner));
            }
            ("$ref", Value::Map(fields)) => {
                let field = |name: &str| fields.get(name).and_then(Value::as_str);
                if let (Some(stack), Some(resource), Some(f)) =
                    (field("stack"), field("resource"), field("field"))
                {
                    return Value::Ref(Box::new(OutputRef {
                        stack: stack.to_owned(),
                        resource: resource.to_owned(),
                        field: f.to_owned(),
                    }));
                }
            }
            ("$unknown", Value::Bool(true)) => return Value::Unknown,
            ("$computed", Value::Int(index)) => {
                if let Some(v) = u64::try_from(*index).ok().and_then(computed::captured_at) {
                    return v;
                }
            }
            _ => {}
        }
    }
    Value::Map(entries.into_iter().collect())
}

fn float(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

fn unsigned(u: u64) -> Value {
    i64::try_from(u).map_or(Value::Float(u as f64), Value::Int)
}

struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantBuilder<SeqBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = VariantBuilder<MapBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        if let Ok(i) = i64::try_from(v) {
            Ok(Value::Int(i))
        } else if let Ok(u) = u64::try_from(v) {
            Ok(unsigned(u))
        } else {
            Err(ser::Error::custom("number out of range"))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        Ok(unsigned(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        u64::try_from(v)
            .map(unsigned)
            .map_err(|_| ser::Error::custom("number out of range"))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::List(
            v.iter().map(|b| Value::Int((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        Ok(map_value(vec![(variant.to_owned(), to_value(value)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<SeqBuilder>, Error> {
        Ok(VariantBuilder {
            variant,
            inner: SeqBuilder(Vec::with_capacity(len)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapBuilder, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<MapBuilder>, Error> {
        Ok(VariantBuilder {
            variant,
            inner: self.serialize_map(Some(len))?,
        })
    }
}

struct SeqBuilder(Vec<Value>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

struct MapBuilder {
    entries: Vec<(String, Value)>,
    key: Option<String>,
}

impl MapBuilder {
    /// Sets an entry; a repeated key keeps its last value, as a JSON object does.
    fn set(&mut self, key: String, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a map value came before its key"))?;
        let value = to_value(value)?;
        self.set(key, value);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(map_value(self.entries))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let value = to_value(value)?;
        self.set(key.to_owned(), value);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeMap::end(self)
    }
}

struct VariantBuilder<B> {
    variant: &'static str,
    inner: B,
}

impl ser::SerializeTupleVariant for VariantBuilder<SeqBuilder> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Value, Error> {
        let inner = ser::SerializeSeq::end(self.inner)?;
        Ok(map_value(vec![(self.variant.to_owned(), inner)]))
    }
}

impl ser::SerializeStructVariant for VariantBuilder<MapBuilder> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value, Error> {
        let inner = ser::SerializeMap::end(self.inner)?;
        Ok(map_value(vec![(self.variant.to_owned(), inner)]))
    }
}

/// Map keys: strings, and what `serde_json` writes as a string key.
struct KeySerializer;

fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

macro_rules! key_as_string {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<String, Error> {
            Ok(v.to_string())
        }
    )*};
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    key_as_string!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_i128: i128, serialize_u8: u8,
        serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
        serialize_char: char, serialize_str: &str);

    fn serialize_f32(self, _v: f32) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _v: f64) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

/// A value read as plain data: the deserializer behind [`from_value`].
#[derive(Clone, Copy)]
struct Plain<'a>(&'a Value);

impl<'a> Plain<'a> {
    /// The value plain JSON would show: secrets opened, and unknowns,
    /// references and computed values as `null` (`None` here).
    fn data(self) -> Option<&'a Value> {
        let mut v = self.0;
        while let Value::Secret(inner) = v {
            v = inner;
        }
        match v {
            Value::Unknown | Value::Ref(_) | Value::Computed(_) | Value::Null => None,
            other => Some(other),
        }
    }

    fn unexpected(self) -> Unexpected<'a> {
        match self.data() {
            None => Unexpected::Unit,
            Some(Value::Bool(b)) => Unexpected::Bool(*b),
            Some(Value::Int(i)) if *i >= 0 => Unexpected::Unsigned(i.unsigned_abs()),
            Some(Value::Int(i)) => Unexpected::Signed(*i),
            Some(Value::Float(f)) => Unexpected::Float(*f),
            Some(Value::String(s)) => Unexpected::Str(s),
            Some(Value::List(_)) => Unexpected::Seq,
            Some(_) => Unexpected::Map,
        }
    }
}

impl<'de> de::Deserializer<'de> for Plain<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.data() {
            None => visitor.visit_unit(),
            Some(Value::Bool(b)) => visitor.visit_bool(*b),
            Some(Value::Int(i)) if *i >= 0 => visitor.visit_u64(i.unsigned_abs()),
            Some(Value::Int(i)) => visitor.visit_i64(*i),
            Some(Value::Float(f)) => visitor.visit_f64(*f),
            Some(Value::String(s)) => visitor.visit_borrowed_str(s),
            Some(Value::List(items)) => {
                let mut seq = Items(items.iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.finish(items.len())?;
                Ok(value)
            }
            Some(Value::Map(map)) => {
                let mut entries = Entries {
                    iter: map.iter(),
                    value: None,
                };
                let value = visitor.visit_map(&mut entries)?;
                entries.finish(map.len())?;
                Ok(value)
            }
            Some(_) => unreachable!("data() opens secrets and hides unresolved values"),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.data() {
            None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.data() {
            Some(Value::String(s)) => visitor.visit_enum(Variant {
                name: s,
                value: None,
            }),
            Some(Value::Map(map)) => {
                let mut iter = map.iter();
                match (iter.next(), iter.next()) {
                    (Some((name, value)), None) => visitor.visit_enum(Variant {
                        name,
                        value: Some(Plain(value)),
                    }),
                    _ => Err(de::Error::invalid_value(
                        Unexpected::Map,
                        &"map with a single key",
                    )),
                }
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &"string or map")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Items<'a>(std::slice::Iter<'a, Value>);

impl Items<'_> {
    fn finish(&self, len: usize) -> Result<(), Error> {
        match self.0.len() {
            0 => Ok(()),
            _ => Err(de::Error::invalid_length(len, &"fewer elements in array")),
        }
    }
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Plain(v)))
            .transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'a, I: Iterator<Item = (&'a String, &'a Value)>> {
    iter: I,
    value: Option<&'a Value>,
}

impl<'a, I: ExactSizeIterator<Item = (&'a String, &'a Value)>> Entries<'a, I> {
    fn finish(&self, len: usize) -> Result<(), Error> {
        match self.iter.len() {
            0 => Ok(()),
            _ => Err(de::Error::invalid_length(len, &"fewer elements in map")),
        }
    }
}

impl<'de, I: Iterator<Item = (&'de String, &'de Value)>> MapAccess<'de> for Entries<'de, I> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key(key)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("value is missing"))?;
        seed.deserialize(Plain(value))
    }
    fn size_hint(&self) -> Option<usize> {
        self.iter.size_hint().1
    }
}

/// A map key: a string, read as a number or a boolean where the type asks
/// (as `serde_json` reads object keys).
struct Key<'a>(&'a str);

macro_rules! key_parses {
    ($($method:ident => $visit:ident: $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0.parse::<$ty>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    key_parses!(deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128, deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16, deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64, deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32, deserialize_f64 => visit_f64: f64,
        deserialize_bool => visit_bool: bool);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

struct Variant<'a> {
    name: &'a str,
    value: Option<Plain<'a>>,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = VariantValue<'de>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Error> {
        let name = seed.deserialize(Key(self.name))?;
        Ok((name, VariantValue(self.value)))
    }
}

struct VariantValue<'a>(Option<Plain<'a>>);

impl<'de> VariantAccess<'de> for VariantValue<'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            None => Ok(()),
            Some(v) => <() as de::Deserialize>::deserialize(v),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.0 {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Some(v) => match v.data() {
                Some(Value::List(items)) if items.is_empty() => visitor.visit_unit(),
                Some(Value::List(_)) => de::Deserializer::deserialize_any(v, visitor),
                _ => Err(de::Error::invalid_type(v.unexpected(), &"tuple variant")),
            },
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Some(v) => match v.data() {
                Some(Value::Map(_)) => de::Deserializer::deserialize_any(v, visitor),
                _ => Err(de::Error::invalid_type(v.unexpected(), &"struct variant")),
            },
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
