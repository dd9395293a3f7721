//! [`SealingStore`]: the engine's store wrapper that seals secrets on the
//! way in and opens them on the way out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::walk::{
    has_plaintext, open, seal, visit_record, visit_record_mut, visit_state, visit_state_mut,
};
use super::{Cipher, Encryption, KeyError, KeySource, Keyring};
use crate::state::{
    ControlChannel, Entry, Record, State, StateError, StateHistory, StateLock, StateStore, Stored,
    VersionInfo,
};

/// A [`StateStore`] over another, sealing every secret in the records and
/// snapshots written through it and opening them in what it reads.
///
/// # Guarantees
/// - The inner store never receives a secret in plain text, unless the key
///   source is [`KeySource::InsecurePlaintext`] and the state has no
///   [`Encryption`] header.
/// - A secret in plain text that cannot be sealed (no key) is refused with
///   [`StateError::Secrets`] before anything is written.
/// - `read` with a wrong key fails with [`StateError::WrongKey`] and opens
///   nothing; without a key it returns the secrets sealed; a sealed value
///   that does not authenticate is [`StateError::Corrupt`].
/// - Sealed secrets a run did not open (no key) pass through unchanged.
pub struct SealingStore {
    inner: Arc<dyn StateStore>,
    keyring: Keyring,
    /// Per stack: the encryption header as last read or written.
    headers: Mutex<HashMap<String, Option<Encryption>>>,
}

impl std::fmt::Debug for SealingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingStore")
            .field("inner", &self.inner.describe())
            .field("source", &self.keyring.source())
            .finish_non_exhaustive()
    }
}

impl SealingStore {
    /// `state` as a version of it is kept: sealed when it holds plaintext
    /// secrets and the stack has a key (refused when it has none).
    fn sealed_version<'a>(
        &self,
        stack: &str,
        state: &'a State,
    ) -> Result<std::borrow::Cow<'a, State>, StateError> {
        if !state_has_plaintext(state) {
            return Ok(std::borrow::Cow::Borrowed(state));
        }
        match self.cipher(stack, state.encryption.as_ref())? {
            Some(c) => {
                let mut copy = state.clone();
                let _ = visit_state_mut(&mut copy, &mut sealer(&c));
                Ok(std::borrow::Cow::Owned(copy))
            }
            None => {
                self.refuse_plaintext(stack, state.encryption.as_ref())?;
                Ok(std::borrow::Cow::Borrowed(state))
            }
        }
    }

    /// The inner store's history: offered only when it has one.
    fn inner_history(&self) -> Result<&dyn StateHistory, StateError> {
        self.inner
            .history()
            .ok_or_else(|| crate::state::unsupported(&*self.inner, "keeps no history"))
    }

    /// Wraps `inner`, with keys from `source`.
    pub fn new(inner: Arc<dyn StateStore>, source: KeySource) -> Self {
        SealingStore {
            inner,
            keyring: Keyring::new(source),
            headers: Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn StateStore> {
        &self.inner
    }

    /// Where the key comes from.
    pub fn key_source(&self) -> &KeySource {
        self.keyring.source()
    }

    #[cfg(test)]
    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A new encryption header for a stack's state, when there is a key.
    pub(crate) fn new_header(&self, stack: &str) -> Result<Option<Encryption>, StateError> {
        self.keyring
            .new_header()
            .map_err(|e| key_error(e, self.location(stack)))
    }

    fn location(&self, stack: &str) -> String {
        format!("{}, stack {stack:?}", self.inner.describe())
    }

    pub(crate) fn cipher(
        &self,
        stack: &str,
        header: Option<&Encryption>,
    ) -> Result<Option<Arc<Cipher>>, StateError> {
        let Some(header) = header else {
            return Ok(None);
        };
        self.keyring
            .cipher_for(header)
            .map_err(|e| key_error(e, self.location(stack)))
    }

    fn header(&self, stack: &str) -> Option<Encryption> {
        let headers = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        headers.get(stack).cloned().flatten()
    }

    fn set_header(&self, stack: &str, header: Option<Encryption>) {
        let mut headers = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        headers.insert(stack.to_owned(), header);
    }

    /// What to do with a value holding a secret in plain text, when the
    /// state has `header` and the key gives `cipher`.
    fn refuse_plaintext(&self, stack: &str, header: Option<&Encryption>) -> Result<(), StateError> {
        match (self.keyring.source(), header) {
            (KeySource::InsecurePlaintext, None) => Ok(()),
            (KeySource::InsecurePlaintext, Some(_)) => Err(StateError::Secrets {
                location: self.location(stack),
                message: "this state's secrets are encrypted, so no secret is written to it in \
                          plain text; set DAFNCK_PASSPHRASE (or give the program's key)"
                    .into(),
            }),
            _ => Err(StateError::Secrets {
                location: self.location(stack),
                message: "a secret would be written to the state in plain text: set \
                          DAFNCK_PASSPHRASE, or give the program's key with `secrets_key` \
                          (`insecure_plaintext_secrets` opts out of encryption)"
                    .into(),
            }),
        }
    }
}

fn key_error(e: KeyError, location: String) -> StateError {
    match e {
        KeyError::Wrong(what) => StateError::WrongKey {
            location,
            what: what.into(),
        },
        KeyError::Unusable(message) => StateError::Secrets { location, message },
    }
}

fn record_has_plaintext(record: &Record) -> bool {
    let mut found = false;
    visit_record(record, &mut |v| found = found || has_plaintext(v));
    found
}

fn state_has_plaintext(state: &State) -> bool {
    let mut found = false;
    visit_state(state, &mut |v| found = found || has_plaintext(v));
    found
}

fn sealer(cipher: &Cipher) -> impl FnMut(&mut crate::Value) -> Result<(), Infallible> + '_ {
    move |v| {
        seal(v, cipher);
        Ok(())
    }
}

