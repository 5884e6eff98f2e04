//! One token kept alive: a [`RenewalEngine`] holding a single token, watched.

use std::fmt;

use tokio::sync::watch;

use super::credential::Renewable;
use super::error::{RenewalError, RenewalErrorKind};
use super::events::EventReceiver;
use super::id::TokenId;
use super::runtime::{RenewalEngine, RenewalHandle};
use super::status::TokenStatus;
use super::store::TokenStore;

/// Keeps one token alive and publishes it on a `tokio::sync::watch` channel.
///
/// Start it with [`start`](Self::start) (or [`start_with`](Self::start_with) for
/// your own policy, clock or store); it renews ahead of expiry until
/// [`shutdown`](Self::shutdown) or until the last clone is dropped. Concurrent
/// [`renew_now`](Self::renew_now) calls share one request.
///
/// ```
/// # #[cfg(feature = "mock")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use storefront_token::mock::MockStorefront;
/// use storefront_token::renewal::{StorefrontRenewer, TokenKeeper};
/// use storefront_token::{Password, StorefrontClient};
///
/// let shop = MockStorefront::builder().demo_customer("ada@example.com", "pw", "Ada").build().await?;
/// let client = StorefrontClient::builder()
///     .endpoint(shop.endpoint())
///     .public_token(shop.public_token())
///     .build()?;
/// let token = client.create_token("ada@example.com", &Password::new("pw")).await?;
///
/// let keeper = TokenKeeper::start(StorefrontRenewer::new(client.clone()), token).await?;
/// let current = keeper.token().await?; // valid now; renewed in the background
/// let customer = client.customer(current.access_token()).await?;
/// assert_eq!(customer.display_name, "Ada");
/// keeper.shutdown().await;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "mock"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct TokenKeeper<C> {
    handle: RenewalHandle<C>,
    id: TokenId,
    current: watch::Receiver<Option<C>>,
}

/// Never prints the credential: a credential other than the crate's own may not
/// redact itself.
impl<C: Clone + Send + Sync + 'static> fmt::Debug for TokenKeeper<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeeper")
            .field("holds_valid_token", &self.current.borrow().is_some())
            .field("engine", &self.handle)
            .finish()
    }
}

/// The id a keeper holds its one token under.
const KEEPER_TOKEN_ID: &str = "token";

impl<C: Clone + Send + Sync + 'static> TokenKeeper<C> {
    /// Keeps `credential` alive with the default policy, the system clock and an
    /// in-memory store.
    ///
    /// # Errors
    ///
    /// [`RenewalError`] if the engine cannot start.
    pub async fn start<R>(renewer: R, credential: C) -> Result<Self, RenewalError>
    where
        R: Renewable<Credential = C>,
    {
        Self::start_with(RenewalEngine::builder(renewer).build(), credential).await
    }

    /// Keeps `credential` alive with a configured engine. To see every event from
    /// the start, take [`RenewalEngine::events`] before calling this.
    ///
    /// # Errors
    ///
    /// [`RenewalError`] if the engine cannot start or store the token.
    pub async fn start_with<R, S>(
        engine: RenewalEngine<R, S>,
        credential: C,
    ) -> Result<Self, RenewalError>
    where
        R: Renewable<Credential = C>,
        S: TokenStore<C>,
    {
        let handle = engine.start().await?;
        let id = TokenId::new(KEEPER_TOKEN_ID);
        handle.add(id.clone(), credential, None).await?;
        let current = handle
            .watch(&id)
            .await
            .ok_or_else(|| RenewalError::new(RenewalErrorKind::Stopped))?;
        Ok(Self {
            handle,
            id,
            current,
        })
    }

    /// The current credential, or `None` once it has expired or been rejected.
    #[must_use]
    pub fn current(&self) -> Option<C> {
        self.current.borrow().clone()
    }

    /// A receiver that sees every new credential.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<Option<C>> {
        self.current.clone()
    }

    /// A credential that may be used now (not expired in the server's time, not
    /// rejected), at once (no renewal is awaited).
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Expired`] or [`RenewalErrorKind::Rejected`] when only a
    /// new login helps; [`RenewalErrorKind::Stopped`].
    pub async fn token(&self) -> Result<C, RenewalError> {
        self.handle.valid(&self.id).await
    }

    /// Renews now; concurrent calls and a renewal already running share one
    /// request.
    ///
    /// # Errors
    ///
    /// As [`RenewalHandle::renew_now`].
    pub async fn renew_now(&self) -> Result<C, RenewalError> {
        self.handle.renew_now(&self.id).await
    }

    /// The token's schedule and state.
    pub async fn status(&self) -> Option<TokenStatus<C>> {
        self.handle.status(&self.id).await
    }

    /// A receiver of the keeper's events.
    #[must_use]
    pub fn events(&self) -> EventReceiver {
        self.handle.events()
    }

    /// Stops renewing, after a renewal in flight has finished.
    pub async fn shutdown(&self) {
        self.handle.shutdown().await;
    }
}
