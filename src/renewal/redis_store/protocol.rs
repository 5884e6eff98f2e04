//! The [`TokenStore`] protocol on Redis: one script (or one command) per call.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Value;

use super::handle::{int, unexpected, RedisStore};
use super::keys::owner_hex;
use super::scan;
use crate::at_rest::StorableCredential;
use crate::renewal::{
    LeaseOutcome, PutOutcome, ReplicaId, StoreError, StoredToken, TokenId, TokenStore,
};

/// How much longer than its lease a lease key lives in Redis when leases run
/// on an injected clock: the deadline in the value decides; the expiry only
/// collects keys of replicas that died.
const INJECTED_CLOCK_GC: Duration = Duration::from_secs(3600);

/// A call on one token, for its error message (ids are not secret).
struct On<'a>(&'static str, &'a TokenId);

impl fmt::Display for On<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of token {}", self.0, self.1)
    }
}

/// A script's reply: its array, or an error naming the call.
fn array<'v>(reply: &'v Value, what: &str) -> Result<&'v [Value], StoreError> {
    match reply {
        Value::Array(items) => Ok(items),
        _ => Err(unexpected(what)),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl<C: StorableCredential> TokenStore<C> for RedisStore {
    async fn load_all(&self) -> Result<Vec<(TokenId, StoredToken<C>)>, StoreError> {
        scan::load_all(&self.inner).await
    }

    async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        scan::versions(&self.inner).await
    }

    async fn get(&self, id: &TokenId) -> Result<Option<StoredToken<C>>, StoreError> {
        let inner = &self.inner;
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(inner.keys.token(id)).arg("v").arg("d");
        let reply = inner.connection.query(&cmd, &On("get", id)).await?;
        match array(&reply, "get")? {
            [Value::Nil, Value::Nil] => Ok(None),
            [version, sealed] => inner.open(id, version, sealed, "get").map(Some),
            _ => Err(unexpected("get")),
        }
    }

    async fn put(
        &self,
        id: &TokenId,
        credential: &C,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> Result<PutOutcome<C>, StoreError> {
        let inner = &self.inner;
        let sealed = inner
            .sealer
            .seal_token(id.as_str(), credential, issued_at)
            .map_err(|error| {
                StoreError::new(format!("sealing token {id} failed"), Some(Box::new(error)))
            })?;
        let expected = expected_version.map(|v| v.to_string()).unwrap_or_default();
        let keys = [
            inner.keys.token(id),
            inner.keys.lease(id),
            inner.keys.version_counter(),
        ];
        let reply = inner
            .connection
            .eval(
                &inner.connection.scripts.put,
                &[&keys[0], &keys[1], &keys[2]],
                &[expected.as_bytes(), &sealed],
                &On("put", id),
            )
            .await?;
        match array(&reply, "put")? {
            [Value::Int(0), version] => Ok(PutOutcome::Stored {
                version: int(version).ok_or_else(|| unexpected("put"))?,
            }),
            [Value::Int(1), version, sealed] => Ok(PutOutcome::Conflict {
                current: inner.open(id, version, sealed, "put")?,
            }),
            [Value::Int(2)] => Ok(PutOutcome::Missing),
            _ => Err(unexpected("put")),
        }
    }

    async fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> Result<LeaseOutcome<C>, StoreError> {
        let inner = &self.inner;
        let duration_ms = millis(duration).max(1);
        let now_ms = inner.lease_now_ms();
        let expiry_ms = if now_ms < 0 {
            duration_ms
        } else {
            duration_ms.saturating_add(millis(INJECTED_CLOCK_GC))
        };
        let args = [
            expected_version.to_string(),
            owner_hex(owner),
            duration_ms.to_string(),
            now_ms.to_string(),
            expiry_ms.to_string(),
        ];
        let keys = [inner.keys.token(id), inner.keys.lease(id)];
        let reply = inner
            .connection
            .eval(
                &inner.connection.scripts.try_lease,
                &[&keys[0], &keys[1]],
                &args.each_ref().map(|arg| arg.as_bytes()),
                &On("try_lease", id),
            )
            .await?;
        match array(&reply, "try_lease")? {
            [Value::Int(0)] => Ok(LeaseOutcome::Missing),
            [Value::Int(1), version, sealed] => Ok(LeaseOutcome::Changed {
                current: inner.open(id, version, sealed, "try_lease")?,
            }),
            [Value::Int(2), remaining] => Ok(LeaseOutcome::Held {
                remaining: Duration::from_millis(
                    int(remaining).ok_or_else(|| unexpected("try_lease"))?,
                ),
            }),
            [Value::Int(3)] => Ok(LeaseOutcome::Acquired),
            _ => Err(unexpected("try_lease")),
        }
    }

    async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        let keys = [inner.keys.token(id), inner.keys.lease(id)];
        let args = [version.to_string(), owner_hex(owner)];
        inner
            .connection
            .eval(
                &inner.connection.scripts.release_lease,
                &[&keys[0], &keys[1]],
                &args.each_ref().map(|arg| arg.as_bytes()),
                &On("release_lease", id),
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, id: &TokenId, expected_version: Option<u64>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let keys = [inner.keys.token(id), inner.keys.lease(id)];
        let expected = expected_version.map(|v| v.to_string()).unwrap_or_default();
        inner
            .connection
            .eval(
                &inner.connection.scripts.delete,
                &[&keys[0], &keys[1]],
                &[expected.as_bytes()],
                &On("delete", id),
            )
            .await?;
        Ok(())
    }
}
