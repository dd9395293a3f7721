//! The `generic` pack: rules over any resource's inputs, whatever its type
//! — naming, required tags, and secrets written into plain (non-`Secret`)
//! inputs, found by pattern.

use super::controls::{GDPR_32_1_B, HIPAA_ACCESS, SOC2_CC6_1, SOC2_CC8_1};
use super::rule::{Findings, Pack, ResourceView, Rule};
use super::{Control, Standard};
use crate::value::Value;

/// The pack's name.
pub(crate) const PACK: &str = "generic";

const PCI_8_3: Control = Control::new(
    Standard::PciDss,
    "8.3.2",
    "Credentials protected in storage and transit",
);
const PCI_8_6: Control = Control::new(
    Standard::PciDss,
    "8.6.2",
    "No credentials hard-coded in scripts or configuration",
);
const CIS_1_4: Control = Control::new(Standard::CisAws, "1.4", "No root user access keys");

const SECRETS: &[Control] = &[SOC2_CC6_1, HIPAA_ACCESS, GDPR_32_1_B, PCI_8_3, PCI_8_6];

crate::policy_rule!(
    NAMING,
    "DAF-GEN-001",
    Low,
    "naming",
    "Resource names (each part of a component's path) are lowercase letters, digits, '-', '_' or '.', at most 63 characters",
    "Rename the resource (add its old name with Options::aliases so it is not replaced).",
    &[SOC2_CC8_1]
);

crate::policy_rule!(
    REQUIRED_TAGS,
    "DAF-GEN-002",
    Medium,
    "tagging",
    "Resources that take tags or labels carry the required ones",
    "Add the missing tags (the stack configures them with policy.required_tags).",
    &[SOC2_CC8_1]
);

crate::policy_rule!(
    AWS_KEY,
    "DAF-GEN-003",
    Critical,
    "secrets",
    "No AWS access key id in a plain input",
    "Remove the key and rotate it; give the workload a role instead, or pass it as a Secret.",
    &[SOC2_CC6_1, HIPAA_ACCESS, GDPR_32_1_B, PCI_8_6, CIS_1_4]
);

crate::policy_rule!(
    PRIVATE_KEY,
    "DAF-GEN-004",
    Critical,
    "secrets",
    "No private key in a plain input",
    "Pass the key as a Secret (encrypted in state, redacted in plans), and rotate it.",
    SECRETS
);

crate::policy_rule!(PASSWORD_FIELD, "DAF-GEN-005", High, "secrets", "Fields named like passwords, tokens or secrets hold Secret values", "Declare the field as Secret<String> (or pass a Secret) so it is encrypted in state and redacted.", SECRETS);

crate::policy_rule!(
    URL_CREDENTIALS,
    "DAF-GEN-006",
    High,
    "secrets",
    "No credentials inside URLs in plain inputs",
    "Take the user and password out of the URL and pass them as Secrets.",
    SECRETS
);

/// The generic pack, requiring the tags `required_tags` (none: the
/// required-tags rule passes everything).
pub fn generic_pack(required_tags: &[String]) -> Pack {
    let required: Vec<String> = required_tags.to_vec();
    Pack::new(
        PACK,
        "Any resource: naming, required tags, secrets in plain inputs",
    )
    .rule(Rule::any(NAMING, |r, out| {
        // A component's child (`app/web`) is judged name by name.
        let ok = r.name.split('/').all(|segment| {
            !segment.is_empty()
                && segment.len() <= 63
                && segment.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
                })
        });
        if !ok {
            out.flag(
                "",
                format!("name {:?} does not follow the convention", r.name),
            );
        }
    }))
    .rule(Rule::any(REQUIRED_TAGS, move |r, out| {
        if required.is_empty() {
            return;
        }
        for field in ["tags", "labels"] {
            if let Some(Value::Map(tags)) = r.inputs.get(field) {
                let missing: Vec<&str> = required
                    .iter()
                    .filter(|t| !tags.get(t.as_str()).is_some_and(non_empty))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    out.flag(
                        field,
                        format!("missing required {field}: {}", missing.join(", ")),
                    );
                }
            }
        }
    }))
    .rule(Rule::any(AWS_KEY, |r, out| {
        scan(r, out, &|s| {
            find_aws_key(s).map(|k| format!("holds an AWS access key id ({}…)", &k[..8]))
        })
    }))
    .rule(Rule::any(PRIVATE_KEY, |r, out| {
        scan(r, out, &|s| {
            (s.contains("-----BEGIN") && s.contains("PRIVATE KEY-----"))
                .then(|| "holds a private key in plain text".to_owned())
        })
    }))
    .rule(Rule::any(PASSWORD_FIELD, |r, out| {
        let mut path = String::new();
        password_fields(r.inputs, &mut path, out);
    }))
    .rule(Rule::any(URL_CREDENTIALS, |r, out| {
        scan(r, out, &|s| {
            url_password(s).then(|| "holds a URL with a user and password".to_owned())
        })
    }))
}

