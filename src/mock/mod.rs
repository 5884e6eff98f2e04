//! A stateful mock of the Shopify Storefront API, served over real HTTP on loopback.
//!
//! [`MockStorefront`] implements the customer access token lifecycle the way Shopify
//! documents it (`customerAccessTokenCreate`, `customerAccessTokenRenew`,
//! `customerAccessTokenDelete` and `customer(customerAccessToken:)`), so you can test
//! an application's login, renewal and logout paths without a real shop:
//!
//! * one endpoint, `POST /api/{version}/graphql.json`, with Storefront authentication
//!   (public or private access token header);
//! * every document is validated against a trimmed copy of the 2026-04 schema and
//!   variables are coerced with a real GraphQL implementation, so a misspelt field or a
//!   wrongly typed variable is rejected as Shopify would (`GRAPHQL_VALIDATION_FAILED`);
//! * execution follows the GraphQL specification (aliases, `__typename`, fragments,
//!   `@skip`/`@include`), and introspection (`__schema`, `__type`) is answered;
//! * what Shopify's own clients send is accepted: `@inContext` on queries and mutations,
//!   `@defer` (answered in one response), several operations with `operationName`,
//!   `application/graphql` bodies, CORS preflights; misused directives and operation
//!   names get Shopify's (graphql-ruby's) error messages;
//! * beyond the token lifecycle it serves the customer's profile ([`MockCustomer`]),
//!   `shop { name }` and minimal carts (`cartCreate`, `cartBuyerIdentityUpdate`,
//!   `cart`), so an app can attach a logged-in customer to a cart;
//! * the mock has its own clock ([`MockStorefront::advance`]) so expiry is testable
//!   without waiting, and settings for what Shopify leaves unconfirmed (token lifetime,
//!   whether renewal rotates the token, the invalid-token message);
//! * [`Fault`]s script transport failures: status codes with `Retry-After`, throttling,
//!   HTML error pages, truncated or oversized bodies, delays and dropped connections.
//!
//! Every response carries `X-Request-Id`, `X-Shopify-API-Version` and a `Date` taken
//! from the mock's clock. Tokens and passwords are never logged; the mock logs only
//! operation names, fault kinds and statuses, at `debug` level through `tracing`.
//!
//! # Example
//!
//! ```rust
//! use std::time::Duration;
//! use storefront_token::mock::{Fault, MockStorefront};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let shop = MockStorefront::builder()
//!     .demo_customer("ada@example.com", "hunter2", "Ada Lovelace")
//!     .renew_rotates_token(true)
//!     .build()
//!     .await?;
//!
//! // Point your client at the mock.
//! let endpoint = shop.endpoint(); // http://127.0.0.1:PORT/api/2026-04/graphql.json
//! let header_value = shop.public_token(); // for X-Shopify-Storefront-Access-Token
//! # let _ = (endpoint, header_value);
//!
//! // Set up state directly, then move time past the token's expiry.
//! let (token, expires_at) = shop.issue_token("ada@example.com").ok_or("no such customer")?;
//! assert_eq!(shop.token_expires_at(&token), Some(expires_at));
//! shop.advance(Duration::from_secs(43 * 24 * 60 * 60));
//! assert_eq!(shop.token_expires_at(&token), None);
//!
//! // Make the next request fail with HTTP 429 and `Retry-After: 2`.
//! shop.inject(Fault::Status { status: 429, retry_after: Some("2".into()) }, 1);
//!
//! shop.shutdown().await;
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(demo())
//! # .map_err(|e| e.to_string())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod clock;
mod customer;
mod error;
mod faults;
#[cfg(fuzzing)]
pub(crate) mod fuzz;
mod graphql;
mod reply;
mod resolvers;
mod server;
mod settings;
mod sim_clock;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use builder::MockStorefrontBuilder;
pub use customer::MockCustomer;
pub use error::MockError;
pub use faults::Fault;
pub use sim_clock::SimulatedClock;

use server::Shared;

use crate::Operation;

/// A running mock Storefront. Stops when dropped or on [`shutdown`](Self::shutdown).
///
/// All methods are cheap and synchronous (except start and shutdown); they take a
/// short-lived lock on the mock's state, so they can be called from tests while
/// requests are in flight. The server runs on the tokio runtime that called
/// [`start`](Self::start) or [`MockStorefrontBuilder::build`].
pub struct MockStorefront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockStorefront {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print tokens.
        f.debug_struct("MockStorefront")
            .field("addr", &self.addr)
            .field("api_version", &self.shared.fixed.api_version)
            .finish_non_exhaustive()
    }
}

impl MockStorefront {
    /// Starts a mock with default settings on a free port of `127.0.0.1`.
    ///
    /// # Errors
    ///
    /// [`MockError::Bind`] if no socket could be bound.
    pub async fn start() -> Result<MockStorefront, MockError> {
        MockStorefrontBuilder::default().build().await
    }

    /// A builder to configure the mock before starting it.
    pub fn builder() -> MockStorefrontBuilder {
        MockStorefrontBuilder::default()
    }

