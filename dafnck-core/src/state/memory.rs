//! [`MemoryStore`]: state kept in memory, for tests and previews. Clones
//! share the same stacks, so two "runs" can contend for a lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    ControlChannel, LockInfo, LockRequest, Message, Record, State, StateError, StateHistory,
    StateLock, StateStore, Stored, VersionInfo,
};

#[derive(Default)]
struct Slot {
    stored: Stored,
    lock: Option<(LockInfo, std::time::Duration)>,
    bytes_appended: u64,
    messages: Vec<Message>,
    versions: Vec<(VersionInfo, State)>,
}

/// State in memory; clones share it.
#[derive(Clone, Default)]
pub struct MemoryStore {
    stacks: Arc<Mutex<HashMap<String, Slot>>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn stacks(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock cannot leave a slot half-written:
        // every mutation below is a single assignment or push.
        self.stacks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many bytes of journal (as JSON) have been appended to `stack`
    /// since the store was made: the measure of the O(N) write guarantee.
    pub fn bytes_appended(&self, stack: &str) -> u64 {
        self.stacks().get(stack).map_or(0, |s| s.bytes_appended)
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    fn describe(&self) -> String {
        "memory".into()
    }

    async fn read(&self, stack: &str) -> Result<Stored, StateError> {
        Ok(self
            .stacks()
            .get(stack)
            .map(|s| s.stored.clone())
            .unwrap_or_default())
    }

    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
        let mut stacks = self.stacks();
        let slot = stacks.entry(stack.to_owned()).or_default();
        for r in records {
            slot.bytes_appended += serde_json::to_vec(r).map_or(0, |b| b.len() as u64 + 1);
            slot.stored.journal.push(r.clone());
        }
        Ok(())
    }

    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        let mut stacks = self.stacks();
        let slot = stacks.entry(stack.to_owned()).or_default();
        slot.stored.journal.retain(|r| r.seq > snapshot.serial);
        slot.stored.snapshot = Some(snapshot.clone());
        Ok(())
    }

    fn locks(&self) -> Option<&dyn StateLock> {
        Some(self)
    }

    fn history(&self) -> Option<&dyn StateHistory> {
        Some(self)
    }

    fn channel(&self) -> Option<&dyn ControlChannel> {
        Some(self)
    }
}

#[async_trait]
impl StateLock for MemoryStore {
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        let mut stacks = self.stacks();
        let slot = stacks.entry(stack.to_owned()).or_default();
        if let Some((held, _)) = &slot.lock {
            if !held.is_expired() {
                return Err(StateError::Locked {
                    stack: stack.to_owned(),
                    holder: Box::new(held.clone()),
                });
            }
        }
        let info = LockInfo::grant(request);
        slot.lock = Some((info.clone(), request.lease));
        Ok(info)
    }

    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        let mut stacks = self.stacks();
        let lost = || StateError::LockLost {
            stack: stack.to_owned(),
            id: lock.id.clone(),
        };
        let slot = stacks.get_mut(stack).ok_or_else(lost)?;
        match &mut slot.lock {
            Some((held, lease)) if held.id == lock.id => {
                held.expires_at = super::model::now_millis() + lease.as_millis() as u64;
                Ok(held.clone())
            }
            _ => Err(lost()),
        }
    }

    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        let mut stacks = self.stacks();
        match stacks
            .get_mut(stack)
            .and_then(|s| s.lock.as_ref().map(|l| l.0.id == lock_id))
        {
            Some(true) => {
                if let Some(slot) = stacks.get_mut(stack) {
                    slot.lock = None;
                }
                Ok(())
            }
            _ => Err(StateError::LockLost {
                stack: stack.to_owned(),
                id: lock_id.to_owned(),
            }),
        }
    }

    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        Ok(self
            .stacks()
            .get(stack)
            .and_then(|s| s.lock.as_ref().map(|l| l.0.clone())))
    }
}

#[async_trait]
impl StateHistory for MemoryStore {
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        let mut stacks = self.stacks();
        let slot = stacks.entry(stack.to_owned()).or_default();
        if slot.versions.iter().any(|(v, _)| v.version == info.version) {
            return Err(StateError::Backend {
                backend: "memory".into(),
                message: format!("stack {stack:?} already has version {}", info.version),
            });
        }
        slot.versions.push((info.clone(), state.clone()));
        Ok(())
    }

    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError> {
        Ok(self
            .stacks()
            .get(stack)
            .map(|s| s.versions.iter().map(|(v, _)| v.clone()).collect())
            .unwrap_or_default())
    }

    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError> {
        Ok(self.stacks().get(stack).and_then(|s| {
            s.versions
                .iter()
                .find(|(v, _)| v.version == version)
                .map(|(_, state)| state.clone())
        }))
    }

    async fn drop_versions(&self, stack: &str, versions: &[u64]) -> Result<(), StateError> {
        let mut stacks = self.stacks();
        let Some(slot) = stacks.get_mut(stack) else {
            return Ok(());
        };
        let infos: Vec<VersionInfo> = slot.versions.iter().map(|(v, _)| v.clone()).collect();
        let drop = super::droppable(&infos, versions);
        slot.versions.retain(|(v, _)| !drop.contains(&v.version));
        Ok(())
    }
}

#[async_trait]
impl ControlChannel for MemoryStore {
    async fn send(&self, stack: &str, message: &Message) -> Result<(), StateError> {
        let mut stacks = self.stacks();
        stacks
            .entry(stack.to_owned())
            .or_default()
            .messages
            .push(message.clone());
        Ok(())
    }

    async fn take(&self, stack: &str, topic: &str) -> Result<Vec<Message>, StateError> {
        let mut stacks = self.stacks();
        let Some(slot) = stacks.get_mut(stack) else {
            return Ok(Vec::new());
        };
        let (mine, others) = std::mem::take(&mut slot.messages)
            .into_iter()
            .partition(|m| m.topic == topic);
        slot.messages = others;
        Ok(mine)
    }
}
