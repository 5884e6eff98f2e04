//! `storefront_app`: a small storefront web app (axum) that logs customers in and
//! keeps every customer's session alive with one [`RenewalEngine`] over a
//! [`MemoryStore`], or over a [`RedisStore`] shared by several replicas.
//!
//! ```text
//! cargo run --example storefront_app            # against an embedded mock shop
//! PORT=8080 cargo run --example storefront_app  # another port (default 3000)
//! STOREFRONT_SHOP=my-shop STOREFRONT_PUBLIC_TOKEN=... cargo run --example storefront_app
//! ```
//!
//! Without `STOREFRONT_SHOP` or `STOREFRONT_ENDPOINT` the app starts a mock
//! Storefront in-process with a demo customer, whose tokens live
//! `MOCK_TOKEN_LIFETIME_SECS` (default 60) so renewals show in the log within a
//! minute. `RUST_LOG` sets the log level (default `info`).
//!
//! Replicas: with `STOREFRONT_REDIS_URL` set, sessions live in Redis, sealed
//! with the keys in `STOREFRONT_TOKEN_KEYS` (`openssl rand -base64 32`; see
//! `storefront_token::at_rest`), under `STOREFRONT_REDIS_PREFIX` (default
//! `storefront-app`). Every replica then serves every session: the cookie's
//! hash is the token's id, read through from Redis by whichever replica the
//! request reaches, and each token is renewed by one replica per cycle. Point
//! the replicas at one shop (`STOREFRONT_ENDPOINT`; for a shared mock,
//! `cargo run --example storefront-token -- mock`):
//!
//! ```text
//! export STOREFRONT_REDIS_URL=redis://127.0.0.1:6379 STOREFRONT_TOKEN_KEYS=$(openssl rand -base64 32)
//! PORT=3001 cargo run --example storefront_app & PORT=3002 cargo run --example storefront_app
//! ```
//!
//! Routes (bound to 127.0.0.1 only):
//!
//! - `POST /login` (form or JSON: `email`, `password`): logs the customer in with
//!   `customerAccessTokenCreate`, hands the token to the engine, and sets an
//!   `HttpOnly`, `SameSite=Strict` cookie holding a random session secret. The
//!   customer token never leaves the server.
//! - `GET /me`: the logged-in customer (`display_name`, `email`, `expires_at`);
//!   401 when the session is unknown, expired or rejected.
//! - `POST /logout`: revokes the token, forgets the session, clears the cookie.
//! - `GET /sessions`: a debug view of the sessions this replica holds, their
//!   state and schedule (no tokens, no session secrets). Protect or remove it in
//!   a real app.
//! - `GET /metrics`: the renewal engine's metrics in Prometheus's text format
//!   (`storefront_token_*`, see `storefront_token::renewal::metrics`), for a
//!   scraper. No session ids or tokens are in them.
//!
//! ```text
//! curl -c jar -d email=ada@example.com -d 'password=correct horse battery staple' localhost:3000/login
//! curl -b jar localhost:3000/me
//! curl -b jar -c jar -X POST localhost:3000/logout
//! curl localhost:3000/metrics
//! ```
//!
//! The cookie holds a 128-bit secret from the OS's random source; the engine and
//! the store know each session only by a hash of it, so neither logs nor
//! `/sessions` reveal a usable cookie. Served over HTTPS, the cookie should also
//! be `Secure`.