    pub(crate) fn from_parts(
        addr: SocketAddr,
        shared: Arc<Shared>,
        shutdown: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> Self {
        MockStorefront {
            addr,
            shared,
            shutdown,
            task: Some(task),
        }
    }

    /// The socket address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The GraphQL endpoint, e.g. `http://127.0.0.1:PORT/api/2026-04/graphql.json`.
    pub fn endpoint(&self) -> String {
        format!(
            "http://{}/api/{}/graphql.json",
            self.addr, self.shared.fixed.api_version
        )
    }

    /// The API version in the endpoint path.
    pub fn api_version(&self) -> &str {
        &self.shared.fixed.api_version
    }

    /// The value accepted in the `X-Shopify-Storefront-Access-Token` header.
    pub fn public_token(&self) -> &str {
        &self.shared.fixed.public_token
    }

    /// The value accepted in the `Shopify-Storefront-Private-Token` header.
    pub fn private_token(&self) -> &str {
        &self.shared.fixed.private_token
    }

    /// The last `Shopify-Storefront-Buyer-IP` header value seen on a request
    /// authenticated with the private token.
    pub fn last_buyer_ip(&self) -> Option<String> {
        self.shared.lock().last_buyer_ip.clone()
    }

    /// Registers a customer who can log in with `email` (matched case-insensitively)
    /// and `password`; returns its id, `gid://shopify/Customer/N`.
    /// A customer with the same email is replaced (and keeps its id and `createdAt`).
    ///
    /// `display_name` is served as `displayName`, and split at its first space into
    /// `firstName` and `lastName` (unless it contains `@`). Use
    /// [`add_mock_customer`](Self::add_mock_customer) to set each field.
    pub fn add_customer(&self, email: &str, password: &str, display_name: &str) -> String {
        self.shared
            .lock()
            .add_customer(email, password, display_name)
    }

    /// Registers a customer with its whole profile (first and last name, phone,
    /// display name); returns its id. `createdAt` and `updatedAt` are the mock's
    /// current time; a customer with the same email is replaced (and keeps its id
    /// and `createdAt`).
    pub fn add_mock_customer(&self, customer: &MockCustomer) -> String {
        self.shared.lock().add_profile(customer)
    }

    /// The `shop { name }` the mock serves (default `"Mock Storefront"`).
    pub fn shop_name(&self) -> String {
        self.shared.lock().settings.shop_name.clone()
    }

    /// Sets the `shop { name }` the mock serves.
    pub fn set_shop_name(&self, name: &str) {
        name.clone_into(&mut self.shared.lock().settings.shop_name);
    }

    /// The id of the customer attached to a cart (by `cartCreate` or
    /// `cartBuyerIdentityUpdate` with a valid `customerAccessToken`); `None` if the
    /// cart is unknown or has no customer.
    pub fn cart_customer(&self, cart_id: &str) -> Option<String> {
        let state = self.shared.lock();
        let index = state.cart(cart_id)?.customer?;
        state.customer_at(index).map(|c| c.id.clone())
    }

    /// Mints a customer access token without HTTP, as a successful
    /// `customerAccessTokenCreate` would. `None` if no customer has this email.
    pub fn issue_token(&self, email: &str) -> Option<(String, DateTime<Utc>)> {
        self.shared
            .lock()
            .issue_token(email)
            .map(|t| (t.access_token, t.expires_at))
    }

    /// The expiry of a live token; `None` if it is unknown, revoked or expired.
    pub fn token_expires_at(&self, token: &str) -> Option<DateTime<Utc>> {
        self.shared.lock().expires_at(token)
    }

    /// Revokes a token (as `customerAccessTokenDelete` would); `true` if it was known.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.shared.lock().revoke(token)
    }

    /// The mock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().clock.now()
    }

    /// Moves the mock's clock forward.
    pub fn advance(&self, by: Duration) {
        self.shared.lock().clock.advance(by);
    }

    /// Sets the mock's clock (it keeps ticking from there unless frozen).
    pub fn set_now(&self, at: DateTime<Utc>) {
        self.shared.lock().clock.set_now(at);
    }

    /// Lifetime of tokens created or renewed from now on (default 42 days).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock().settings.token_lifetime = lifetime;
    }

    /// Whether renewal returns a new token string and invalidates the old one
    /// (default `false`). Shopify's behaviour is unconfirmed.
    pub fn set_renew_rotates_token(&self, rotate: bool) {
        self.shared.lock().settings.renew_rotates_token = rotate;
    }

    /// The `userErrors` message for unknown, expired or revoked tokens.
    /// The default text is illustrative; Shopify's exact message is unconfirmed.
    pub fn set_invalid_token_message(&self, message: &str) {
        message.clone_into(&mut self.shared.lock().settings.invalid_token_message);
    }

    /// When `true`, the customer token mutations fail with a top-level `ACCESS_DENIED` error
    /// (`"CustomerAccessTokenRenew access denied"` and so on) and `null` data, as when
    /// the storefront token lacks the `unauthenticated_write_customers` scope.
    pub fn set_customer_scope_denied(&self, denied: bool) {
        self.shared.lock().settings.customer_scope_denied = denied;
    }

    /// Makes the next `times` HTTP requests fail with `fault`, after any faults
    /// already queued. See [`Fault`].
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut state = self.shared.lock();
        state.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Serves `fault` at random to each request that has no queued fault, with
    /// `probability` (0 to 1); `None` stops it. For soak tests.
    pub fn set_random_fault(&self, fault: Option<(Fault, f64)>) {
        self.shared.lock().random_fault = fault;
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many faults are still queued.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Requests whose GraphQL document selected this operation's root field,
    /// including requests that were then rejected or answered with a fault.
    pub fn requests(&self, op: Operation) -> u64 {
        self.shared.lock().requests(op)
    }

    /// Every HTTP request received, valid or not.
    pub fn total_requests(&self) -> u64 {
        self.shared.lock().total_requests
    }

    /// Stops accepting connections, closes open ones and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockStorefront {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
