//! [`MockStorefrontBuilder`]: configures and starts a [`MockStorefront`].

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hyper::header::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::clock::Clock;
use super::customer::MockCustomer;
use super::error::MockError;
use super::graphql;
use super::server::{self, Shared};
use super::settings::{
    FixedSettings, LiveSettings, DEFAULT_API_VERSION, DEFAULT_PRIVATE_TOKEN, DEFAULT_PUBLIC_TOKEN,
};
use super::state::State;
use super::MockStorefront;

/// Configures a [`MockStorefront`]; get one from [`MockStorefront::builder`].
///
/// Every setting has a default, so `MockStorefront::builder().build().await`
/// is the same as [`MockStorefront::start`].
#[derive(Clone)]
#[must_use = "a builder does nothing until `build().await` is called"]
pub struct MockStorefrontBuilder {
    port: u16,
    api_version: String,
    public_token: String,
    private_token: String,
    api_version_header: Option<String>,
    deprecated_reason: Option<String>,
    live: LiveSettings,
    start_time: Option<DateTime<Utc>>,
    frozen_clock: bool,
    clock_source: Option<std::sync::Arc<dyn crate::Clock>>,
    customers: Vec<MockCustomer>,
}

impl std::fmt::Debug for MockStorefrontBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens and the customers' passwords stay out of logs, even in a mock.
        f.debug_struct("MockStorefrontBuilder")
            .field("port", &self.port)
            .field("api_version", &self.api_version)
            .field("api_version_header", &self.api_version_header)
            .field("deprecated_reason", &self.deprecated_reason)
            .field("start_time", &self.start_time)
            .field("frozen_clock", &self.frozen_clock)
            .field(
                "customers",
                &self
                    .customers
                    .iter()
                    .map(MockCustomer::email)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for MockStorefrontBuilder {
    fn default() -> Self {
        MockStorefrontBuilder {
            port: 0,
            api_version: DEFAULT_API_VERSION.to_owned(),
            public_token: DEFAULT_PUBLIC_TOKEN.to_owned(),
            private_token: DEFAULT_PRIVATE_TOKEN.to_owned(),
            api_version_header: None,
            deprecated_reason: None,
            live: LiveSettings::default(),
            start_time: None,
            frozen_clock: false,
            clock_source: None,
            customers: Vec::new(),
        }
    }
}

impl MockStorefrontBuilder {
    /// Port to listen on, on `127.0.0.1`. Default `0`: a free port chosen by the OS.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// API version served at `/api/{version}/graphql.json`. Default `"2026-04"`.
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Value accepted in `X-Shopify-Storefront-Access-Token`.
    /// Default `"mock-public-storefront-token"`.
    pub fn public_token(mut self, token: impl Into<String>) -> Self {
        self.public_token = token.into();
        self
    }

    /// Value accepted in `Shopify-Storefront-Private-Token`.
    /// Default `"mock-private-storefront-token"`.
    pub fn private_token(mut self, token: impl Into<String>) -> Self {
        self.private_token = token.into();
        self
    }

    /// Lifetime of new and renewed customer access tokens. Default 42 days, the only
    /// lifetime ever measured on Shopify (it is not documented).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.live.token_lifetime = lifetime;
        self
    }

    /// Whether `customerAccessTokenRenew` returns a new token string (and invalidates
    /// the old one). Default `false`: the same string with a later expiry.
    /// Shopify's real behaviour is unconfirmed; test your client with both.
    pub fn renew_rotates_token(mut self, rotate: bool) -> Self {
        self.live.renew_rotates_token = rotate;
        self
    }

    /// `userErrors[].message` for an unknown, expired or revoked customer access token.
    /// Default `"Customer access token is invalid."`, which is illustrative:
    /// Shopify's exact message is unconfirmed, so clients should not match on it.
    pub fn invalid_token_message(mut self, message: impl Into<String>) -> Self {
        self.live.invalid_token_message = message.into();
        self
    }

    /// Whether token mutations fail with a top-level `ACCESS_DENIED` error, as when the
    /// storefront token lacks the `unauthenticated_write_customers` scope. Default `false`.
    pub fn customer_scope_denied(mut self, denied: bool) -> Self {
        self.live.customer_scope_denied = denied;
        self
    }

    /// Value of the `X-Shopify-API-Version` response header. Default: the API version.
    /// Set it to something else to test a client's version-mismatch warning.
    pub fn api_version_header(mut self, version: impl Into<String>) -> Self {
        self.api_version_header = Some(version.into());
        self
    }

    /// Sends `X-Shopify-API-Deprecated-Reason` with this value on every response.
    /// Default: not sent.
    pub fn deprecated_reason(mut self, reason: impl Into<String>) -> Self {
        self.deprecated_reason = Some(reason.into());
        self
    }

    /// Initial time of the mock's clock. Default: the real current time.
    pub fn start_time(mut self, at: DateTime<Utc>) -> Self {
        self.start_time = Some(at);
        self
    }

    /// Makes the mock's clock follow `clock` (moved by [`MockStorefront::advance`]
    /// and [`MockStorefront::set_now`] relative to it), for tests that share one
    /// simulated time between the mock and the code under test. Overrides
    /// [`start_time`](Self::start_time) and [`frozen_clock`](Self::frozen_clock).
    pub fn clock(mut self, clock: impl crate::Clock) -> Self {
        self.clock_source = Some(std::sync::Arc::new(clock));
        self
    }

    /// Whether the mock's clock stands still between [`MockStorefront::advance`] and
    /// [`MockStorefront::set_now`] calls. Default `false`: it ticks with real time.
    /// A frozen clock makes `expiresAt` values exactly predictable.
    pub fn frozen_clock(mut self, frozen: bool) -> Self {
        self.frozen_clock = frozen;
        self
    }

    /// Registers a customer at start, as [`MockStorefront::add_customer`] does
    /// (`display_name` also gives `firstName` and `lastName`, split at its first space).
    pub fn demo_customer(
        mut self,
        email: impl Into<String>,
        password: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        self.customers.push(MockCustomer::from_display_name(
            &email.into(),
            &password.into(),
            &display_name.into(),
        ));
        self
    }

    /// Registers a customer with its whole profile at start, as
    /// [`MockStorefront::add_mock_customer`] does.
    pub fn customer(mut self, customer: MockCustomer) -> Self {
        self.customers.push(customer);
        self
    }

    /// The `shop { name }` the mock serves. Default `"Mock Storefront"`.
    pub fn shop_name(mut self, name: impl Into<String>) -> Self {
        self.live.shop_name = name.into();
        self
    }

    fn validate(&self) -> Result<(), MockError> {
        let version_ok = !self.api_version.is_empty()
            && self
                .api_version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !version_ok {
            return Err(MockError::InvalidSetting(
                "api_version must be non-empty and use only letters, digits, '-', '_' or '.'"
                    .to_owned(),
            ));
        }
        let headers = [
            ("public_token", Some(&self.public_token)),
            ("private_token", Some(&self.private_token)),
            ("api_version_header", self.api_version_header.as_ref()),
            ("deprecated_reason", self.deprecated_reason.as_ref()),
        ];
        for (name, value) in headers {
            if let Some(value) = value {
                if HeaderValue::from_str(value).is_err() {
                    return Err(MockError::InvalidSetting(format!(
                        "{name} is not a valid HTTP header value"
                    )));
                }
            }
        }
        if self.public_token.is_empty() || self.private_token.is_empty() {
            return Err(MockError::InvalidSetting(
                "public_token and private_token must not be empty".to_owned(),
            ));
        }
        Ok(())
    }

    /// Binds `127.0.0.1:{port}` and starts serving on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`MockError::Bind`] if the port cannot be bound, [`MockError::InvalidSetting`]
    /// if a setting cannot be used (e.g. a token that is not a valid header value).
    pub async fn build(self) -> Result<MockStorefront, MockError> {
        self.validate()?;
        let schema = graphql::schema()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| MockError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| MockError::Bind { addr, source })?;
        let clock = match self.clock_source {
            Some(source) => Clock::following(source),
            None => Clock::new(self.start_time.unwrap_or_else(Utc::now), self.frozen_clock),
        };
        let mut state = State::new(self.live, clock);
        state.origin = format!("http://{addr}");
        for customer in &self.customers {
            state.add_profile(customer);
        }
        let fixed = FixedSettings {
            api_version_header: self
                .api_version_header
                .unwrap_or_else(|| self.api_version.clone()),
            api_version: self.api_version,
            public_token: self.public_token,
            private_token: self.private_token,
            deprecated_reason: self.deprecated_reason,
        };
        let shared = Arc::new(Shared::new(schema, fixed, state));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = server::spawn(listener, Arc::clone(&shared), shutdown_rx);
        tracing::debug!(%addr, "mock storefront: listening");
        Ok(MockStorefront::from_parts(addr, shared, shutdown, task))
    }
}
