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
            (find_bytes(s.as_bytes(), b"-----BEGIN").is_some() && s.contains("PRIVATE KEY-----"))
                .then(|| "holds a private key in plain text".to_owned())
        })
    }))
    .rule(Rule::any(PASSWORD_FIELD, |r, out| {
        password_fields(r.inputs, out)
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

/// The path to a value inside a resource's inputs, kept on the walk's
/// stack (each step points at its parent): a map key or a list index. It
/// is rendered (`ingress[0].cidr_blocks`) only for a value that is
/// flagged, so a walk over clean inputs allocates nothing.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The path as a field path: `a.b[2].c`.
    fn render(&self) -> String {
        use std::fmt::Write as _;
        match self {
            Path::Root => String::new(),
            Path::Key(parent, k) => {
                let mut path = parent.render();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                path
            }
            Path::Index(parent, i) => {
                let mut path = parent.render();
                let _ = write!(path, "[{i}]");
                path
            }
        }
    }
}

/// Calls `test` on every plain string inside the inputs (secrets are
/// skipped: they are where such values belong) and flags each hit at its
/// field path.
fn scan(r: &ResourceView<'_>, out: &mut Findings, test: &dyn Fn(&str) -> Option<String>) {
    fn walk(v: &Value, path: &Path<'_>, out: &mut Findings, test: &dyn Fn(&str) -> Option<String>) {
        match v {
            Value::String(s) => {
                if let Some(message) = test(s) {
                    out.flag(path.render(), message);
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &Path::Index(path, i), out, test);
                }
            }
            Value::Map(m) => {
                for (k, item) in m {
                    walk(item, &Path::Key(path, k), out, test);
                }
            }
            _ => {}
        }
    }
    walk(r.inputs, &Path::Root, out, test);
}

/// Where `needle` first occurs in `hay`.
fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// `AKIA`/`ASIA` and 16 uppercase letters or digits, on word bounds.
fn find_aws_key(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let mut from = 0;
    while let Some(pos) = find_bytes(&b[from..], b"IA").map(|p| p + from) {
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
    let Some(i) = find_bytes(s.as_bytes(), b"://") else {
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

/// Whether `key` names a secret: holds one of [`PASSWORD_WORDS`], in any
/// case, `-` standing for `_`.
fn secret_name(key: &str) -> bool {
    let k = key.as_bytes();
    let same = |a: u8, b: u8| {
        let a = if a == b'-' {
            b'_'
        } else {
            a.to_ascii_lowercase()
        };
        a == b
    };
    PASSWORD_WORDS.iter().any(|w| {
        let w = w.as_bytes();
        k.len() >= w.len()
            && k.windows(w.len())
                .any(|window| window.iter().zip(w).all(|(&a, &b)| same(a, b)))
    })
}

/// Flags map entries whose key names a secret and whose value is a plain,
/// non-empty string (a `Secret` or a reference is fine).
fn password_fields(inputs: &Value, out: &mut Findings) {
    fn walk(v: &Value, path: &Path<'_>, out: &mut Findings) {
        match v {
            Value::Map(m) => {
                for (k, item) in m {
                    let here = Path::Key(path, k);
                    match item {
                        Value::String(s) if !s.is_empty() && secret_name(k) => out.flag(
                            here.render(),
                            format!("{k:?} holds a plain string, not a Secret"),
                        ),
                        _ => walk(item, &here, out),
                    }
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &Path::Index(path, i), out);
                }
            }
            _ => {}
        }
    }
    walk(inputs, &Path::Root, out);
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
        assert!(secret_name("Private-Key"));
        assert!(secret_name("x_API-KEY"));
        assert!(!secret_name("cidr"));
        assert!(!secret_name("tok"));
    }

    #[test]
    fn bytes_are_found_at_their_first_place_only_when_whole() {
        assert_eq!(find_bytes(b"a://b://", b"://"), Some(1));
        assert_eq!(find_bytes(b"://", b"://"), Some(0));
        assert_eq!(find_bytes(b":/", b"://"), None);
        assert_eq!(find_bytes(b"", b"x"), None);
        assert_eq!(find_bytes(b"abc", b""), None);
    }

    #[test]
    fn a_hit_is_flagged_at_its_path_through_maps_and_lists() {
        let inputs = Value::from_json(serde_json::json!({
            "env": [{"name": "A", "value": "x"}, {"name": "B", "value": "key AKIAIOSFODNN7EXAMPLE"}],
            "db": {"password": "hunter2", "user": "app"},
        }));
        let view = ResourceView {
            name: "web",
            type_name: "fake:t:T",
            inputs: &inputs,
            location: None,
        };
        let mut out = Findings::default();
        scan(&view, &mut out, &|s| find_aws_key(s).map(str::to_owned));
        password_fields(&inputs, &mut out);
        let fields: Vec<&str> = out.found.iter().map(|(_, f, _)| f.as_str()).collect();
        assert_eq!(fields, ["env[1].value", "db.password"]);
    }
}