use std::error::Error as StdError;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use storefront_token::at_rest::{Keyring, Sealer, KEYS_ENV};
use storefront_token::mock::MockStorefront;
use storefront_token::renewal::metrics as engine_metrics;
use storefront_token::renewal::{
    EventError, EventReceiver, MemoryStore, RedisStore, RenewalEngine, RenewalError,
    RenewalErrorKind, RenewalEvent, RenewalHandle, RenewalPolicy, StorefrontRenewer, TokenId,
    TokenState, TokenStatus, TokenStore,
};
use storefront_token::{
    CustomerAccessToken, ErrorKind, ErrorReport, Password, RetryPolicy, StorefrontClient,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "storefront_session";
/// The embedded mock's demo customer.
pub const DEMO_EMAIL: &str = "ada@example.com";
/// The demo customer's password.
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
const DEMO_NAME: &str = "Ada Lovelace";
/// The embedded mock's token lifetime unless `MOCK_TOKEN_LIFETIME_SECS` says
/// otherwise: short, so renewals are seen (Shopify's is about 42 days).
const DEFAULT_MOCK_LIFETIME: Duration = Duration::from_secs(60);
const DEFAULT_PORT: u16 = 3000;
/// Length of a session secret in hex digits (128 bits).
const SESSION_SECRET_HEX: usize = 32;
/// Where the replicas' Redis is; unset: sessions in memory, this process only.
pub const REDIS_URL_ENV: &str = "STOREFRONT_REDIS_URL";
/// What the app's keys in Redis start with.
const REDIS_PREFIX_ENV: &str = "STOREFRONT_REDIS_PREFIX";
const DEFAULT_REDIS_PREFIX: &str = "storefront-app";
/// Prometheus's text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type BoxError = Box<dyn StdError + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Colour only on a terminal, and never with NO_COLOR set.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
    // Before the engine starts: it registers its metrics with this recorder.
    let metrics = prometheus()?.install_recorder()?;
    let shop = Shop::from_env().await?;
    let client = shop.client(RetryPolicy::default())?;
    let renewer = shop.client(RetryPolicy::never())?; // the engine retries renewals itself
    let policy = RenewalPolicy::default();
    let redis = redis_store_from_env().await?;
    let sessions = if redis.is_some() { "Redis" } else { "memory" };
    let state = match redis {
        Some(store) => AppState::start_on(client, renewer, policy, Arc::new(store)).await?,
        None => AppState::start(client, renewer, policy).await?,
    }
    .with_metrics(metrics);
    let port = port_from_env()?;
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    print_banner(&shop, listener.local_addr()?.port(), sessions);
    axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(ctrl_c())
        .await?;
    tracing::info!("shutting down: waiting for renewals in flight");
    state.renewals.shutdown().await;
    if let Shop::Mock(mock) = shop {
        mock.shutdown().await;
    }
    Ok(())
}

async fn ctrl_c() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "could not wait for ctrl-c; stopping");
    }
}

