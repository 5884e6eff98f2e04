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

// Each module names its file: `tests/example_app.rs` includes this one as a
// module, from which plain `mod` paths would resolve elsewhere.
#[path = "error.rs"]
mod error;
#[path = "routes.rs"]
mod routes;
#[path = "session.rs"]
mod session;
#[path = "setup.rs"]
mod setup;
#[path = "state.rs"]
mod state;

use std::error::Error as StdError;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use storefront_token::renewal::RenewalPolicy;
use storefront_token::RetryPolicy;

pub use routes::router;
pub use setup::{prometheus, redis_store, Shop};
pub use state::AppState;

use setup::redis_store_from_env;

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
