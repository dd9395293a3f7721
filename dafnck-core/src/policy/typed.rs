//! Reading a resource's inputs back into its typed struct for a rule, with
//! references kept as references: an [`Input<T>`](crate::Input) that refers
//! to another resource's output deserializes as that reference (so a rule
//! sees `subnet_id.as_output()` and knows the value is not known yet),
//! where plain JSON would have given `null` and failed.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::value::{OutputRef, Value};

/// The name [`crate::Input`]'s `Deserialize` asks for: this deserializer
/// answers it with the reference itself when the value is one.
pub(crate) const INPUT_TOKEN: &str = "$dafnck::Input";

/// The error of reading a value into a typed struct.
#[derive(Debug)]
pub(crate) struct TypedError(String);

impl std::fmt::Display for TypedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TypedError {}

impl de::Error for TypedError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TypedError(msg.to_string())
    }
}

/// Reads `value` (a resource's inputs as declared, or as resolved at
/// apply) into `T`. Secrets are read as their inner value.
pub(crate) fn read<T: DeserializeOwned>(value: &Value) -> Result<T, TypedError> {
    T::deserialize(Typed(value))
}

#[derive(Clone, Copy)]
struct Typed<'a>(&'a Value);

impl<'de> IntoDeserializer<'de, TypedError> for Typed<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// One `$ref` entry: the key, then the reference as a map of its fields.
struct RefEntry<'a>(&'a OutputRef);

impl<'de> de::Deserializer<'de> for Typed<'de> {
    type Error = TypedError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        match self.0 {
            Value::Null | Value::Unknown | Value::Ref(_) | Value::Computed(_) => {
                visitor.visit_unit()
            }
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::List(items) => visitor.visit_seq(SeqDeserializer::new(items.iter().map(Typed))),
            Value::Map(m) => visitor.visit_map(MapDeserializer::new(
                m.iter().map(|(k, v)| (k.as_str(), Typed(v))),
            )),
            Value::Secret(inner) => Typed(inner).deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            Value::Secret(inner) => Typed(inner).deserialize_option(visitor),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                visitor.visit_enum(EnumAccess(k, Typed(v)))
            }
            Value::Secret(inner) => Typed(inner).deserialize_enum(name, variants, visitor),
            other => Err(de::Error::custom(format!(
                "expected enum {name}, got {other}"
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        match self.0 {
            Value::Ref(r) if name == INPUT_TOKEN => {
                visitor.visit_map(MapDeserializer::new(std::iter::once(("$ref", RefEntry(r)))))
            }
            Value::Unknown | Value::Computed(_) if name == INPUT_TOKEN => Err(de::Error::custom(
                "a value not known until apply where no reference says which",
            )),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, TypedError> for RefEntry<'de> {
    type Deserializer =
        MapDeserializer<'de, std::array::IntoIter<(&'static str, &'de str), 3>, TypedError>;
    fn into_deserializer(self) -> Self::Deserializer {
        MapDeserializer::new(
            [
                ("stack", self.0.stack.as_str()),
                ("resource", self.0.resource.as_str()),
                ("field", self.0.field.as_str()),
            ]
            .into_iter(),
        )
    }
}

struct EnumAccess<'a>(&'a str, Typed<'a>);

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = TypedError;
    type Variant = Typed<'de>;
    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Typed<'de>), TypedError> {
        let v = seed.deserialize(self.0.into_deserializer())?;
        Ok((v, self.1))
    }
}

impl<'de> de::VariantAccess<'de> for Typed<'de> {
    type Error = TypedError;
    fn unit_variant(self) -> Result<(), TypedError> {
        Ok(())
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, TypedError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, TypedError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
