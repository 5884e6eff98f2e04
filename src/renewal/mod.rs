//! Keeping tokens alive: renewal ahead of expiry for one token or a million.
//!
//! - [`TokenKeeper`] keeps one token alive (a storefront app's single customer
//!   session, or a CLI) and publishes it on a `tokio::sync::watch` channel.
//! - [`RenewalEngine`] keeps any number of tokens alive on one timer structure,
//!   renews them through a bounded pool behind a rate limit, stores every renewed
//!   token in a [`TokenStore`] before announcing it, and reports what happens as
//!   [`RenewalEvent`]s.
//!
//! Both are started explicitly by the caller ([`RenewalEngine::start`],
//! [`TokenKeeper::start`]) and stop when their last handle is dropped or on
//! `shutdown`.
//!
//! When to renew is [`RenewalPolicy`]'s job. Time comes from a [`Clock`](crate::Clock)
//! (wall clock and sleeping), so tests run on paused tokio time.
//!
//! ```
//! # #[cfg(feature = "mock")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use storefront_token::mock::MockStorefront;
//! use storefront_token::renewal::{RenewalEngine, StorefrontRenewer, TokenId};
//! use storefront_token::{Password, RetryPolicy, StorefrontClient};
//!
//! let shop = MockStorefront::builder().demo_customer("ada@example.com", "pw", "Ada").build().await?;
//! let client = StorefrontClient::builder()
//!     .endpoint(shop.endpoint())
//!     .public_token(shop.public_token())
//!     .retry_policy(RetryPolicy::never()) // the engine retries, spread over the time left
//!     .build()?;
//! let token = client.create_token("ada@example.com", &Password::new("pw")).await?;
//!
//! let engine = RenewalEngine::builder(StorefrontRenewer::new(client)).build();
//! let renewals = engine.start().await?;
//! let id = TokenId::new("customer-1");
//! renewals.add(id.clone(), token, None).await?;
//! shop.advance(std::time::Duration::from_secs(3600)); // so the renewal moves the expiry
//! let fresh = renewals.renew_now(&id).await?;
//! assert!(renewals.status(&id).await.is_some_and(|s| s.expires_at() == fresh.expires_at()));
//! renewals.shutdown().await;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "mock"))]
//! # fn main() {}
//! ```

mod credential;
mod driver;
mod engine;
mod events;
mod handle;
mod keeper;
mod policy;
mod pool;
mod schedule;
mod status;
mod store;

use std::fmt;
use std::sync::Arc;

pub use credential::{Renewable, StorefrontRenewer};
pub use engine::{RenewalEngine, RenewalEngineBuilder};
pub use events::{EventError, EventReceiver, RenewalEvent};
pub use handle::RenewalHandle;
pub use keeper::TokenKeeper;
pub use policy::RenewalPolicy;
pub use status::{RenewalError, RenewalErrorKind, TokenState, TokenStatus};
pub use store::{MemoryStore, PutOutcome, StoreError, StoredToken, TokenStore};

/// The caller's name for a token: a customer id, a session id — anything stable.
/// Its hash also fixes when in its lifetime the token is renewed, so replicas and
/// restarts agree.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// A token id.
    #[must_use]
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({:?})", &*self.0)
    }
}

impl From<&str> for TokenId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for TokenId {
    fn from(id: String) -> Self {
        Self::new(id)
    }
}
