//! Typed configuration: [`Stack::config_as`] reads a stack's configuration
//! value as any type serde can read (numbers, booleans, lists, enums of
//! names, strings), with an error naming the key, the stack and the type
//! it expected.
//!
//! Values come from `dafnck.<stack>.json` (strings, or any JSON value for
//! typed keys) and `--config KEY=VALUE`, or from
//! [`TestStack::config`](crate::testing::TestStack::config) in tests. A
//! value is read as a string first (so `String` keys take the text as it
//! is), then as JSON text (`8080`, `true`, `["a","b"]`).

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::secret::Secret;
use crate::stack::Stack;

impl Stack {
    /// The configuration value `key`, read as a `T`.
    ///
    /// ```
    /// # use dafnck_core::Stack;
    /// let stack = Stack::with_config("dev", [("port".to_string(), "8080".to_string())].into());
    /// let port: u16 = stack.config_as("port").unwrap();
    /// assert_eq!(port, 8080);
    /// assert_eq!(
    ///     stack.config_as::<bool>("port").unwrap_err().to_string(),
    ///     "config value \"port\" of stack \"dev\" is not a bool: invalid type: integer `8080`, expected a boolean"
    /// );
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and the stack when it is not set;
    /// [`Error::ConfigType`] naming the key, the stack and `T` when the
    /// value is not a `T`.
    pub fn config_as<T: DeserializeOwned>(&self, key: &str) -> crate::Result<T> {
        let text = self.required_text(key)?;
        self.parse(key, text)
    }

    /// The configuration value `key` read as a `T`, or `default` when it is
    /// not set.
    ///
    /// # Errors
    /// [`Error::ConfigType`] when the value is set but is not a `T`.
    pub fn config_or<T: DeserializeOwned>(&self, key: &str, default: T) -> crate::Result<T> {
        match self.config_text(key) {
            Some(text) => self.parse(key, text),
            None => Ok(default),
        }
    }

    /// The configuration value `key` (set with `config set KEY --secret`)
    /// read as a `T`, kept a [`Secret`]: redacted in plans, sealed in the
    /// state. A plain value (`--config KEY=VALUE`) is read as a secret too.
    ///
    /// # Errors
    /// As [`Stack::config_as`]; the error never shows the value.
    pub fn secret_config<T: DeserializeOwned>(&self, key: &str) -> crate::Result<Secret<T>> {
        let text = self.required_text(key)?;
        self.parse_text::<T>(key, text)
            .map(Secret::new)
            .map_err(|e| match e {
                Error::ConfigType {
                    stack,
                    key,
                    expected,
                    ..
                } => Error::ConfigType {
                    stack,
                    key,
                    expected,
                    message: "the secret value does not read as one".into(),
                },
                other => other,
            })
    }

    /// The text of `key`, secret or not, which must be set.
    fn required_text(&self, key: &str) -> crate::Result<&str> {
        self.config_text(key).ok_or_else(|| Error::Config {
            stack: self.name().to_owned(),
            key: key.to_owned(),
        })
    }

    fn parse<T: DeserializeOwned>(&self, key: &str, text: &str) -> crate::Result<T> {
        if self.is_secret_config(key) {
            // Read as plain text it would show in plans and rest unsealed.
            return Err(Error::ConfigType {
                stack: self.name().to_owned(),
                key: key.to_owned(),
                expected: short_type_name(std::any::type_name::<T>()),
                message: "the value is secret: read it with `secret_config`".into(),
            });
        }
        self.parse_text(key, text)
    }

    fn parse_text<T: DeserializeOwned>(&self, key: &str, text: &str) -> crate::Result<T> {
        let as_string = serde_json::Value::String(text.to_owned());
        serde_json::from_value::<T>(as_string).or_else(|first| {
            // Text that is JSON (a number, a list) is judged as that; the
            // reason then names what it holds (`integer 300`).
            let json = serde_json::from_str::<serde_json::Value>(text).ok();
            let result = match json {
                Some(json) if !json.is_string() => serde_json::from_value::<T>(json),
                _ => Err(first),
            };
            result.map_err(|e| Error::ConfigType {
                stack: self.name().to_owned(),
                key: key.to_owned(),
                expected: short_type_name(std::any::type_name::<T>()),
                message: e.to_string(),
            })
        })
    }
}

/// A type's name without its module paths: `Vec<u16>`, not
/// `alloc::vec::Vec<u16>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name("alloc::vec::Vec<u16>"), "Vec<u16>");
        assert_eq!(
            short_type_name("core::option::Option<alloc::string::String>"),
            "Option<String>"
        );
        assert_eq!(short_type_name("(u8, my::Size)"), "(u8, Size)");
    }
}
