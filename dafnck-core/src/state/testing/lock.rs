//! The checks of a store's [`StateLock`](crate::state::StateLock): one
//! holder at a time, leases that expire, the holder shown, stacks apart.

use std::time::Duration;

use super::support::*;
use crate::state::model::now_millis;
use crate::state::{StateError, StateStore};

/// The checks of a store's [`StateLock`](crate::state::StateLock).
///
/// # Panics
/// When a check fails, or the store has no lock.
pub async fn check_lock(store: &dyn StateStore) {
    check_lock_exclusive(store).await;
    check_lease_expiry(store).await;
    check_lock_info(store).await;
    check_lock_isolation(store).await;
}

/// A lock on one stack does not show on another whose name extends the
/// first's.
///
/// # Panics
/// When the store does otherwise, or has no lock.
pub async fn check_lock_isolation(store: &dyn StateStore) {
    let c = Check::new("lock-isolation", store);
    let locks = c.locks();
    let a = c.stack();
    let b = format!("{a}-b");
    let lock = c.ok(
        locks
            .lock(&a, &request("isolation", Duration::from_secs(60)))
            .await,
        "lock of the first stack",
    );
    c.eq(
        &c.ok(locks.lock_info(&b).await, "lock_info"),
        &None,
        "lock of the second stack while the first is locked",
    );
    c.ok(locks.unlock(&a, &lock.id).await, "unlock");
}

/// A stack's lock excludes a second holder (naming the first), does not
/// block other stacks, refuses an unlock with a wrong id, and can be taken
/// again once released.
///
/// # Panics
/// When the store does otherwise, or has no lock.
pub async fn check_lock_exclusive(store: &dyn StateStore) {
    let c = Check::new("lock-exclusive", store);
    let locks = c.locks();
    let stack = c.stack();
    let other = c.stack();
    let mut first_req = request("up", Duration::from_secs(60));
    first_req.owner = "conformance-first".into();
    let mut second_req = request("destroy", Duration::from_secs(60));
    second_req.owner = "conformance-second".into();

    let first = c.ok(locks.lock(&stack, &first_req).await, "first lock");
    c.eq(&first.owner, &first_req.owner, "owner of the granted lock");
    c.eq(&first.host, &first_req.host, "host of the granted lock");
    c.eq(&first.pid, &first_req.pid, "pid of the granted lock");
    c.eq(
        &first.operation,
        &first_req.operation,
        "operation of the granted lock",
    );
    c.expect_locked(
        locks.lock(&stack, &second_req).await,
        &stack,
        &first,
        "a second lock on the same stack",
    );

    let elsewhere = c.ok(
        locks.lock(&other, &second_req).await,
        "a lock on another stack while the first is held",
    );

    match locks.unlock(&stack, "not-the-lock-id").await {
        Err(StateError::LockLost { .. }) => {}
        other => c.fail(format!(
            "unlock with a wrong id: expected LockLost, got {other:?}"
        )),
    }
    c.expect_locked(
        locks.lock(&stack, &second_req).await,
        &stack,
        &first,
        "a lock after an unlock with a wrong id",
    );

    c.ok(locks.unlock(&stack, &first.id).await, "unlock");
    let again = c.ok(locks.lock(&stack, &second_req).await, "lock after unlock");
    if again.id == first.id {
        c.fail("a new lock got the id of the released one");
    }
    c.eq(&again.owner, &second_req.owner, "owner of the new lock");
    c.ok(locks.unlock(&stack, &again.id).await, "unlock");
    c.ok(
        locks.unlock(&other, &elsewhere.id).await,
        "unlock of the other stack",
    );
}

/// A lease that is not renewed expires and the lock can be taken over; the
/// old holder's `renew` and `unlock` then fail with `LockLost`. Renewing a
/// live lease extends it.
///
/// # Panics
/// When the store does otherwise, or has no lock.
pub async fn check_lease_expiry(store: &dyn StateStore) {
    let c = Check::new("lease-expiry", store);
    let locks = c.locks();
    let stack = c.stack();
    let lease = Duration::from_millis(300);
    // This process's pid and host: a store that takes over locks of dead
    // processes must take this one over because its lease ran out.
    let first = c.ok(
        locks.lock(&stack, &request("up", lease)).await,
        "lock with a 300 ms lease",
    );

    sleep_wall_clock(Duration::from_millis(50)).await;
    let asked = now_millis();
    let renewed = c.ok(locks.renew(&stack, &first).await, "renew of a live lease");
    c.eq(&renewed.id, &first.id, "id of the renewed lock");
    if renewed.expires_at <= first.expires_at || renewed.expires_at < asked + 300 {
        c.fail(format!(
            "renew did not extend the lease by 300 ms: expires_at {} -> {} (renewed at {asked})",
            first.expires_at, renewed.expires_at
        ));
    }
    let shown = c.ok(locks.lock_info(&stack).await, "lock_info after renew");
    c.eq(
        &shown.map(|l| l.expires_at),
        &Some(renewed.expires_at),
        "expires_at shown after renew",
    );

    // Not renewed again: wait past the lease (about 500 ms in all).
    let wait = (renewed.expires_at + 200).saturating_sub(now_millis());
    sleep_wall_clock(Duration::from_millis(wait)).await;
    let second = c.ok(
        locks
            .lock(&stack, &request("takeover", Duration::from_secs(60)))
            .await,
        "lock after the first lease expired",
    );
    if second.id == first.id {
        c.fail("the takeover lock has the expired lock's id");
    }
    match locks.renew(&stack, &first).await {
        Err(StateError::LockLost { .. }) => {}
        other => c.fail(format!(
            "renew by the expired holder: expected LockLost, got {other:?}"
        )),
    }
    match locks.unlock(&stack, &first.id).await {
        Err(StateError::LockLost { .. }) => {}
        other => c.fail(format!(
            "unlock by the expired holder: expected LockLost, got {other:?}"
        )),
    }
    c.eq(
        &c.ok(locks.lock_info(&stack).await, "lock_info"),
        &Some(second.clone()),
        "holder after the takeover",
    );
    c.ok(
        locks.unlock(&stack, &second.id).await,
        "unlock by the new holder",
    );
}

/// `lock_info` shows the holder while a lock is held and `None` after it is
/// released.
///
/// # Panics
/// When the store does otherwise, or has no lock.
pub async fn check_lock_info(store: &dyn StateStore) {
    let c = Check::new("lock-info", store);
    let locks = c.locks();
    let stack = c.stack();
    c.eq(
        &c.ok(locks.lock_info(&stack).await, "lock_info"),
        &None,
        "lock_info before any lock",
    );
    let held = c.ok(
        locks
            .lock(&stack, &request("up", Duration::from_secs(60)))
            .await,
        "lock",
    );
    c.eq(
        &c.ok(locks.lock_info(&stack).await, "lock_info"),
        &Some(held.clone()),
        "lock_info while locked",
    );
    c.ok(locks.unlock(&stack, &held.id).await, "unlock");
    c.eq(
        &c.ok(locks.lock_info(&stack).await, "lock_info"),
        &None,
        "lock_info after unlock",
    );
}