fn port_from_env() -> Result<u16, BoxError> {
    match std::env::var("PORT") {
        Ok(port) => Ok(port
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {port:?}"))?),
        Err(_) => Ok(DEFAULT_PORT),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The Prometheus exporter, with buckets for the engine's histograms (without
/// them it would report quantiles, which cannot be summed across replicas).
pub fn prometheus() -> Result<PrometheusBuilder, BoxError> {
    let metric = |name: &str| Matcher::Full(name.to_owned());
    let minute = 60.0;
    let hour = 60.0 * minute;
    let day = 24.0 * hour;
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(
            metric(engine_metrics::TIME_LEFT),
            &[
                minute,
                5.0 * minute,
                15.0 * minute,
                hour,
                6.0 * hour,
                day,
                3.0 * day,
                7.0 * day,
                14.0 * day,
                21.0 * day,
            ],
        )?
        .set_buckets_for_metric(
            metric(engine_metrics::START_LATENESS),
            &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 300.0],
        )?
        .set_buckets_for_metric(
            metric(engine_metrics::STORE_LATENCY),
            &[
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ],
        )?)
}

/// The replicas' shared session store, when `STOREFRONT_REDIS_URL` is set.
async fn redis_store_from_env() -> Result<Option<RedisStore>, BoxError> {
    let Some(url) = non_empty_env(REDIS_URL_ENV) else {
        return Ok(None);
    };
    let keys = Keyring::from_env()
        .map_err(|error| format!("{REDIS_URL_ENV} needs the keys in {KEYS_ENV}: {error}"))?;
    let prefix = non_empty_env(REDIS_PREFIX_ENV).unwrap_or_else(|| DEFAULT_REDIS_PREFIX.into());
    Ok(Some(redis_store(&url, keys, &prefix).await?))
}

/// A session store in the Redis at `url` (its password, if any, is never
/// logged), sealing tokens with `keys`, under `prefix`.
pub async fn redis_store(url: &str, keys: Keyring, prefix: &str) -> Result<RedisStore, BoxError> {
    Ok(RedisStore::builder(url, Sealer::new(keys))
        .prefix(prefix)
        .build()
        .await?)
}

/// The Storefront the app talks to: a real shop, or the embedded mock.
pub enum Shop {
    /// A real shop (or any endpoint) with its public storefront token.
    Remote {
        /// `STOREFRONT_SHOP` (a shop name or domain) …
        shop: Option<String>,
        /// … or `STOREFRONT_ENDPOINT` (a full GraphQL URL).
        endpoint: Option<String>,
        /// `STOREFRONT_PUBLIC_TOKEN`.
        public_token: String,
    },
    /// The mock, started in-process with the demo customer.
    Mock(MockStorefront),
}

impl Shop {
    async fn from_env() -> Result<Self, BoxError> {
        let shop = non_empty_env("STOREFRONT_SHOP");
        let endpoint = non_empty_env("STOREFRONT_ENDPOINT");
        if shop.is_some() || endpoint.is_some() {
            let public_token = non_empty_env("STOREFRONT_PUBLIC_TOKEN")
                .ok_or("STOREFRONT_SHOP/STOREFRONT_ENDPOINT need STOREFRONT_PUBLIC_TOKEN")?;
            return Ok(Shop::Remote {
                shop,
                endpoint,
                public_token,
            });
        }
        let lifetime = match non_empty_env("MOCK_TOKEN_LIFETIME_SECS") {
            Some(seconds) => Duration::from_secs(
                seconds
                    .trim()
                    .parse()
                    .map_err(|_| "MOCK_TOKEN_LIFETIME_SECS must be a number of seconds")?,
            ),
            None => DEFAULT_MOCK_LIFETIME,
        };
        Ok(Shop::Mock(Self::start_mock(lifetime).await?))
    }

    /// The embedded mock with the demo customer.
    pub async fn start_mock(lifetime: Duration) -> Result<MockStorefront, BoxError> {
        Ok(MockStorefront::builder()
            .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME)
            .token_lifetime(lifetime)
            .build()
            .await?)
    }

    /// A client for this shop.
    pub fn client(&self, retry: RetryPolicy) -> Result<StorefrontClient, BoxError> {
        let builder = StorefrontClient::builder().retry_policy(retry);
        let builder = match self {
            Shop::Mock(mock) => builder
                .endpoint(mock.endpoint())
                .public_token(mock.public_token()),
            Shop::Remote {
                shop: Some(shop),
                public_token,
                ..
            } => builder.shop(shop).public_token(public_token),
            Shop::Remote {
                endpoint,
                public_token,
                ..
            } => builder
                .endpoint(endpoint.as_deref().unwrap_or_default())
                .public_token(public_token),
        };
        Ok(builder.build()?)
    }
}

fn print_banner(shop: &Shop, port: u16, sessions: &str) {
    let url = format!("http://127.0.0.1:{port}");
    println!("storefront app listening at {url} (ctrl-c to stop); sessions in {sessions}");
    match shop {
        Shop::Mock(mock) => {
            println!("shop: embedded mock at {}", mock.endpoint());
            println!("try:");
            println!(
                "  curl -c jar -d email={DEMO_EMAIL} -d 'password={DEMO_PASSWORD}' {url}/login"
            );
        }
        Shop::Remote { .. } => {
            println!("try:");
            println!("  curl -c jar -d email=YOU@EXAMPLE.COM --data-urlencode password@PASSWORD_FILE {url}/login");
        }
    }
    println!("  curl -b jar {url}/me");
    println!("  curl {url}/sessions");
    println!("  curl {url}/metrics");
    println!("  curl -b jar -c jar -X POST {url}/logout");
}

