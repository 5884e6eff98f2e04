//! What the engine renews: any expiring credential behind [`Renewable`], the
//! Storefront customer token as the first of them, and how a failure is
//! classified ([`FailureClass`]).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{CustomerAccessToken, Error, FailureScope, StorefrontClient};

/// How far a failed renewal reaches, as the engine acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureClass {
    /// This credential is dead: only a new login helps. (Before declaring it dead
    /// the engine re-reads the store: another replica may have renewed it.)
    Token,
    /// The server refuses every credential for now (a wrong storefront token, a
    /// frozen or locked shop, a missing scope): renewals pause for the whole shop
    /// behind one circuit breaker instead of failing token by token.
    Shop,
    /// May pass: retried for this token with backoff until it expires, never
    /// sooner than `retry_after` when the server gave one.
    Transient {
        /// The least wait the server asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
}

/// A kind of expiring credential the engine can keep alive.
///
/// Implement it for another credential (a Customer Account API OAuth token
/// refreshed with its refresh token, say) and the scheduler works unchanged. To
/// keep such credentials in a built-in store that writes outside the process,
/// give them a versioned byte encoding with
/// [`StorableCredential`](crate::at_rest::StorableCredential).
pub trait Renewable: Send + Sync + 'static {
    /// The credential: a value with an expiry.
    type Credential: Clone + Send + Sync + 'static;
    /// Why a renewal failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// When `credential` expires, in the server's time. A cheap accessor; the
    /// engine calls it once for each credential it receives.
    fn expires_at(&self, credential: &Self::Credential) -> DateTime<Utc>;

    /// Renews `credential`, returning its successor (which may be the same secret
    /// with a later expiry, or a new secret).
    fn renew(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Self::Credential, Self::Error>> + Send;

    /// How far `error` reaches. The default treats every error as transient.
    fn classify(&self, error: &Self::Error) -> FailureClass {
        let _ = error;
        FailureClass::Transient { retry_after: None }
    }

    /// The server's clock minus ours, if known, so expiries can be compared in the
    /// server's time.
    fn server_clock_offset(&self) -> Option<TimeDelta> {
        None
    }

    /// Forgets the server-clock estimate: called after the local wall clock jumped,
    /// when samples taken before the jump no longer mean anything.
    fn reset_server_clock_offset(&self) {}
}

/// Renews Storefront customer access tokens with `customerAccessTokenRenew`.
#[derive(Debug, Clone)]
pub struct StorefrontRenewer {
    client: StorefrontClient,
}

impl StorefrontRenewer {
    /// Renews through `client`. Give the client a short retry policy (or
    /// [`RetryPolicy::never`](crate::RetryPolicy::never)): the engine does its own
    /// retrying, spread over the time left before expiry.
    #[must_use]
    pub fn new(client: StorefrontClient) -> Self {
        Self { client }
    }

    /// The client renewals go through.
    #[must_use]
    pub fn client(&self) -> &StorefrontClient {
        &self.client
    }
}

impl Renewable for StorefrontRenewer {
    type Credential = CustomerAccessToken;
    type Error = Error;

    fn expires_at(&self, credential: &CustomerAccessToken) -> DateTime<Utc> {
        credential.expires_at()
    }

    async fn renew(&self, credential: &CustomerAccessToken) -> Result<CustomerAccessToken, Error> {
        self.client.renew_token(credential.access_token()).await
    }

    /// [`Error::failure_scope`] decides; `Retry-After` is kept as the least wait.
    fn classify(&self, error: &Error) -> FailureClass {
        match error.failure_scope() {
            FailureScope::Token => FailureClass::Token,
            FailureScope::Shop => FailureClass::Shop,
            _ => FailureClass::Transient {
                retry_after: error.retry_after(),
            },
        }
    }

    fn server_clock_offset(&self) -> Option<TimeDelta> {
        self.client.server_clock_offset()
    }

    fn reset_server_clock_offset(&self) {
        self.client.reset_server_clock_offset();
    }
}

/// Why a re-login hook gave no credential: for now (retried with backoff) or for
/// good (the token is dropped).
#[derive(Debug)]
pub struct ReloginError {
    retry: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ReloginError {
    /// Failed for now (a network blip, a 503): the engine tries again later.
    pub fn retry_later(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            retry: true,
            source: Some(source.into()),
        }
    }

    /// No way to log in (no stored password, wrong credentials): the token is
    /// dropped and deleted from the store.
    #[must_use]
    pub fn give_up() -> Self {
        Self {
            retry: false,
            source: None,
        }
    }

    /// [`give_up`](Self::give_up), saying why.
    pub fn give_up_because(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            retry: false,
            source: Some(source.into()),
        }
    }

    /// Whether the engine will try again.
    #[must_use]
    pub fn will_retry(&self) -> bool {
        self.retry
    }
}

impl std::fmt::Display for ReloginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.retry {
            "re-login failed for now"
        } else {
            "no re-login possible"
        })
    }
}

impl std::error::Error for ReloginError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// A Storefront error from `create_token` in a re-login hook: transient ones
/// are retried; a rejected login, a shop-level refusal and anything else that
/// waiting cannot heal give up.
impl From<Error> for ReloginError {
    fn from(error: Error) -> Self {
        if error.is_transient() {
            Self::retry_later(error)
        } else {
            Self::give_up_because(error)
        }
    }
}
