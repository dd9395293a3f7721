//! Choosing a [`StateStore`] by URL: a [`StoreBackend`] opens the URLs of
//! one scheme (`file://`, `postgres://`, ...), and [`StoreBackends`] holds
//! the backends a program registered and picks one by a URL's scheme.
//!
//! The core knows only `file://`; stores that need a database client or a
//! cloud SDK live in their own crates (`dafnck-stores`) and are registered
//! with the command line's `state_backend`.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::{FileStore, StateError, StateStore};

/// Opens stores for the URLs of one scheme.
///
/// ```
/// use std::sync::Arc;
/// use dafnck_core::state::{StateError, StateStore, StoreBackend, MemoryStore};
///
/// /// `memory://anything`: a fresh in-memory store.
/// struct Memory;
///
/// #[async_trait::async_trait]
/// impl StoreBackend for Memory {
///     fn scheme(&self) -> &str {
///         "memory"
///     }
///     async fn open(&self, _url: &str) -> Result<Arc<dyn StateStore>, StateError> {
///         Ok(Arc::new(MemoryStore::new()))
///     }
/// }
/// ```
#[async_trait]
pub trait StoreBackend: Send + Sync + 'static {
    /// The URL scheme it opens, without `://` (`postgres`).
    fn scheme(&self) -> &str;

    /// Opens (connects to, checks) the store `url` names. One store holds
    /// many stacks: the stack is given to each [`StateStore`] call.
    ///
    /// # Errors
    /// A URL it cannot use, or a store it cannot reach, as
    /// [`StateError::Backend`] naming the store (never a password).
    async fn open(&self, url: &str) -> Result<Arc<dyn StateStore>, StateError>;
}

/// `file://PATH`: the [`FileStore`] under `PATH`. Everything after
/// `file://` is the path, so `file:///srv/state` is absolute and
/// `file://.dafnck` is relative to the working directory.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileBackend;

#[async_trait]
impl StoreBackend for FileBackend {
    fn scheme(&self) -> &str {
        "file"
    }

    async fn open(&self, url: &str) -> Result<Arc<dyn StateStore>, StateError> {
        let path = url.strip_prefix("file://").unwrap_or_default();
        if path.is_empty() {
            return Err(StateError::Backend {
                backend: "file".into(),
                message: format!(
                    "{url:?} names no directory; write file://PATH (file:///abs/path or file://relative/path)"
                ),
            });
        }
        Ok(Arc::new(FileStore::new(PathBuf::from(path))))
    }
}

/// The backends a program knows, by scheme; `file` is always there.
#[derive(Clone)]
pub struct StoreBackends {
    backends: Vec<Arc<dyn StoreBackend>>,
}

impl Default for StoreBackends {
    fn default() -> Self {
        StoreBackends {
            backends: vec![Arc::new(FileBackend)],
        }
    }
}

impl std::fmt::Debug for StoreBackends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.schemes()).finish()
    }
}

impl StoreBackends {
    /// The built-in backends (`file`).
    pub fn new() -> Self {
        StoreBackends::default()
    }

    /// Adds a backend; it replaces one registered for the same scheme.
    pub fn insert(&mut self, backend: Arc<dyn StoreBackend>) {
        self.backends.retain(|b| b.scheme() != backend.scheme());
        self.backends.push(backend);
    }

    /// The schemes it opens, in registration order.
    pub fn schemes(&self) -> Vec<&str> {
        self.backends.iter().map(|b| b.scheme()).collect()
    }

    /// Opens the store `url` names with the backend of its scheme.
    ///
    /// # Errors
    /// [`StateError::Backend`] for a URL with no scheme or a scheme no
    /// backend opens (listing those it knows), or the backend's error.
    pub async fn open(&self, url: &str) -> Result<Arc<dyn StateStore>, StateError> {
        let known = self.schemes().join(", ");
        let Some((scheme, _)) = url.split_once("://") else {
            return Err(StateError::Backend {
                backend: "url".into(),
                message: format!(
                    "the state URL {:?} has no scheme; write SCHEME://..., with a scheme this program knows: {known}",
                    redact_url(url)
                ),
            });
        };
        let scheme = scheme.to_ascii_lowercase();
        // `postgresql://` is libpq's other spelling of `postgres://`.
        let wanted = if scheme == "postgresql" {
            "postgres"
        } else {
            scheme.as_str()
        };
        match self.backends.iter().find(|b| b.scheme() == wanted) {
            Some(backend) => backend.open(url).await,
            None => Err(StateError::Backend {
                backend: "url".into(),
                message: format!(
                    "no state store for {scheme}:// URLs in this program ({:?}); it knows: {known}{}",
                    redact_url(url),
                    match wanted {
                        "postgres" => " (PostgreSQL needs dafnck-stores with the `postgres` feature, registered with `.state_backend(dafnck_stores::postgres::backend())`)",
                        "s3" => " (S3 needs dafnck-stores with the `s3` feature, registered with `.state_backend(dafnck_stores::s3::backend())`)",
                        _ => "",
                    }
                ),
            }),
        }
    }
}

/// `url` with the password of its `user:password@` part replaced by `***`,
/// for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db:5432/infra?schema=x"),
            "postgres://bob:***@db:5432/infra?schema=x"
        );
        assert_eq!(
            redact_url("postgres://bob@db/infra"),
            "postgres://bob@db/infra"
        );
        assert_eq!(redact_url("file:///a@b:c/d"), "file:///a@b:c/d");
    }

    #[tokio::test]
    async fn opens_file_urls_and_names_known_schemes_for_others() {
        let dir = tempfile::tempdir().unwrap();
        let backends = StoreBackends::new();
        let url = format!("file://{}", dir.path().display());
        let store = backends.open(&url).await.unwrap();
        assert_eq!(store.describe(), format!("file {}", dir.path().display()));

        let e = backends
            .open("s3://bucket/prefix")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no state store for s3://")
                && e.contains("knows: file")
                && e.contains("the `s3` feature"),
            "{e}"
        );
        let e = backends
            .open("postgresql://u:pw@h/db")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("dafnck-stores") && !e.contains("pw@"), "{e}");
        let e = backends.open(".dafnck").await.err().unwrap().to_string();
        assert!(e.contains("has no scheme"), "{e}");
        let e = backends.open("file://").await.err().unwrap().to_string();
        assert!(e.contains("names no directory"), "{e}");
    }

    #[tokio::test]
    async fn a_registered_backend_is_chosen_by_scheme() {
        struct Memory;
        #[async_trait]
        impl StoreBackend for Memory {
            fn scheme(&self) -> &str {
                "memory"
            }
            async fn open(&self, _url: &str) -> Result<Arc<dyn StateStore>, StateError> {
                Ok(Arc::new(super::super::MemoryStore::new()))
            }
        }
        let mut backends = StoreBackends::new();
        backends.insert(Arc::new(Memory));
        assert_eq!(backends.schemes(), ["file", "memory"]);
        let store = backends.open("memory://x").await.unwrap();
        assert_eq!(store.describe(), "memory");
    }
}
