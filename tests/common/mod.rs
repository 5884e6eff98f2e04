//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod hooked_store;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use storefront_token::mock::MockStorefront;
use storefront_token::{Clock, RetryPolicy, Sleep, StorefrontClient, StorefrontClientBuilder};

pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const NAME: &str = "Ada Lovelace";

/// A clock that reads the system time but records waits instead of sleeping, so
/// retry tests run instantly and can assert the exact waits.
#[derive(Debug, Clone, Default)]
pub struct RecordingClock {
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingClock {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl Clock for RecordingClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        if let Ok(mut waits) = self.waits.lock() {
            waits.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}

/// A started mock with the demo customer.
pub async fn mock() -> MockStorefront {
    MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, NAME)
        .build()
        .await
        .expect("mock starts")
}

/// A client builder pointed at `shop` with its public token.
pub fn builder_for(shop: &MockStorefront) -> StorefrontClientBuilder {
    StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
}

/// A client for `shop` whose retries are recorded by the returned clock.
pub fn client_for(shop: &MockStorefront) -> (StorefrontClient, RecordingClock) {
    let clock = RecordingClock::default();
    let client = builder_for(shop)
        .clock(clock.clone())
        .retry_policy(RetryPolicy::default().with_max_attempts(3))
        .build()
        .expect("client builds");
    (client, clock)
}

/// A `tracing` writer that keeps everything written, for asserting on logs.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures `tracing` output at `level` and below on this thread until the guard
/// drops. With a current-thread runtime, the mock and the client run here too.
pub fn capture_logs(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// Everything a renewal test needs in one simulated time: the clock, a mock
/// following it with the demo customer, and a client on the same clock that does
/// not retry by itself (the engine does).
pub async fn simulated_shop(
    lifetime: Duration,
) -> (
    storefront_token::mock::SimulatedClock,
    MockStorefront,
    StorefrontClient,
) {
    // A whole second, so the mock's whole-second expiries fall on exact offsets.
    let start = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    let clock = storefront_token::mock::SimulatedClock::new(start);
    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, NAME)
        .clock(clock.clone())
        .token_lifetime(lifetime)
        .build()
        .await
        .expect("mock starts");
    let client = builder_for(&shop)
        .clock(clock.clone())
        .retry_policy(RetryPolicy::never())
        .build()
        .expect("client builds");
    (clock, shop, client)
}

/// Wraps a renewer and records, per token string, when each renewal was tried.
pub struct RecordingRenewer<R> {
    pub inner: R,
    pub clock: storefront_token::mock::SimulatedClock,
    pub calls: Arc<Mutex<std::collections::HashMap<String, Vec<DateTime<Utc>>>>>,
}

impl<R> storefront_token::renewal::Renewable for RecordingRenewer<R>
where
    R: storefront_token::renewal::Renewable<Credential = storefront_token::CustomerAccessToken>,
{
    type Credential = storefront_token::CustomerAccessToken;
    type Error = R::Error;

    fn expires_at(&self, token: &Self::Credential) -> DateTime<Utc> {
        self.inner.expires_at(token)
    }

    async fn renew(&self, token: &Self::Credential) -> Result<Self::Credential, R::Error> {
        if let Ok(mut calls) = self.calls.lock() {
            calls
                .entry(token.access_token().expose_secret().to_owned())
                .or_default()
                .push(self.clock.now());
        }
        self.inner.renew(token).await
    }

    fn classify(&self, error: &R::Error) -> storefront_token::renewal::FailureClass {
        self.inner.classify(error)
    }

    fn server_clock_offset(&self) -> Option<chrono::TimeDelta> {
        self.inner.server_clock_offset()
    }

    fn reset_server_clock_offset(&self) {
        self.inner.reset_server_clock_offset();
    }
}

/// An HTTP answer read whole: status, headers and body text.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a raw request and reads the whole answer.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Reply {
        status,
        headers,
        text,
    })
}
