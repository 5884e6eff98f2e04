//! `demo` (the README's main job: log in, renew, read the customer, log out
//! and a typed "log in again" error against an embedded mock, then a keeper
//! renewing on its own; it keeps no session) and `mock` (the mock Storefront
//! on loopback until interrupted).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use storefront_token::mock::MockStorefront;
use storefront_token::renewal::{
    EventError, EventReceiver, RenewalEngine, RenewalEvent, RenewalPolicy, StorefrontRenewer,
    TokenKeeper,
};
use storefront_token::{CustomerAccessToken, ErrorReport, Password, RetryPolicy, StorefrontClient};

use super::events::{dead_token, event_json, event_text};
use super::output::Output;
use super::{failure, renewal_failure, Failure};

/// Demo customer of the embedded mock.
const DEMO_EMAIL: &str = "ada@example.com";
const DEMO_PASSWORD: &str = "correct horse battery staple";
const DEMO_NAME: &str = "Ada Lovelace";
/// How far the demo moves the mock's clock before renewing, so the new expiry
/// visibly moves.
const DEMO_CLOCK_JUMP: Duration = Duration::from_secs(30 * 24 * 3600);
/// Token lifetime of the demo's auto-renew segment: short, so renewals are seen
/// within seconds.
const DEMO_SHORT_LIFETIME: Duration = Duration::from_secs(6);
/// Renewals the auto-renew segment waits for.
const DEMO_RENEWALS: u32 = 2;
/// A safety net: the auto-renew segment fails if its renewals take longer than
/// this (they take about 8 s).
const DEMO_RENEWALS_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) async fn start_mock(
    port: u16,
    lifetime: Option<Duration>,
) -> Result<MockStorefront, Failure> {
    let mut builder =
        MockStorefront::builder()
            .port(port)
            .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME);
    if let Some(lifetime) = lifetime {
        builder = builder.token_lifetime(lifetime);
    }
    builder.build().await.map_err(failure)
}

pub(crate) async fn demo(out: &Output) -> Result<(), Failure> {
    let shop = start_mock(0, None).await?;
    out.event(
        format!("mock storefront listening at {}", shop.endpoint()),
        json!({ "event": "mock started", "endpoint": shop.endpoint() }),
    );
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .build()?;

    let token = client
        .create_token(DEMO_EMAIL, &Password::new(DEMO_PASSWORD))
        .await?;
    out.token("logged in", &token, false);

    shop.advance(DEMO_CLOCK_JUMP);
    out.event(
        format!(
            "moved the mock's clock {} days ahead",
            DEMO_CLOCK_JUMP.as_secs() / 86_400
        ),
        json!({ "event": "clock advanced", "seconds": DEMO_CLOCK_JUMP.as_secs() }),
    );
    let renewed = client.renew_token(token.access_token()).await?;
    out.token("renewed", &renewed, false);

    let customer = client.customer(renewed.access_token()).await?;
    out.event(
        format!(
            "customer: {} <{}>",
            customer.display_name,
            customer.email.as_deref().unwrap_or("no email")
        ),
        json!({ "event": "customer", "id": customer.id, "display_name": customer.display_name }),
    );

    client.delete_token(renewed.access_token()).await?;
    out.event(
        "logged out: token revoked".to_owned(),
        json!({ "event": "logged out", "fingerprint": renewed.access_token().fingerprint().to_string() }),
    );

    match client.renew_token(renewed.access_token()).await {
        Err(error) if error.must_log_in_again() => {
            let report = ErrorReport::new(&error);
            out.event(
                format!("renewing the revoked token fails as it should: {report}"),
                json!({
                    "event": "renew refused",
                    "must_log_in_again": true,
                    "error": error.to_string(),
                    "message": report.to_string(),
                }),
            );
        }
        Err(error) => return Err(error.into()),
        Ok(_) => return Err(failure("the mock renewed a revoked token")),
    }
    shop.shutdown().await;
    demo_auto_renew(out).await
}

/// The demo's last segment: a [`TokenKeeper`] renews a short-lived token on its
/// own, and we watch its events until it has renewed [`DEMO_RENEWALS`] times.
pub(crate) async fn demo_auto_renew(out: &Output) -> Result<(), Failure> {
    let shop = MockStorefront::builder()
        .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME)
        .token_lifetime(DEMO_SHORT_LIFETIME)
        .renew_rotates_token(true)
        .build()
        .await
        .map_err(failure)?;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .retry_policy(RetryPolicy::never()) // the keeper retries
        .build()?;
    let token = client
        .create_token(DEMO_EMAIL, &Password::new(DEMO_PASSWORD))
        .await?;
    out.event(
        format!(
            "auto-renew: a second mock issues {} s tokens that rotate on renewal; \
             logged in with token {} ({:.1} s left); waiting for {DEMO_RENEWALS} renewals",
            DEMO_SHORT_LIFETIME.as_secs(),
            token.access_token().fingerprint(),
            seconds_left(token.expires_at()),
        ),
        json!({
            "event": "auto-renew started",
            "token_lifetime_seconds": DEMO_SHORT_LIFETIME.as_secs(),
            "fingerprint": token.access_token().fingerprint().to_string(),
            "expires_at": token.expires_at().to_rfc3339(),
        }),
    );
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
        .policy(short_lifetime_policy())
        .build();
    let mut events = engine.events(); // before start: nothing is missed
    let keeper = TokenKeeper::start_with(engine, token)
        .await
        .map_err(renewal_failure)?;
    let watched = tokio::time::timeout(
        DEMO_RENEWALS_TIMEOUT,
        show_renewals(out, &keeper, &mut events),
    )
    .await;
    let outcome = match watched {
        Ok(Ok(())) => demo_use_kept_token(out, &client, &keeper).await,
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err(failure(format!(
            "the keeper did not renew {DEMO_RENEWALS} times within {} s",
            DEMO_RENEWALS_TIMEOUT.as_secs()
        ))),
    };
    keeper.shutdown().await;
    shop.shutdown().await;
    outcome
}

