//! The lock as Terraform's azurerm backend makes it: a blob lease. The
//! lock blob (`lock.json`, the holder as the other stores write it) is
//! created only if absent and then leased, with no end, under a lease id
//! made of the lock's id; only that lease may rewrite it (a renewal, which
//! moves its `expires_at`) or delete it (the release, also how
//! `force-unlock LOCK_ID` works). A lock whose `expires_at` has passed
//! (its holder died) is taken over by breaking its lease, only if the blob
//! is still the one read (`If-Match`), then leasing and rewriting it: of
//! several runs that try at once exactly one ends up holding the lease.

use dafnck_core::state::{new_id, LockInfo, LockRequest, StateError};

use crate::bucket_store::layout::Keys;
use crate::bucket_store::lock::{changing, encode, read, read_own, LockObject, TRIES};
use crate::bucket_store::{Deleted, Objects};

use super::objects::Container;

pub(super) use crate::bucket_store::lock::lock_info;

/// The lease id of lock `id`: its 32 hex digits as a GUID, the form Azure
/// takes lease ids in.
fn lease_id(bucket: &Container, id: &str) -> Result<String, StateError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StateError::Corrupt {
            location: bucket.describe().to_owned(),
            message: format!("the lock id {id:?} is not one of this store's (32 hex digits)"),
        });
    }
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    ))
}

pub(super) async fn lock(
    bucket: &Container,
    keys: &Keys,
    stack: &str,
    request: &LockRequest,
) -> Result<LockInfo, StateError> {
    let id = new_id();
    let lease = lease_id(bucket, &id)?;
    let key = keys.lock();
    for _ in 0..TRIES {
        let mine = LockObject::claim(request, &id);
        let body = encode(bucket, &mine)?;
        if let Some(version) = bucket.create(&key, body.clone()).await? {
            if bucket.acquire_lease(&key, &lease, &version).await? {
                return Ok(mine.info);
            }
            // Changed between the create and the lease: read it again.
            continue;
        }
        let Some(held) = read(bucket, keys).await? else {
            // Released between the refused create and the read: again.
            continue;
        };
        // A first create whose answer was lost, retried by the SDK: lease
        // it now (a no-op when this lease already holds it).
        if held.lock.info.id == id {
            if bucket.acquire_lease(&key, &lease, &held.version).await? {
                return Ok(held.lock.info);
            }
            continue;
        }
        if !held.lock.info.is_expired() {
            return Err(StateError::Locked {
                stack: stack.to_owned(),
                holder: Box::new(held.lock.info),
            });
        }
        // The holder's lease ran out (it died or hangs): break its blob
        // lease if nobody changed the lock since it was read, lease it, and
        // write this run's lock under the new lease. A rival that broke the
        // lease too finds its own lease or write refused.
        if !bucket.break_lease(&key, &held.version).await?
            || !bucket.acquire_lease(&key, &lease, &held.version).await?
        {
            continue;
        }
        if bucket.put_leased(&key, &lease, body).await?.is_some() {
            tracing::info!(store = %bucket.describe(), stack, expired = %held.lock.info, "broke the lease of an expired lock and took it over");
            return Ok(mine.info);
        }
    }
    Err(changing(bucket, stack))
}

pub(super) async fn renew(
    bucket: &Container,
    keys: &Keys,
    stack: &str,
    lock: &LockInfo,
) -> Result<LockInfo, StateError> {
    let held = read_own(bucket, keys, stack, &lock.id).await?;
    let renewed = held.lock.renewed();
    let body = encode(bucket, &renewed)?;
    // Only the lock's lease may write it: refused once it was broken.
    match bucket
        .put_leased(&keys.lock(), &lease_id(bucket, &lock.id)?, body)
        .await?
    {
        Some(_) => Ok(renewed.info),
        None => Err(StateError::LockLost {
            stack: stack.to_owned(),
            id: lock.id.clone(),
        }),
    }
}

pub(super) async fn unlock(
    bucket: &Container,
    keys: &Keys,
    stack: &str,
    lock_id: &str,
) -> Result<(), StateError> {
    for _ in 0..TRIES {
        let held = read_own(bucket, keys, stack, lock_id).await?;
        let lease = lease_id(bucket, lock_id)?;
        // Gone: released by this call's first try, whose answer was lost.
        if bucket.delete_leased(&keys.lock(), &lease).await? != Deleted::Changed {
            return Ok(());
        }
        // Its lease was broken but nobody took the lock over yet: delete it
        // if it is still the one read.
        if bucket.delete_if(&keys.lock(), &held.version).await? != Deleted::Changed {
            return Ok(());
        }
    }
    Err(changing(bucket, stack))
}
