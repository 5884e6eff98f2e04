//! What the engine renews: any expiring credential behind [`Renewable`], and the
//! Storefront customer token as the first of them.

use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{CustomerAccessToken, Error, StorefrontClient};

/// A kind of expiring credential the engine can keep alive.
///
/// Implement it for another credential (a Customer Account API OAuth token
/// refreshed with its refresh token, say) and the scheduler works unchanged.
pub trait Renewable: Send + Sync + 'static {
    /// The credential: a value with an expiry.
    type Credential: Clone + Send + Sync + 'static;
    /// Why a renewal failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// When `credential` expires, in the server's time.
    ///
    /// The engine calls this while its schedule is locked: it must be a cheap
    /// accessor that neither blocks nor panics.
    fn expires_at(&self, credential: &Self::Credential) -> DateTime<Utc>;

    /// Renews `credential`, returning its successor (which may be the same secret
    /// with a later expiry).
    fn renew(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Self::Credential, Self::Error>> + Send;

    /// Whether `error` means the credential is dead for good (only a new login
    /// helps). Anything else, unknown errors included, is retried until expiry.
    fn is_rejected(&self, error: &Self::Error) -> bool;

    /// The server's clock minus ours, if known, so expiries can be compared in the
    /// server's time.
    fn server_clock_offset(&self) -> Option<TimeDelta> {
        None
    }
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

    fn is_rejected(&self, error: &Error) -> bool {
        error.must_log_in_again()
    }

    fn server_clock_offset(&self) -> Option<TimeDelta> {
        self.client.server_clock_offset()
    }
}