/// Renew a token at 60-67% of its lifetime and at least 1 s (or a quarter of it)
/// before expiry; retry after 0.5-1 s. The default policy keeps at least 10 s of
/// margin, which a 6 s token does not have.
pub(crate) fn short_lifetime_policy() -> RenewalPolicy {
    RenewalPolicy::default()
        .with_lifetime_fractions(0.6, 0.67)
        .with_margin(Duration::from_secs(1), 0.25)
        .with_retry_backoff(Duration::from_millis(500), Duration::from_secs(1))
}

/// Prints each renewal until [`DEMO_RENEWALS`] have happened; fails if the token
/// dies first.
pub(crate) async fn show_renewals(
    out: &Output,
    keeper: &TokenKeeper<CustomerAccessToken>,
    events: &mut EventReceiver,
) -> Result<(), Failure> {
    let mut renewals = 0;
    while renewals < DEMO_RENEWALS {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(EventError::Lagged(_)) => continue,
            Err(error) => return Err(failure(error)),
        };
        if let Some(failure) = dead_token(&event) {
            return Err(failure);
        }
        let current = keeper.current();
        let text = event_text(&event, current.as_ref());
        let mut value = event_json(&event, current.as_ref());
        match &event {
            RenewalEvent::Renewed { expires_at, .. } => {
                renewals += 1;
                let left = seconds_left(*expires_at);
                value["renewal"] = json!(renewals);
                value["seconds_left"] = json!(left);
                out.event(
                    format!("auto-renew: renewal {renewals}: {text}, {left:.1} s left"),
                    value,
                );
            }
            _ => out.event(format!("auto-renew: {text}"), value),
        }
    }
    Ok(())
}

/// Reads the customer with the keeper's current token, then logs out.
pub(crate) async fn demo_use_kept_token(
    out: &Output,
    client: &StorefrontClient,
    keeper: &TokenKeeper<CustomerAccessToken>,
) -> Result<(), Failure> {
    let token = keeper.token().await.map_err(renewal_failure)?;
    let customer = client.customer(token.access_token()).await?;
    out.event(
        format!(
            "auto-renew: the kept token {} still reads the customer: {}",
            token.access_token().fingerprint(),
            customer.display_name
        ),
        json!({
            "event": "customer",
            "fingerprint": token.access_token().fingerprint().to_string(),
            "display_name": customer.display_name,
        }),
    );
    keeper.shutdown().await;
    client.delete_token(token.access_token()).await?;
    out.event(
        "auto-renew: stopped the keeper and logged out".to_owned(),
        json!({ "event": "auto-renew stopped" }),
    );
    Ok(())
}

/// Seconds from now until `at` (negative once past).
pub(crate) fn seconds_left(at: DateTime<Utc>) -> f64 {
    (at - Utc::now()).num_milliseconds() as f64 / 1000.0
}

pub(crate) async fn run_mock(
    out: &Output,
    port: u16,
    lifetime: Option<Duration>,
) -> Result<(), Failure> {
    let shop = start_mock(port, lifetime).await?;
    out.event(
        format!(
            "mock storefront listening (ctrl-c to stop)\n\
             endpoint:         {}\n\
             storefront token: {}   (X-Shopify-Storefront-Access-Token)\n\
             private token:    {}   (Shopify-Storefront-Private-Token, with Shopify-Storefront-Buyer-IP)\n\
             demo customer:    {DEMO_EMAIL} / {DEMO_PASSWORD}\n\n\
             try: STOREFRONT_ENDPOINT={} STOREFRONT_PUBLIC_TOKEN={} STOREFRONT_CUSTOMER_PASSWORD='{DEMO_PASSWORD}' \\\n\
             \x20    cargo run --example storefront-token -- login --email {DEMO_EMAIL}",
            shop.endpoint(),
            shop.public_token(),
            shop.private_token(),
            shop.endpoint(),
            shop.public_token(),
        ),
        json!({
            "event": "mock started",
            "endpoint": shop.endpoint(),
            "public_token": shop.public_token(),
            "private_token": shop.private_token(),
            "customer": { "email": DEMO_EMAIL, "password": DEMO_PASSWORD },
        }),
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| failure(format!("could not wait for ctrl-c: {error}")))?;
    shop.shutdown().await;
    Ok(())
}
