//! [`Secret<T>`]: a value that is never shown, and never stored in plain text.
//!
//! A secret input (or a provider output marked secret) is carried through
//! the engine as [`crate::Value::Secret`]: plans, drift reports, errors and
//! `Debug` output show `(secret)`. Before the state store sees it — in a
//! journal record, a snapshot or a saved plan — the engine seals it with
//! XChaCha20-Poly1305 under the stack's key (from `DAFNCK_PASSPHRASE`, or
//! given by the program), so every store holds ciphertext only; see
//! [`crate::state::encryption`]. Only the provider that needs it, and the
//! state in the engine's memory, see the value itself.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is redacted in plans, logs, errors and `Debug` output.
///
/// ```
/// use dafnck_core::Secret;
/// let pw = Secret::new("hunter2".to_string());
/// assert_eq!(format!("{pw:?}"), "Secret(***)");
/// assert_eq!(pw.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself. Every call site is a place the secret can leak from.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Serializes as `{"$secret": value}`, which [`crate::Value::from_serialize`]
/// turns into a [`crate::Value::Secret`].
impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("$secret", &self.0)?;
        map.end()
    }
}

/// Deserializes from the plain inner value (how outputs reach typed structs)
/// or from the `{"$secret": value}` form.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form<T> {
            Marked {
                #[serde(rename = "$secret")]
                secret: T,
            },
            Plain(T),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::Marked { secret } => Secret(secret),
            Form::Plain(v) => Secret(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn becomes_a_secret_value_and_back() {
        let v = Value::from_serialize(&Secret::new("pw".to_string())).unwrap();
        assert_eq!(v, Value::Secret(Box::new("pw".into())));
        let back: Secret<String> = v.deserialize_into().unwrap();
        assert_eq!(back.expose(), "pw");
    }
}
