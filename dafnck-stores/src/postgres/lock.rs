//! The stack's lock as a leased row: taken with one conditional upsert,
//! renewed and released by its id.

use super::*;

#[async_trait]
impl StateLock for PostgresStore {
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        let id = &dafnck_core::state::new_id();
        let lease_ms = &i64::try_from(request.lease.as_millis()).unwrap_or(i64::MAX / 4);
        let pid = &i64::from(request.pid);
        let sql = &self.inner.sql;
        retrying!(self, "take the lock", |client, _| {
            // A holder that releases between the refused insert and the
            // look at who holds it leaves no row: try again.
            for _ in 0..5 {
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                    &stack,
                    id,
                    &request.owner,
                    &request.host,
                    pid,
                    &request.operation,
                    lease_ms,
                ];
                if let Some(row) = client.query_opt(&sql.lock, &params).await? {
                    return Ok(lock_of(&row));
                }
                if let Some(row) = client.query_opt(&sql.lock_info, &[&stack]).await? {
                    let holder = lock_of(&row);
                    // A first try that committed before the connection
                    // was lost: the lock is this run's.
                    if holder.id == *id {
                        return Ok(holder);
                    }
                    return Err(Failure::State(StateError::Locked {
                        stack: stack.to_owned(),
                        holder: Box::new(holder),
                    }));
                }
            }
            Err(Failure::State(StateError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "{}: the lock of stack {stack:?} changed hands five times while taking it; \
                     try again",
                    self.inner.describe
                ),
            }))
        })
    }

    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        let sql = &self.inner.sql.renew;
        let row = retrying!(self, "renew the lock", |client, _| {
            Ok(client.query_opt(sql, &[&stack, &lock.id]).await?)
        })?;
        match row {
            Some(row) => Ok(lock_of(&row)),
            None => Err(StateError::LockLost {
                stack: stack.to_owned(),
                id: lock.id.clone(),
            }),
        }
    }

    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        let sql = &self.inner.sql;
        let released = retrying!(self, "release the lock", |client, retried| {
            if client.execute(&sql.unlock, &[&stack, &lock_id]).await? == 1 {
                return Ok(true);
            }
            // On a retry, no lock at all means the first try released it.
            if retried {
                return Ok(client.query_opt(&sql.lock_info, &[&stack]).await?.is_none());
            }
            Ok(false)
        })?;
        if released {
            Ok(())
        } else {
            Err(StateError::LockLost {
                stack: stack.to_owned(),
                id: lock_id.to_owned(),
            })
        }
    }

    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        let sql = &self.inner.sql.lock_info;
        let row = retrying!(self, "read the lock", |client, _| {
            Ok(client.query_opt(sql, &[&stack]).await?)
        })?;
        Ok(row.map(|row| lock_of(&row)))
    }
}