#[async_trait]
impl StateStore for SealingStore {
    fn edits(&self) -> Option<&dyn crate::state::SnapshotEdits> {
        // An accepted edit is written as it was read: still sealed.
        self.inner.edits()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn read(&self, stack: &str) -> Result<Stored, StateError> {
        let mut stored = self.inner.read(stack).await?;
        let location = self.location(stack);
        let mut header = stored.snapshot.as_ref().and_then(|s| s.encryption.clone());
        let mut cipher = self.cipher(stack, header.as_ref())?;
        let mut serial = 0;
        if let Some(snapshot) = &mut stored.snapshot {
            serial = snapshot.serial;
            if let Some(c) = &cipher {
                visit_state_mut(snapshot, &mut |v| open(v, c)).map_err(|e| {
                    StateError::Corrupt {
                        location: format!("{location}, snapshot"),
                        message: e.to_string(),
                    }
                })?;
            }
        }
        for record in &mut stored.journal {
            // Replay skips the records a snapshot covers.
            if record.seq <= serial {
                continue;
            }
            if let Entry::Encryption { header: h } = &record.entry {
                header = Some(h.clone());
                cipher = self.cipher(stack, header.as_ref())?;
            }
            if let Some(c) = &cipher {
                visit_record_mut(record, &mut |v| open(v, c)).map_err(|e| StateError::Corrupt {
                    location: format!("{location}, journal record {}", record.seq),
                    message: e.to_string(),
                })?;
            }
        }
        self.set_header(stack, header);
        Ok(stored)
    }

    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
        let mut header = self.header(stack);
        // Copies only once a record needs sealing.
        let mut sealed: Option<Vec<Record>> = None;
        for (i, record) in records.iter().enumerate() {
            if let Entry::Encryption { header: h } = &record.entry {
                header = Some(h.clone());
            }
            if !record_has_plaintext(record) {
                if let Some(out) = &mut sealed {
                    out.push(record.clone());
                }
                continue;
            }
            match self.cipher(stack, header.as_ref())? {
                Some(c) => {
                    let mut r = record.clone();
                    let _ = visit_record_mut(&mut r, &mut sealer(&c));
                    sealed.get_or_insert_with(|| records[..i].to_vec()).push(r);
                }
                None => {
                    self.refuse_plaintext(stack, header.as_ref())?;
                    if let Some(out) = &mut sealed {
                        out.push(record.clone());
                    }
                }
            }
        }
        self.inner
            .append(stack, sealed.as_deref().unwrap_or(records))
            .await?;
        self.set_header(stack, header);
        Ok(())
    }

    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        if !state_has_plaintext(snapshot) {
            return self.inner.compact(stack, snapshot).await;
        }
        match self.cipher(stack, snapshot.encryption.as_ref())? {
            Some(c) => {
                let mut copy = snapshot.clone();
                let _ = visit_state_mut(&mut copy, &mut sealer(&c));
                self.inner.compact(stack, &copy).await
            }
            None => {
                self.refuse_plaintext(stack, snapshot.encryption.as_ref())?;
                self.inner.compact(stack, snapshot).await
            }
        }
    }

    fn locks(&self) -> Option<&dyn StateLock> {
        self.inner.locks()
    }

    /// Versions hold whole states: sealed here like snapshots.
    fn history(&self) -> Option<&dyn StateHistory> {
        self.inner.history().map(|_| self as &dyn StateHistory)
    }

    fn channel(&self) -> Option<&dyn ControlChannel> {
        self.inner.channel()
    }
}

#[async_trait]
impl StateHistory for SealingStore {
    /// A version holds a whole state: sealed like a snapshot.
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        let sealed = self.sealed_version(stack, state)?;
        self.inner_history()?
            .save_version(stack, info, &sealed)
            .await
    }

    /// Copying a snapshot copies it sealed: the inner store may do so.
    async fn save_compacted_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        let sealed = self.sealed_version(stack, state)?;
        self.inner_history()?
            .save_compacted_version(stack, info, &sealed)
            .await
    }

    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError> {
        self.inner_history()?.versions(stack).await
    }

    async fn drop_versions(&self, stack: &str, versions: &[u64]) -> Result<(), StateError> {
        self.inner_history()?.drop_versions(stack, versions).await
    }

    /// Opened with the key when there is one; without it the secrets stay
    /// sealed and show as `(secret)`.
    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError> {
        let Some(mut state) = self.inner_history()?.read_version(stack, version).await? else {
            return Ok(None);
        };
        if let Some(c) = self.cipher(stack, state.encryption.as_ref())? {
            let location = self.location(stack);
            visit_state_mut(&mut state, &mut |v| open(v, &c)).map_err(|e| StateError::Corrupt {
                location: format!("{location}, version {version}"),
                message: e.to_string(),
            })?;
        }
        Ok(Some(state))
    }
}
