//! The `generic` pack: rules over any resource's inputs, whatever its type
//! — naming, required tags, and secrets written into plain (non-`Secret`)
//! inputs, found by pattern.

use std::sync::LazyLock;

use super::controls::{GDPR_32_1_B, HIPAA_ACCESS, SOC2_CC6_1, SOC2_CC8_1};
use super::rule::{Pack, Rule};
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
        // One look at each top-level field (keys told apart by length
        // first), not a search of the map per name.
        let Some(fields) = r.inputs.as_map() else {
            return;
        };
        let (mut tags, mut labels) = (None, None);
        for (k, v) in fields.iter() {
            match (k.len(), v) {
                (4, Value::Map(m)) if k == "tags" => tags = Some(m),
                (6, Value::Map(m)) if k == "labels" => labels = Some(m),
                _ => {}
            }
        }
        for (field, found) in [("tags", tags), ("labels", labels)] {
            if let Some(tags) = found {
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
    .rule(Rule::strings(AWS_KEY, |s, out| {
        if let Some(k) = find_aws_key(s.value) {
            s.flag(out, format!("holds an AWS access key id ({}…)", &k[..8]));
        }
    }))
    .rule(Rule::strings(PRIVATE_KEY, |s, out| {
        if private_key(s.value) {
            s.flag(out, "holds a private key in plain text");
        }
    }))
    .rule(Rule::strings(PASSWORD_FIELD, |s, out| {
        if let Some(k) = s.key {
            if !s.value.is_empty() && secret_name(k) {
                s.flag(out, format!("{k:?} holds a plain string, not a Secret"));
            }
        }
    }))
    .rule(Rule::strings(URL_CREDENTIALS, |s, out| {
        if url_password(s.value) {
            s.flag(out, "holds a URL with a user and password");
        }
    }))
}

fn non_empty(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// A PEM private key's armour: `-----BEGIN` and `PRIVATE KEY-----`.
fn private_key(s: &str) -> bool {
    // The searcher for the first, made once (building one per string
    // costs more than searching a short one).
    static BEGIN: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("-----BEGIN"));
    s.len() >= "-----BEGIN".len()
        && BEGIN.find(s.as_bytes()).is_some()
        && s.contains("PRIVATE KEY-----")
}

/// `AKIA`/`ASIA` and 16 uppercase letters or digits, on word bounds.
fn find_aws_key(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    // Every `IA`, in order: an `I` followed by an `A`.
    for pos in memchr::memchr_iter(b'I', b) {
        if b.get(pos + 1) != Some(&b'A') || pos < 2 || pos + 18 > b.len() {
            continue;
        }
        let start = pos - 2;
        // Bytes, not a slice of `s`: the two before may be inside a
        // character of several bytes.
        let prefix = &b[start..pos + 2];
        if prefix != b"AKIA" && prefix != b"ASIA" {
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
    static SCHEME: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("://"));
    let Some(i) = SCHEME.find(s.as_bytes()) else {
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
        // An `IA` right after a character of several bytes.
        assert_eq!(
            find_aws_key("€IA AKIAIOSFODNN7EXAMPLE"),
            Some("AKIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(find_aws_key("x€IAIOSFODNN7EXAMPLE"), None);
    }

    #[test]
    fn private_keys_by_their_armour() {
        assert!(private_key("-----BEGIN RSA PRIVATE KEY-----\nMIIE..."));
        assert!(private_key("x -----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(!private_key("-----BEGIN CERTIFICATE-----"));
        assert!(!private_key("PRIVATE KEY-----"));
        assert!(!private_key("-----BEGI"));
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
    fn a_hit_is_flagged_at_its_path_through_maps_and_lists() {
        use crate::policy::rule::{Check, Findings, ResourceView, StringCheck};
        let inputs = Value::from_json(serde_json::json!({
            "env": [{"name": "A", "value": "x"}, {"name": "B", "value": "key AKIAIOSFODNN7EXAMPLE"}],
            "db": {"password": "hunter2", "user": "app"},
            "vault": {"$secret": {"token": "s3cr3t AKIAIOSFODNN7EXAMPLE"}},
        }));
        let view = ResourceView {
            name: "web",
            type_name: "fake:t:T",
            inputs: &inputs,
            location: None,
        };
        let pack = generic_pack(&[]);
        let checks: Vec<(&str, &StringCheck)> = pack
            .rules
            .iter()
            .filter_map(|r| match &r.check {
                Check::Strings(f) => Some((r.info.id, &**f)),
                _ => None,
            })
            .collect();
        let ids: Vec<&str> = checks.iter().map(|c| c.0).collect();
        assert_eq!(
            ids,
            ["DAF-GEN-003", "DAF-GEN-004", "DAF-GEN-005", "DAF-GEN-006"]
        );
        let fns: Vec<&StringCheck> = checks.iter().map(|c| c.1).collect();
        let mut found: Vec<Findings> = fns.iter().map(|_| Findings::default()).collect();
        // One walk feeds every rule; each collects its own hits, at their
        // paths; nothing inside the secret is met.
        crate::policy::walk::strings(&view, &fns, &mut found);
        let fields: Vec<Vec<&str>> = found
            .iter()
            .map(|f| f.found.iter().map(|(_, f, _)| f.as_str()).collect())
            .collect();
        assert_eq!(
            fields,
            [vec!["env[1].value"], vec![], vec!["db.password"], vec![]]
        );
    }
}
