//! Keeping tokens alive: renewal ahead of expiry for one token or a million.
//!
//! - [`TokenKeeper`] keeps one token alive (a storefront app's single customer
//!   session, or a CLI) and publishes it on a `tokio::sync::watch` channel.
//! - [`RenewalEngine`] keeps any number of tokens alive on one timer structure,
//!   renews them through a bounded pool behind a rate limit, stores every renewed
//!   token in a [`TokenStore`] before announcing it, and reports what happens as
//!   [`RenewalEvent`]s. Replicas sharing a store renew each token once per cycle
//!   (see the [`TokenStore`] protocol).
//!
//! Both are started explicitly by the caller ([`RenewalEngine::start`],
//! [`TokenKeeper::start`]) and stop when their last handle is dropped or on
//! `shutdown`.
//!
//! Inside, a synchronous state machine (no tokio, an explicit time for every
//! input) holds every token's schedule and state; a thin tokio layer (one driver
//! task, a pool of workers, the handles) drives it. When to renew is
//! [`RenewalPolicy`]'s job. Time comes from a [`Clock`](crate::Clock)
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

mod core;
mod credential;
mod error;
mod events;
#[cfg(feature = "file-store")]
mod file_store;
mod id;
mod keeper;
mod memory_store;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod policy;
#[cfg(feature = "redis")]
mod redis_store;
mod runtime;
mod status;
mod store;

pub use credential::{FailureClass, ReloginError, Renewable, StorefrontRenewer};
pub use error::{RenewalError, RenewalErrorKind, SharedError};
pub use events::{EventError, EventReceiver, RenewalEvent};
#[cfg(feature = "file-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "file-store")))]
pub use file_store::{FileStore, FileStoreError, FileStoreErrorKind};
pub use id::TokenId;
pub use keeper::TokenKeeper;
pub use memory_store::MemoryStore;
pub use policy::RenewalPolicy;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::{RedisStore, RedisStoreBuilder, RedisTarget, ResealReport};
pub use runtime::{RenewalEngine, RenewalEngineBuilder, RenewalHandle};
pub use status::{TokenState, TokenStatus};
pub use store::{LeaseOutcome, PutOutcome, ReplicaId, StoreError, StoredToken, TokenStore};
