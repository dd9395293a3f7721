//! The lock: one object, `lock.json`, created only if absent (S3
//! `If-None-Match: *`, GCS `ifGenerationMatch=0`), renewed, taken over and
//! released only if its version is still the one read just before (S3
//! `If-Match` on the ETag, GCS `ifGenerationMatch` on the generation), so
//! of two runs that try at once exactly one changes it. The Azure store
//! keeps the same object but locks it with a blob lease
//! (`crate::azblob::lease`), from the parts shared here.

use dafnck_core::state::{new_id, now_millis, LockInfo, LockRequest, StateError};
use serde::{Deserialize, Serialize};

use super::layout::Keys;
use super::{Deleted, Objects};

/// How often a lock call starts over when the object changed between
/// reading it and the conditional write.
pub(crate) const TRIES: usize = 8;

/// The lock object: the holder and its lease length, for renewals.
#[derive(Serialize, Deserialize)]
pub(crate) struct LockObject {
    #[serde(flatten)]
    pub(crate) info: LockInfo,
    pub(crate) lease_ms: u64,
}

impl LockObject {
    /// A new lock `id` for `request`, from now.
    pub(crate) fn claim(request: &LockRequest, id: &str) -> LockObject {
        let lease_ms = u64::try_from(request.lease.as_millis()).unwrap_or(u64::MAX / 4);
        let now = now_millis();
        LockObject {
            info: LockInfo {
                id: id.to_owned(),
                owner: request.owner.clone(),
                host: request.host.clone(),
                pid: request.pid,
                operation: request.operation.clone(),
                acquired_at: now,
                expires_at: now.saturating_add(lease_ms),
            },
            lease_ms,
        }
    }

    /// This lock, renewed from now.
    pub(crate) fn renewed(mut self) -> LockObject {
        self.info.expires_at = now_millis().saturating_add(self.lease_ms);
        self
    }
}

/// The lock as read, with the version a conditional write names.
pub(crate) struct Held {
    pub(crate) lock: LockObject,
    pub(crate) version: String,
}

pub(crate) async fn read(bucket: &dyn Objects, keys: &Keys) -> Result<Option<Held>, StateError> {
    let key = keys.lock();
    let Some(object) = bucket.get(&key).await? else {
        return Ok(None);
    };
    let lock = serde_json::from_slice(&object.bytes).map_err(|e| StateError::Corrupt {
        location: bucket.location(&key),
        message: format!(
            "the lock does not parse: {e} (if no run holds it, delete the object by hand)"
        ),
    })?;
    Ok(Some(Held {
        lock,
        version: object.version,
    }))
}

/// The lock as read if it is still lock `id`'s; `LockLost` when it is
/// gone or another's.
pub(crate) async fn read_own(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    id: &str,
) -> Result<Held, StateError> {
    match read(bucket, keys).await? {
        Some(held) if held.lock.info.id == id => Ok(held),
        _ => Err(StateError::LockLost {
            stack: stack.to_owned(),
            id: id.to_owned(),
        }),
    }
}

pub(crate) fn encode(bucket: &dyn Objects, lock: &LockObject) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(lock).map_err(|e| StateError::Backend {
        backend: bucket.backend().into(),
        message: format!("cannot serialize the lock: {e}"),
    })
}

#[cfg_attr(not(any(feature = "s3", feature = "gcs")), allow(dead_code))]
pub(crate) async fn lock(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    request: &LockRequest,
) -> Result<LockInfo, StateError> {
    let id = new_id();
    let key = keys.lock();
    for _ in 0..TRIES {
        let mine = LockObject::claim(request, &id);
        let body = encode(bucket, &mine)?;
        if bucket.create(&key, body.clone()).await?.is_some() {
            return Ok(mine.info);
        }
        let Some(held) = read(bucket, keys).await? else {
            // Released between the refused create and the read: again.
            continue;
        };
        // A first try whose answer was lost, retried by the SDK.
        if held.lock.info.id == id {
            return Ok(held.lock.info);
        }
        if !held.lock.info.is_expired() {
            return Err(StateError::Locked {
                stack: stack.to_owned(),
                holder: Box::new(held.lock.info),
            });
        }
        // Take the expired lease over, only if nobody changed it since it
        // was read: of several runs that try, one wins.
        if bucket.replace(&key, &held.version, body).await?.is_some() {
            tracing::info!(store = %bucket.describe(), stack, expired = %held.lock.info, "took over an expired lock");
            return Ok(mine.info);
        }
    }
    Err(changing(bucket, stack))
}

#[cfg_attr(not(any(feature = "s3", feature = "gcs")), allow(dead_code))]
pub(crate) async fn renew(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    lock: &LockInfo,
) -> Result<LockInfo, StateError> {
    for _ in 0..TRIES {
        let held = read_own(bucket, keys, stack, &lock.id).await?;
        let renewed = held.lock.renewed();
        let body = encode(bucket, &renewed)?;
        if bucket
            .replace(&keys.lock(), &held.version, body)
            .await?
            .is_some()
        {
            return Ok(renewed.info);
        }
        // Changed since read (a retried first try that did renew, or a
        // takeover): read it again.
    }
    Err(changing(bucket, stack))
}

#[cfg_attr(not(any(feature = "s3", feature = "gcs")), allow(dead_code))]
pub(crate) async fn unlock(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    lock_id: &str,
) -> Result<(), StateError> {
    for _ in 0..TRIES {
        let held = read_own(bucket, keys, stack, lock_id).await?;
        // Gone: released by this call's first try, whose answer was lost and
        // the SDK retried, or by another with this id (force-unlock).
        if bucket.delete_if(&keys.lock(), &held.version).await? != Deleted::Changed {
            return Ok(());
        }
        // Renewed by its holder since read: read it again.
    }
    Err(changing(bucket, stack))
}

pub(crate) async fn lock_info(
    bucket: &dyn Objects,
    keys: &Keys,
) -> Result<Option<LockInfo>, StateError> {
    Ok(read(bucket, keys).await?.map(|held| held.lock.info))
}

pub(crate) fn changing(bucket: &dyn Objects, stack: &str) -> StateError {
    StateError::Backend {
        backend: bucket.backend().into(),
        message: format!(
            "{}: the lock of stack {stack:?} changed {TRIES} times while this run tried to take, renew or release it; try again",
            bucket.describe()
        ),
    }
}
