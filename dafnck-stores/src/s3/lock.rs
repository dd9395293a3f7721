//! The lock: one object, `lock.json`, created with `If-None-Match: *`,
//! renewed, taken over and released with `If-Match` on the ETag read just
//! before, so of two runs that try at once exactly one changes it.

use dafnck_core::state::{new_id, now_millis, LockInfo, LockRequest, StateError};
use serde::{Deserialize, Serialize};

use super::layout::Keys;
use super::objects::{Bucket, Deleted};
use super::BACKEND;

/// How often a lock call starts over when the object changed between
/// reading it and the conditional write.
const TRIES: usize = 8;

/// The lock object: the holder and its lease length, for renewals.
#[derive(Serialize, Deserialize)]
struct LockObject {
    #[serde(flatten)]
    info: LockInfo,
    lease_ms: u64,
}

/// The lock as read, with the ETag a conditional write names.
struct Held {
    lock: LockObject,
    etag: String,
}

async fn read(bucket: &Bucket, keys: &Keys) -> Result<Option<Held>, StateError> {
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
        etag: object.etag,
    }))
}

fn encode(lock: &LockObject) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(lock).map_err(|e| StateError::Backend {
        backend: BACKEND.into(),
        message: format!("cannot serialize the lock: {e}"),
    })
}

pub(super) async fn lock(
    bucket: &Bucket,
    keys: &Keys,
    stack: &str,
    request: &LockRequest,
) -> Result<LockInfo, StateError> {
    let lease_ms = u64::try_from(request.lease.as_millis()).unwrap_or(u64::MAX / 4);
    let id = new_id();
    let key = keys.lock();
    for _ in 0..TRIES {
        let now = now_millis();
        let mine = LockObject {
            info: LockInfo {
                id: id.clone(),
                owner: request.owner.clone(),
                host: request.host.clone(),
                pid: request.pid,
                operation: request.operation.clone(),
                acquired_at: now,
                expires_at: now.saturating_add(lease_ms),
            },
            lease_ms,
        };
        let body = encode(&mine)?;
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
        if bucket.replace(&key, &held.etag, body).await?.is_some() {
            tracing::info!(store = %bucket.describe, stack, expired = %held.lock.info, "took over an expired lock");
            return Ok(mine.info);
        }
    }
    Err(changing(bucket, stack))
}

pub(super) async fn renew(
    bucket: &Bucket,
    keys: &Keys,
    stack: &str,
    lock: &LockInfo,
) -> Result<LockInfo, StateError> {
    let lost = || StateError::LockLost {
        stack: stack.to_owned(),
        id: lock.id.clone(),
    };
    for _ in 0..TRIES {
        let Some(held) = read(bucket, keys).await? else {
            return Err(lost());
        };
        if held.lock.info.id != lock.id {
            return Err(lost());
        }
        let mut renewed = held.lock;
        renewed.info.expires_at = now_millis().saturating_add(renewed.lease_ms);
        let body = encode(&renewed)?;
        if bucket
            .replace(&keys.lock(), &held.etag, body)
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

pub(super) async fn unlock(
    bucket: &Bucket,
    keys: &Keys,
    stack: &str,
    lock_id: &str,
) -> Result<(), StateError> {
    let lost = || StateError::LockLost {
        stack: stack.to_owned(),
        id: lock_id.to_owned(),
    };
    for _ in 0..TRIES {
        let Some(held) = read(bucket, keys).await? else {
            return Err(lost());
        };
        if held.lock.info.id != lock_id {
            return Err(lost());
        }
        // Gone: released by this call's first try, whose answer was lost and
        // the SDK retried, or by another with this id (force-unlock).
        if bucket.delete_if(&keys.lock(), &held.etag).await? != Deleted::Changed {
            return Ok(());
        }
        // Renewed by its holder since read: read it again.
    }
    Err(changing(bucket, stack))
}

pub(super) async fn lock_info(
    bucket: &Bucket,
    keys: &Keys,
) -> Result<Option<LockInfo>, StateError> {
    Ok(read(bucket, keys).await?.map(|held| held.lock.info))
}

fn changing(bucket: &Bucket, stack: &str) -> StateError {
    StateError::Backend {
        backend: BACKEND.into(),
        message: format!(
            "{}: the lock of stack {stack:?} changed {TRIES} times while this run tried to take, renew or release it; try again",
            bucket.describe
        ),
    }
}