fn non_empty(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// Calls `test` on every plain string inside the inputs (secrets are
/// skipped: they are where such values belong) and flags each hit at its
/// field path.
fn scan(r: &ResourceView<'_>, out: &mut Findings, test: &dyn Fn(&str) -> Option<String>) {
    fn walk(
        v: &Value,
        path: &mut String,
        out: &mut Findings,
        test: &dyn Fn(&str) -> Option<String>,
    ) {
        match v {
            Value::String(s) => {
                if let Some(message) = test(s) {
                    out.flag(path.clone(), message);
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, out, test);
                    path.truncate(len);
                }
            }
            Value::Map(m) => {
                for (k, item) in m {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    walk(item, path, out, test);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    walk(r.inputs, &mut String::new(), out, test);
}

/// `AKIA`/`ASIA` and 16 uppercase letters or digits, on word bounds.
fn find_aws_key(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = s[from..].find("IA").map(|p| p + from) {
        from = pos + 2;
        if pos < 2 || pos + 18 > b.len() {
            continue;
        }
        let start = pos - 2;
        let prefix = &s[start..pos + 2];
        if prefix != "AKIA" && prefix != "ASIA" {
            continue;
        }
        let body = &b[pos + 2..pos + 18];
        let bounded_left = start == 0 || !b[start - 1].is_ascii_alphanumeric();
        let bounded_right = pos + 18 == b.len() || !b[pos + 18].is_ascii_alphanumeric();
        if bounded_left
            && bounded_right
            && body
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Some(&s[start..pos + 18]);
        }
    }
    None
}

/// `scheme://user:password@host`.
fn url_password(s: &str) -> bool {
    let Some(i) = s.find("://") else {
        return false;
    };
    let rest = &s[i + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rfind('@') {
        Some(at) => authority[..at]
            .split_once(':')
            .is_some_and(|(_, p)| !p.is_empty()),
        None => false,
    }
}

const PASSWORD_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
];

fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    PASSWORD_WORDS.iter().any(|w| k.contains(w))
}

/// Flags map entries whose key names a secret and whose value is a plain,
/// non-empty string (a `Secret` or a reference is fine).
fn password_fields(v: &Value, path: &mut String, out: &mut Findings) {
    match v {
        Value::Map(m) => {
            for (k, item) in m {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match item {
                    Value::String(s) if !s.is_empty() && secret_name(k) => out.flag(
                        path.clone(),
                        format!("{k:?} holds a plain string, not a Secret"),
                    ),
                    _ => password_fields(item, path, out),
                }
                path.truncate(len);
            }
        }
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                password_fields(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_keys_are_found_on_word_bounds_only() {
        assert_eq!(
            find_aws_key("key=AKIAIOSFODNN7EXAMPLE"),
            Some("AKIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(
            find_aws_key("ASIAIOSFODNN7EXAMPLE"),
            Some("ASIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(find_aws_key("XAKIAIOSFODNN7EXAMPLE"), None);
        assert_eq!(find_aws_key("AKIAIOSFODNN7EXAMPLEX"), None);
        assert_eq!(find_aws_key("AKIAiosfodnn7example"), None);
        assert_eq!(find_aws_key("ASIA"), None);
    }

    #[test]
    fn url_credentials() {
        assert!(url_password("postgres://app:hunter2@db:5432/x"));
        assert!(!url_password("postgres://app@db:5432/x"));
        assert!(!url_password("https://example.com/a:b@c"));
        assert!(!url_password("no url"));
    }

    #[test]
    fn secret_names() {
        assert!(secret_name("DB_PASSWORD"));
        assert!(secret_name("github-token"));
        assert!(!secret_name("cidr"));
    }
}