/// What the handlers share: a client for customer requests, the engine that
/// keeps every session's token alive, and the metrics to serve.
#[derive(Clone)]
pub struct AppState {
    client: StorefrontClient,
    renewals: RenewalHandle<CustomerAccessToken>,
    metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// Starts the renewal engine (renewing through `renewer_client`) with the
    /// sessions in memory, and a task that logs its events.
    pub async fn start(
        client: StorefrontClient,
        renewer_client: StorefrontClient,
        policy: RenewalPolicy,
    ) -> Result<Self, BoxError> {
        Self::start_on(client, renewer_client, policy, Arc::new(MemoryStore::new())).await
    }

    /// [`start`](Self::start) with the sessions in `store` (a [`RedisStore`]
    /// shared by replicas). The engine registers its metrics with the recorder
    /// installed now.
    pub async fn start_on<S: TokenStore<CustomerAccessToken>>(
        client: StorefrontClient,
        renewer_client: StorefrontClient,
        policy: RenewalPolicy,
        store: Arc<S>,
    ) -> Result<Self, BoxError> {
        let engine = RenewalEngine::builder(StorefrontRenewer::new(renewer_client))
            .store(store)
            .policy(policy)
            .build();
        // Subscribed before the start, so nothing the start-up emits is missed.
        tokio::spawn(log_events(engine.events()));
        let renewals = engine.start().await?;
        Ok(AppState {
            client,
            renewals,
            metrics: None,
        })
    }

    /// Serves `GET /metrics` from this Prometheus recorder.
    #[must_use]
    pub fn with_metrics(mut self, metrics: PrometheusHandle) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The engine keeping the sessions alive.
    pub fn renewals(&self) -> &RenewalHandle<CustomerAccessToken> {
        &self.renewals
    }
}

/// The app's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/sessions", get(sessions))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Logs every renewal event, one line each (its `Display`, with the whole error
/// chain), until the engine stops. Session ids in events are hashes, never
/// cookies.
async fn log_events(mut events: EventReceiver) {
    loop {
        match events.recv().await {
            Ok(event) => log_event(&event),
            Err(EventError::Lagged(missed)) => tracing::warn!(missed, "missed renewal events"),
            Err(EventError::Closed) => return,
            Err(error) => {
                tracing::warn!(%error, "renewal events ended");
                return;
            }
        }
    }
}

fn log_event(event: &RenewalEvent) {
    match event {
        RenewalEvent::RenewalFailed { .. }
        | RenewalEvent::Expired { .. }
        | RenewalEvent::Rejected { .. }
        | RenewalEvent::ReloginFailed { .. }
        | RenewalEvent::NotLoggedInAgain { .. }
        | RenewalEvent::StoreFailed { .. }
        | RenewalEvent::RenewingWithoutLease { .. }
        | RenewalEvent::ShopPaused { .. }
        | RenewalEvent::ClockJump { .. }
        | RenewalEvent::ClockSkew { .. } => tracing::warn!("session {event}"),
        _ => tracing::info!("session {event}"),
    }
}

/// A session's secret: the cookie value. The engine knows the session by
/// [`SessionSecret::token_id`], a hash of it.
pub struct SessionSecret(String);

impl SessionSecret {
    /// 128 bits from the OS's random source, as hex.
    fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SESSION_SECRET_HEX / 2];
        getrandom::fill(&mut bytes)?;
        Ok(SessionSecret(hex(&bytes)))
    }

    /// The secret from a request's `Cookie` headers, if well-formed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value)
            .filter(|value| {
                value.len() == SESSION_SECRET_HEX && value.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .map(|value| SessionSecret(value.to_ascii_lowercase()))
    }

    /// The session's id in the engine and the store: half a SHA-256 of the
    /// secret, so a leaked id is not a usable cookie.
    pub fn token_id(&self) -> TokenId {
        let digest = Sha256::digest(self.0.as_bytes());
        TokenId::new(hex(&digest[..16]))
    }

    fn set_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            self.0
        )
    }
}

fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// An error answer: a status and a message, as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// A Storefront error, told to the customer without internals.
    fn from_storefront(error: &storefront_token::Error) -> Self {
        if matches!(error.kind(), ErrorKind::LoginRejected(_)) {
            return Self::unauthorized("the email or password is not correct");
        }
        if error.must_log_in_again() {
            return Self::unauthorized("your session has ended; log in again");
        }
        tracing::warn!(error = %ErrorReport::new(error), "storefront request failed");
        if error.is_transient() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the shop is not answering; try again shortly",
            )
        } else {
            Self::new(
                StatusCode::BAD_GATEWAY,
                "the shop could not handle the request",
            )
        }
    }

    /// A renewal-engine error about a session.
    fn from_session(error: &RenewalError) -> Self {
        match error.kind() {
            RenewalErrorKind::NotFound => Self::unauthorized("no such session; log in"),
            RenewalErrorKind::Expired => {
                Self::unauthorized("your session has expired; log in again")
            }
            RenewalErrorKind::Rejected => {
                Self::unauthorized("your session has ended; log in again")
            }
            _ => {
                tracing::error!(error = %ErrorReport::new(error), "renewal engine error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sessions are unavailable; try again",
                )
            }
        }
    }

    /// An internal failure: logged, and told to the customer as `what`.
    fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, what)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// A login form.
#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// Credentials from a JSON body (`Content-Type: application/json`) or a form.
struct LoginInput(Credentials);

impl<S: Send + Sync> FromRequest<S> for LoginInput {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim_start().starts_with("application/json"));
        // The rejection's text could quote what was sent (a password): say only
        // what is expected.
        let bad = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "send `email` and `password` as a form or as JSON",
            )
        };
        let credentials = if is_json {
            Json::<Credentials>::from_request(request, state)
                .await
                .map_err(|_| bad())?
                .0
        } else {
            Form::<Credentials>::from_request(request, state)
                .await
                .map_err(|_| bad())?
                .0
        };
        Ok(LoginInput(credentials))
    }
}

