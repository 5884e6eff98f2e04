//! [`RedisStoreBuilder`]: where Redis is, the prefix, the lease clock and the
//! timeouts.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::connection::{Connection, PausedTimeHold};
use super::handle::{Inner, RedisStore};
use super::keys::{Keys, DEFAULT_PREFIX};
use crate::at_rest::Sealer;
use crate::renewal::StoreError;
use crate::Clock;

/// How long connecting and each reply may take unless the builder says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where Redis is: a URL (`redis://[:password@]host:port[/db]`,
/// `unix:///path`) or a `redis::Client` you built. A URL's password is never
/// shown by `Debug`.
pub struct RedisTarget(Result<redis::Client, redis::RedisError>);

impl From<&str> for RedisTarget {
    fn from(url: &str) -> Self {
        Self(redis::Client::open(url))
    }
}

impl From<String> for RedisTarget {
    fn from(url: String) -> Self {
        Self::from(url.as_str())
    }
}

impl From<&String> for RedisTarget {
    fn from(url: &String) -> Self {
        Self::from(url.as_str())
    }
}

impl From<redis::Client> for RedisTarget {
    fn from(client: redis::Client) -> Self {
        Self(Ok(client))
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(client) => write!(f, "RedisTarget({})", server_label(client)),
            Err(_) => f.write_str("RedisTarget(<invalid URL>)"),
        }
    }
}

/// `host:port/db`: where a client connects, without its credentials.
fn server_label(client: &redis::Client) -> String {
    let info = client.get_connection_info();
    format!("{}/{}", info.addr(), info.redis_settings().db())
}

/// Builds a [`RedisStore`]; from [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    target: RedisTarget,
    sealer: Sealer,
    prefix: String,
    lease_clock: Option<Arc<dyn Clock>>,
    connection_timeout: Duration,
    response_timeout: Duration,
    hold_paused_time: bool,
}

impl RedisStore {
    /// A builder for a store in the Redis at `target` (a URL or a
    /// `redis::Client`), sealing values with `sealer`.
    #[must_use]
    pub fn builder(target: impl Into<RedisTarget>, sealer: Sealer) -> RedisStoreBuilder {
        RedisStoreBuilder {
            target: target.into(),
            sealer,
            prefix: DEFAULT_PREFIX.to_owned(),
            lease_clock: None,
            connection_timeout: DEFAULT_TIMEOUT,
            response_timeout: DEFAULT_TIMEOUT,
            hold_paused_time: false,
        }
    }
}

impl RedisStoreBuilder {
    /// What every key starts with (default `storefront-token`): apps or
    /// environments sharing one Redis use different prefixes.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Leases lapse on this clock instead of Redis's own: the store passes the
    /// clock's time to the scripts and stores absolute deadlines. For tests on
    /// simulated time. Replicas must then share one clock; with the default
    /// (Redis's `TIME`), replicas whose clocks are skewed still agree.
    #[must_use]
    pub fn lease_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.lease_clock = Some(clock);
        self
    }

    /// How long connecting (and reconnecting) may take (default 3 s).
    #[must_use]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long Redis may take to answer a call (default 3 s).
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// For tests on tokio's paused time (`#[tokio::test(start_paused = true)]`):
    /// while a call waits for Redis, tokio's clock is kept from auto-advancing.
    /// Without it, a paused runtime idle while Redis answers over the socket
    /// jumps to its next timer, which fires the call's deadline (the call
    /// fails) and moves your test's time. It works by keeping a blocking task
    /// alive for each call in flight (at most the call timeout in real time),
    /// so it is for tests only.
    #[must_use]
    pub fn hold_paused_time(mut self) -> Self {
        self.hold_paused_time = true;
        self
    }

    /// Connects (within the connection timeout) and loads the scripts.
    ///
    /// # Errors
    ///
    /// An invalid URL, an empty prefix, or Redis unreachable or refusing us.
    pub async fn build(self) -> Result<RedisStore, StoreError> {
        let client = self
            .target
            .0
            .map_err(|error| StoreError::new("redis: invalid target", Some(Box::new(error))))?;
        if self.prefix.is_empty() {
            return Err(StoreError::new("redis: the key prefix is empty", None));
        }
        let server = server_label(&client);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            // Fail fast while Redis is away; the next call tries again.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let call_timeout = self.connection_timeout + self.response_timeout;
        let hold = self
            .hold_paused_time
            .then(|| PausedTimeHold::new(call_timeout));
        let connected = tokio::time::timeout(
            call_timeout,
            ConnectionManager::new_with_config(client, config),
        )
        .await;
        drop(hold);
        let manager = match connected {
            Ok(Ok(manager)) => manager,
            Ok(Err(error)) => {
                return Err(StoreError::new(
                    format!("redis: connecting to {server} failed"),
                    Some(Box::new(error)),
                ))
            }
            Err(_) => {
                return Err(StoreError::new(
                    format!("redis: connecting to {server}: no answer within {call_timeout:?}"),
                    None,
                ))
            }
        };
        let connection = Connection::new(manager, call_timeout, self.hold_paused_time);
        connection.load_scripts().await?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                connection,
                keys: Keys::new(&self.prefix),
                sealer: self.sealer,
                lease_clock: self.lease_clock,
                server,
                skipped_on_load: AtomicU64::new(0),
            }),
        })
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .field("lease_clock", &self.lease_clock)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("hold_paused_time", &self.hold_paused_time)
            .finish_non_exhaustive()
    }
}
