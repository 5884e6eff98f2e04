//! The public result types: a customer access token with its expiry, and a customer.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::AccessToken;

/// A customer access token together with the instant Shopify says it expires.
///
/// Shopify does not document the lifetime (about 42 days was measured once, in
/// 2021); always go by [`expires_at`](Self::expires_at).
///
/// ```
/// use chrono::{TimeDelta, Utc};
/// use storefront_token::{AccessToken, CustomerAccessToken};
///
/// let now = Utc::now();
/// let token = CustomerAccessToken::new(AccessToken::new("t"), now + TimeDelta::days(42));
/// assert!(!token.is_expired_at(now));
/// assert_eq!(token.time_left_at(now).as_secs(), 42 * 24 * 3600);
/// assert!(token.is_expired_at(now + TimeDelta::days(42)));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerAccessToken {
    access_token: AccessToken,
    expires_at: DateTime<Utc>,
}

impl CustomerAccessToken {
    /// A token that expires at `expires_at`.
    #[must_use]
    pub fn new(access_token: AccessToken, expires_at: DateTime<Utc>) -> Self {
        Self {
            access_token,
            expires_at,
        }
    }

    /// The secret token itself.
    #[must_use]
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// When Shopify stops accepting the token (and refuses to renew it).
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Whether the token has expired at `now`. A token is valid strictly before
    /// its `expires_at`.
    #[must_use]
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Whether the token has expired by the system clock.
    #[must_use]
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(Utc::now())
    }

    /// Time left before expiry at `now`; zero once expired.
    #[must_use]
    pub fn time_left_at(&self, now: DateTime<Utc>) -> Duration {
        (self.expires_at - now).to_std().unwrap_or(Duration::ZERO)
    }

    /// Time left before expiry by the system clock; zero once expired.
    #[must_use]
    pub fn time_left(&self) -> Duration {
        self.time_left_at(Utc::now())
    }

    /// Splits into the secret and the expiry.
    #[must_use]
    pub fn into_parts(self) -> (AccessToken, DateTime<Utc>) {
        (self.access_token, self.expires_at)
    }
}

impl fmt::Debug for CustomerAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerAccessToken")
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The customer a token belongs to, as read by the `customer` query.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Customer {
    /// Shopify's global ID, such as `gid://shopify/Customer/1`.
    pub id: String,
    /// The customer's email address, when the shop has one.
    pub email: Option<String>,
    /// The customer's name, email or phone number, as Shopify chooses to display it.
    pub display_name: String,
}

impl Customer {
    /// A customer, for instance to stand in for the client in your own tests.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        email: Option<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            email,
            display_name: display_name.into(),
        }
    }
}
