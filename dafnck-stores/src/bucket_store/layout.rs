//! The `SCHEME://bucket/prefix` URL (`s3://`, `gs://`; `azblob://` with an
//! account before the container) and where a stack's objects live under
//! it.

use std::time::Duration;

use dafnck_core::state::StateError;

/// How long one attempt at a request may take when the URL sets no
/// `timeout`; the SDK tries a request up to three times.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A parsed store URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoreUrl {
    /// The URL's scheme (`s3`, `gs`).
    pub(crate) scheme: &'static str,
    /// The store's name in errors (`s3`, `gcs`).
    pub(crate) backend: &'static str,
    /// The storage account (`azblob://ACCOUNT/...`); `None` for S3 and GCS.
    pub(crate) account: Option<String>,
    /// The bucket (Azure: the container).
    pub(crate) bucket: String,
    /// The key prefix, without a trailing `/`; empty for the whole bucket.
    pub(crate) prefix: String,
    /// How long one attempt at a request may take.
    pub(crate) timeout: Duration,
}

impl StoreUrl {
    /// Parses `url`, of `scheme` (`s3`), for the store `backend`
    /// (named in errors); `extra` lists, for the message about an unknown
    /// parameter, where the store takes the rest of its settings from.
    #[cfg_attr(not(any(feature = "s3", feature = "gcs")), allow(dead_code))]
    pub(crate) fn parse(
        url: &str,
        scheme: &'static str,
        backend: &'static str,
        extra: &str,
    ) -> Result<StoreUrl, StateError> {
        StoreUrl::parse_path(url, scheme, backend, extra, false)
    }

    /// Parses `url` of the form `SCHEME://ACCOUNT/CONTAINER/PREFIX` (Azure
    /// Blob Storage), as [`parse`](StoreUrl::parse) does the rest.
    #[cfg_attr(not(feature = "azblob"), allow(dead_code))]
    pub(crate) fn parse_in_account(
        url: &str,
        scheme: &'static str,
        backend: &'static str,
        extra: &str,
    ) -> Result<StoreUrl, StateError> {
        StoreUrl::parse_path(url, scheme, backend, extra, true)
    }

