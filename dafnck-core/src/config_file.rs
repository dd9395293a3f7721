//! The stack's config file, `dafnck.<stack>.json`: a flat JSON object of
//! values, where a secret value is kept sealed with the stack's key
//! (`{"$secret": {"$sealed": "v1…"}}`, as in the state) under the header
//! `"$encryption"` (the cipher, the passphrase's salt and a check value).
//! `config set KEY --secret` writes one; every command opens them with
//! the key from `DAFNCK_PASSPHRASE` (or the program's).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::secret::Secret;
use crate::state::encryption::{Encryption, KeyError, KeySource, Keyring, SEALED_KEY};
use crate::value::Value;

const HEADER_KEY: &str = "$encryption";
const SECRET_KEY: &str = "$secret";

/// The values of a config file.
#[derive(Debug, Default)]
pub(crate) struct ConfigFile {
    /// Plain values: strings as they are, other JSON values as JSON text.
    pub plain: BTreeMap<String, String>,
    /// Secret values, opened.
    pub secrets: BTreeMap<String, Secret<String>>,
}

fn key_error(e: KeyError) -> String {
    match e {
        KeyError::Wrong(what) => format!("the {what} does not open its secret values"),
        KeyError::Unusable(m) => m,
    }
}

fn object(text: Option<&str>) -> Result<Map<String, Json>, String> {
    match text {
        None => Ok(Map::new()),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| format!("expected a JSON object: {e}"))
        }
    }
}

fn header(map: &Map<String, Json>) -> Result<Option<Encryption>, String> {
    map.get(HEADER_KEY)
        .map(|h| {
            serde_json::from_value(h.clone())
                .map_err(|e| format!("{HEADER_KEY} is not an encryption header: {e}"))
        })
        .transpose()
}

/// The sealed text of a `{"$secret": {"$sealed": ..}}` entry.
fn sealed(v: &Json) -> Option<&str> {
    v.as_object()
        .filter(|m| m.len() == 1)?
        .get(SECRET_KEY)?
        .as_object()
        .filter(|m| m.len() == 1)?
        .get(SEALED_KEY)?
        .as_str()
}

/// Reads a config file's text, opening its secret values with `source`.
///
/// # Errors
/// Text naming the problem: not a JSON object, a secret value and no key
/// (or the wrong one), a damaged sealed value.
pub(crate) fn read(text: &str, source: &KeySource) -> Result<ConfigFile, String> {
    let map = object(Some(text))?;
    let header = header(&map)?;
    let keyring = Keyring::new(source.clone());
    let mut file = ConfigFile::default();
    for (k, v) in map {
        if k == HEADER_KEY {
            continue;
        }
        let Some(text) = sealed(&v) else {
            let text = match v {
                Json::String(s) => s,
                other => other.to_string(),
            };
            file.plain.insert(k, text);
            continue;
        };
        let header = header
            .as_ref()
            .ok_or_else(|| format!("secret value {k:?} is sealed but {HEADER_KEY} is missing"))?;
        let cipher = keyring
            .cipher_for(header)
            .map_err(key_error)?
            .ok_or_else(|| {
                format!("holds the secret value {k:?}: set DAFNCK_PASSPHRASE to open it")
            })?;
        let opened = cipher
            .open_value(text)
            .map_err(|e| format!("secret value {k:?} does not open: {e}"))?;
        let Value::String(s) = opened else {
            return Err(format!("secret value {k:?} is not a string"));
        };
        file.secrets.insert(k, Secret::new(s));
    }
    Ok(file)
}

/// The config file's text with `key` set to `value`, sealed with `source`
/// when `secret` (the file's header is made on its first secret).
///
/// # Errors
/// Text naming the problem: the old text is not a JSON object; a secret
/// and no key, or a key other than the one the file's secrets use.
pub(crate) fn set(
    text: Option<&str>,
    key: &str,
    value: &str,
    secret: bool,
    source: &KeySource,
) -> Result<String, String> {
    if key.is_empty() || key == HEADER_KEY {
        return Err(format!("{key:?} cannot be a config key"));
    }
    let mut map = object(text)?;
    let entry = if secret {
        let keyring = Keyring::new(source.clone());
        let header = match header(&map)? {
            Some(h) => h,
            None => keyring
                .new_header()
                .map_err(key_error)?
                .ok_or_else(|| "a secret value needs a key: set DAFNCK_PASSPHRASE".to_owned())?,
        };
        let cipher = keyring
            .cipher_for(&header)
            .map_err(key_error)?
            .ok_or_else(|| "a secret value needs a key: set DAFNCK_PASSPHRASE".to_owned())?;
        let sealed = cipher.seal_value(&Value::from(value));
        map.insert(
            HEADER_KEY.to_owned(),
            serde_json::to_value(&header).map_err(|e| e.to_string())?,
        );
        let mut marker = Map::new();
        marker.insert(SECRET_KEY.to_owned(), sealed.to_json());
        Json::Object(marker)
    } else {
        Json::String(value.to_owned())
    };
    map.insert(key.to_owned(), entry);
    let mut out = serde_json::to_string_pretty(&map).map_err(|e| e.to_string())?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase(p: &str) -> KeySource {
        KeySource::Passphrase(Secret::new(p.to_owned()))
    }

    #[test]
    fn a_secret_value_is_sealed_in_the_file_and_opens_with_the_passphrase() {
        let key = passphrase("config passphrase");
        let text = set(
            Some(r#"{"size": "large"}"#),
            "db_password",
            "hunter2",
            true,
            &key,
        )
        .unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("$sealed") && text.contains("$encryption"),
            "{text}"
        );
        let text = set(Some(&text), "port", "8080", false, &KeySource::None).unwrap();
        let file = read(&text, &key).unwrap();
        assert_eq!(file.plain["size"], "large");
        assert_eq!(file.plain["port"], "8080");
        assert_eq!(file.secrets["db_password"].expose(), "hunter2");
        assert!(!file.plain.contains_key("db_password"));
        // A second secret reuses the header, so both open with one key.
        let text = set(Some(&text), "token", "t0k", true, &key).unwrap();
        let file = read(&text, &key).unwrap();
        assert_eq!(file.secrets["token"].expose(), "t0k");
        assert_eq!(file.secrets["db_password"].expose(), "hunter2");
    }

    #[test]
    fn without_the_key_or_with_another_the_error_says_so() {
        let key = passphrase("right");
        let text = set(None, "db_password", "hunter2", true, &key).unwrap();
        assert_eq!(
            read(&text, &KeySource::None).unwrap_err(),
            "holds the secret value \"db_password\": set DAFNCK_PASSPHRASE to open it"
        );
        let wrong = read(&text, &passphrase("wrong")).unwrap_err();
        assert!(wrong.contains("does not open"), "{wrong}");
        assert_eq!(
            set(None, "x", "v", true, &KeySource::None).unwrap_err(),
            "a secret value needs a key: set DAFNCK_PASSPHRASE"
        );
        let wrong = set(Some(&text), "x", "v", true, &passphrase("wrong")).unwrap_err();
        assert!(wrong.contains("does not open"), "{wrong}");
        assert!(set(Some("[1]"), "x", "v", false, &key)
            .unwrap_err()
            .starts_with("expected a JSON object"));
    }
}