/// `POST /login`: create a customer token, hand it to the engine, set the cookie.
async fn login(State(app): State<AppState>, LoginInput(input): LoginInput) -> Response {
    match login_session(&app, input).await {
        Ok((secret, token_expiry)) => (
            [(SET_COOKIE, secret.set_cookie())],
            Json(json!({ "logged_in": true, "expires_at": token_expiry })),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn login_session(
    app: &AppState,
    input: Credentials,
) -> Result<(SessionSecret, String), ApiError> {
    let password = Password::new(input.password);
    let token = app
        .client
        .create_token(&input.email, &password)
        .await
        .map_err(|error| ApiError::from_storefront(&error))?;
    let secret = SessionSecret::random()
        .map_err(|error| ApiError::internal("could not make a session id", &error))?;
    let id = secret.token_id();
    let expires_at = token.expires_at().to_rfc3339();
    app.renewals
        .add(id.clone(), token, None)
        .await
        .map_err(|error| ApiError::from_session(&error))?;
    tracing::info!(session = %id, %expires_at, "customer logged in");
    Ok((secret, expires_at))
}

/// `GET /me`: the session's customer, read with its current token.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let id = SessionSecret::from_headers(&headers)
        .ok_or_else(|| ApiError::unauthorized("not logged in; POST /login first"))?
        .token_id();
    let token = match app.renewals.valid(&id).await {
        Ok(token) => token,
        Err(error) => {
            if error.must_log_in_again() {
                forget(&app, &id).await;
            }
            return Err(ApiError::from_session(&error));
        }
    };
    let (customer, token) = match app.client.customer(token.access_token()).await {
        Ok(customer) => (customer, token),
        // With a shop that rotates tokens, another replica may have just renewed this
        // one, and our copy is the string it replaced. `renew_now` asks the store
        // first: a newer version there is adopted without a mutation; only a token
        // nobody renewed is sent, and rejected if it is really dead.
        Err(error) if error.must_log_in_again() => match app.renewals.renew_now(&id).await {
            Ok(fresh) => match app.client.customer(fresh.access_token()).await {
                Ok(customer) => (customer, fresh),
                Err(error) => {
                    if error.must_log_in_again() {
                        forget(&app, &id).await;
                    }
                    return Err(ApiError::from_storefront(&error));
                }
            },
            Err(renewal) => {
                if renewal.must_log_in_again() {
                    forget(&app, &id).await;
                }
                return Err(ApiError::from_storefront(&error));
            }
        },
        Err(error) => return Err(ApiError::from_storefront(&error)),
    };
    Ok(Json(json!({
        "display_name": customer.display_name,
        "email": customer.email,
        "expires_at": token.expires_at().to_rfc3339(),
    })))
}

/// Stops renewing a session's token and deletes it from the store.
async fn forget(app: &AppState, id: &TokenId) {
    if let Err(error) = app.renewals.remove(id).await {
        tracing::warn!(session = %id, error = %ErrorReport::new(&error), "could not forget the session");
    }
}

/// `POST /logout`: revoke the token, forget the session, clear the cookie.
/// Always succeeds, so a stale cookie is cleared too.
async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = SessionSecret::from_headers(&headers) {
        let id = secret.token_id();
        // Read through the store: the login may have been on another replica.
        // An expired or rejected token is nothing left to revoke.
        let token = app.renewals.valid(&id).await.ok();
        // Forget first, so no renewal is scheduled for a token being revoked.
        forget(&app, &id).await;
        if let Some(token) = token {
            revoke(&app, &id, &token).await;
        }
        tracing::info!(session = %id, "customer logged out");
    }
    (
        [(SET_COOKIE, clear_cookie())],
        Json(json!({ "logged_out": true })),
    )
        .into_response()
}

async fn revoke(app: &AppState, id: &TokenId, token: &CustomerAccessToken) {
    match app.client.delete_token(token.access_token()).await {
        Ok(()) => {}
        Err(error) if error.must_log_in_again() => {} // already dead
        Err(error) => {
            tracing::warn!(session = %id, error = %ErrorReport::new(&error), "could not revoke the token");
        }
    }
}

/// `GET /metrics`: the engine's metrics, in Prometheus's text format.
async fn metrics(State(app): State<AppState>) -> Response {
    match &app.metrics {
        Some(metrics) => ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], metrics.render()).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "metrics are not served").into_response(),
    }
}

/// `GET /sessions`: the state and schedule of every session held here, for
/// debugging (with replicas, each lists those it holds).
async fn sessions(State(app): State<AppState>) -> Json<Value> {
    let mut all = app.renewals.snapshot().await;
    all.sort_by(|(a, _), (b, _)| a.cmp(b));
    let list: Vec<Value> = all
        .iter()
        .map(|(id, status)| session_json(id, status))
        .collect();
    Json(json!({ "count": list.len(), "sessions": list }))
}

fn session_json(id: &TokenId, status: &TokenStatus<CustomerAccessToken>) -> Value {
    let state = match status.state() {
        TokenState::Scheduled => "scheduled",
        TokenState::Renewing => "renewing",
        TokenState::Expired => "expired",
        TokenState::Rejected => "rejected",
        _ => "unknown",
    };
    json!({
        "session": id.as_str(),
        "state": state,
        "token_fingerprint": status.credential().access_token().fingerprint().to_string(),
        "issued_at": status.issued_at().to_rfc3339(),
        "expires_at": status.expires_at().to_rfc3339(),
        "next_renewal_at": status.next_renewal_at().map(|at| at.to_rfc3339()),
        "failures": status.failures(),
    })
}