    fn parse_path(
        url: &str,
        scheme: &'static str,
        backend: &'static str,
        extra: &str,
        in_account: bool,
    ) -> Result<StoreUrl, StateError> {
        let bad = |message: String| StateError::Backend {
            backend: backend.into(),
            message: format!("the URL {url:?}: {message}"),
        };
        let shape = if in_account {
            format!("{scheme}://ACCOUNT/CONTAINER/PREFIX")
        } else {
            format!("{scheme}://BUCKET/PREFIX")
        };
        let Some(rest) = url.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) else {
            return Err(bad(format!("write {shape}")));
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let (account, path) = if in_account {
            let (account, path) = path.split_once('/').unwrap_or((path, ""));
            if !valid_account(account) {
                return Err(bad(format!(
                    "{account:?} is not a storage account name (3 to 24 characters: a-z and 0-9); write {shape}"
                )));
            }
            (Some(account.to_owned()), path)
        } else {
            (None, path)
        };
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if in_account && !valid_container(bucket) {
            return Err(bad(format!(
                "{bucket:?} is not a container name (3 to 63 characters: a-z, 0-9 and single `-`s between them); write {shape}"
            )));
        }
        if !in_account && !valid_bucket(bucket) {
            return Err(bad(format!(
                "{bucket:?} is not a bucket name (3 to 63 characters: a-z, 0-9, `.` and `-`); write {shape}"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty()
            && prefix
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(bad(format!(
                "the prefix {prefix:?} has an empty, `.` or `..` part"
            )));
        }
        let mut timeout = DEFAULT_TIMEOUT;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("timeout", secs)) => {
                    let secs: f64 = secs
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| {
                            bad(format!("timeout={secs:?} is not a number of seconds"))
                        })?;
                    timeout = Duration::from_secs_f64(secs);
                }
                _ if pair.is_empty() => {}
                _ => {
                    return Err(bad(format!(
                        "unknown parameter {pair:?} (known: timeout=SECONDS; {extra})"
                    )))
                }
            }
        }
        Ok(StoreUrl {
            scheme,
            backend,
            account,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    /// `s3://bucket/prefix` (`azblob://account/container/prefix`), for
    /// messages.
    pub(crate) fn describe(&self) -> String {
        let account = self
            .account
            .as_ref()
            .map_or(String::new(), |a| format!("{a}/"));
        if self.prefix.is_empty() {
            format!("{}://{account}{}", self.scheme, self.bucket)
        } else {
            format!("{}://{account}{}/{}", self.scheme, self.bucket, self.prefix)
        }
    }

    /// The keys of `stack`'s objects.
    pub(crate) fn stack(&self, stack: &str) -> Result<Keys, StateError> {
        if stack.is_empty() {
            return Err(StateError::Backend {
                backend: self.backend.into(),
                message: "a stack name is empty".into(),
            });
        }
        let root = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        Ok(Keys {
            dir: format!("{root}{}/", encode(stack)),
        })
    }
}

/// Bucket names as S3 allows them (the general-purpose bucket rules).
fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Storage account names as Azure allows them.
fn valid_account(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Container names as Azure allows them: no dots, no `--`, no `-` at
/// either end.
fn valid_container(name: &str) -> bool {
    valid_bucket(name) && !name.contains('.') && !name.contains("--")
}

/// A name as one key segment: letters, digits, `-`, `_` and `.` as they
/// are, every other byte as `%XX`, so no name holds a `/` and two names
/// never share a key; a name of dots only is encoded whole, so no segment
/// is `.` or `..`.
pub(crate) fn encode(name: &str) -> String {
    let dots_only = name.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && !dots_only) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where one stack's objects live: `PREFIX/STACK/...`.
pub(crate) struct Keys {
    dir: String,
}

/// Width of the zero-padded numbers in keys: every `u64` fits, so a
/// listing (in UTF-8 byte order) returns them in numeric order.
const WIDTH: usize = 20;

impl Keys {
    /// The compacted snapshot.
    pub(crate) fn snapshot(&self) -> String {
        format!("{}snapshot.json", self.dir)
    }

    /// The lock.
    pub(crate) fn lock(&self) -> String {
        format!("{}lock.json", self.dir)
    }

    /// The folder of journal batches.
    pub(crate) fn journal_dir(&self) -> String {
        format!("{}journal/", self.dir)
    }

    /// The journal batch whose first record is `seq`.
    pub(crate) fn batch(&self, seq: u64) -> String {
        format!("{}{seq:0WIDTH$}.jsonl", self.journal_dir())
    }

    /// The first record number of a batch's key, or `None` for a key that
    /// is not a batch.
    pub(crate) fn batch_seq(&self, key: &str) -> Option<u64> {
        let name = key.strip_prefix(&self.journal_dir())?;
        let digits = name.strip_suffix(".jsonl")?;
        (digits.len() == WIDTH && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    }

    /// The folder of versions.
    pub(crate) fn versions_dir(&self) -> String {
        format!("{}versions/", self.dir)
    }

    /// Version `v`'s entry (written last: a version exists once it does).
    pub(crate) fn version_info(&self, v: u64) -> String {
        format!("{}{v:0WIDTH$}/info.json", self.versions_dir())
    }

    /// Version `v`'s state.
    pub(crate) fn version_state(&self, v: u64) -> String {
        format!("{}{v:0WIDTH$}/state.json", self.versions_dir())
    }

    /// The version number of an entry's key, or `None` for another key.
    pub(crate) fn info_version(&self, key: &str) -> Option<u64> {
        let name = key.strip_prefix(&self.versions_dir())?;
        let digits = name.strip_suffix("/info.json")?;
        (digits.len() == WIDTH && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    }

    /// The folder of commands for `resource`'s rollout.
    pub(crate) fn controls_dir(&self, resource: &str) -> String {
        format!("{}controls/{}/", self.dir, encode(resource))
    }

    /// A new command for `resource`, sent at `at`: keys sort by `at`, then
    /// by when they were written.
    pub(crate) fn control(&self, resource: &str, at: u64, written: u128, id: &str) -> String {
        format!(
            "{}{at:0WIDTH$}-{written:0WIDTH$}-{id}.json",
            self.controls_dir(resource)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<StoreUrl, StateError> {
        StoreUrl::parse(url, "s3", "s3", "the rest comes from the environment")
    }

    #[test]
    fn parses_bucket_prefix_and_timeout() {
        let u = parse("s3://team-state/infra/prod/?timeout=2.5").unwrap();
        assert_eq!(u.bucket, "team-state");
        assert_eq!(u.prefix, "infra/prod");
        assert_eq!(u.timeout, Duration::from_millis(2500));
        assert_eq!(u.describe(), "s3://team-state/infra/prod");
        let u = parse("s3://team-state").unwrap();
        assert_eq!((u.prefix.as_str(), u.timeout), ("", DEFAULT_TIMEOUT));
        assert_eq!(u.describe(), "s3://team-state");
        assert_eq!(u.stack("dev").unwrap().snapshot(), "dev/snapshot.json");
    }

    #[test]
    fn refuses_bad_urls_naming_them() {
        for (url, why) in [
            ("s3://", "is not a bucket name"),
            ("s3://Bad_Bucket/x", "is not a bucket name"),
            ("s3://b/x", "is not a bucket name"),
            ("s3://bucket/a//b", "empty, `.` or `..` part"),
            ("s3://bucket/a/../b", "empty, `.` or `..` part"),
            ("s3://bucket/a?timeout=soon", "not a number of seconds"),
            ("s3://bucket/a?region=eu-west-1", "unknown parameter"),
        ] {
            let e = parse(url).expect_err(url).to_string();
            assert!(e.contains(why) && e.contains(url), "{url}: {e}");
        }
    }

    #[test]
    fn azure_urls_name_an_account_and_a_container() {
        let parse =
            |url| StoreUrl::parse_in_account(url, "azblob", "azblob", "keys from the environment");
        let u = parse("azblob://devstoreaccount1/state/infra/prod?timeout=3").unwrap();
        assert_eq!(u.account.as_deref(), Some("devstoreaccount1"));
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("state", "infra/prod")
        );
        assert_eq!(u.describe(), "azblob://devstoreaccount1/state/infra/prod");
        assert_eq!(
            parse("azblob://acct/state").unwrap().describe(),
            "azblob://acct/state"
        );
        for (url, why) in [
            ("azblob://", "is not a storage account name"),
            ("azblob://Account/state", "is not a storage account name"),
            ("azblob://acct", "is not a container name"),
            ("azblob://acct/my.state", "is not a container name"),
            ("azblob://acct/my--state", "is not a container name"),
            ("gs://acct/state", "write azblob://ACCOUNT/CONTAINER/PREFIX"),
        ] {
            let e = parse(url).expect_err(url).to_string();
            assert!(e.contains(why) && e.contains(url), "{url}: {e}");
        }
    }

    #[test]
    fn stack_names_are_one_segment_and_distinct() {
        let u = parse("s3://bucket/p").unwrap();
        let keys = u.stack("team/dev").unwrap();
        assert_eq!(keys.lock(), "p/team%2Fdev/lock.json");
        assert_eq!(encode(".."), "%2E%2E");
        assert_eq!(encode("dev.eu-1_x"), "dev.eu-1_x");
        assert_ne!(encode("a%2Fb"), encode("a/b"));
        assert!(u.stack("").is_err());
    }

    #[test]
    fn numbered_keys_sort_numerically_and_parse_back() {
        let keys = parse("s3://bucket/p").unwrap().stack("dev").unwrap();
        let (nine, ten) = (keys.batch(9), keys.batch(10));
        assert!(nine < ten, "{nine} < {ten}");
        assert_eq!(keys.batch_seq(&ten), Some(10));
        assert_eq!(keys.batch_seq(&keys.snapshot()), None);
        assert_eq!(keys.batch_seq("p/dev/journal/12.jsonl"), None);
        assert_eq!(keys.batch(u64::MAX).len(), keys.batch(1).len());
        assert_eq!(keys.info_version(&keys.version_info(7)), Some(7));
        assert_eq!(keys.info_version(&keys.version_state(7)), None);
        assert!(keys.control("web", 2, 1, "a") < keys.control("web", 10, 0, "b"));
    }
}
