//! Sentinel test: a customer token, a password and a storefront private token
//! never surface in logs (at TRACE, every crate), `Debug` of the client, tokens
//! and errors, or error messages and their sources.
//!
//! One test in this binary, because it installs the global `tracing` subscriber.

mod common;

use std::error::Error as _;
use std::time::Duration;

use common::{Captured, EMAIL, NAME};
use storefront_token::mock::{Fault, MockStorefront};
use storefront_token::renewal::{StorefrontRenewer, TokenKeeper};
use storefront_token::{
    AccessToken, ErrorReport, Password, PrivateToken, RetryPolicy, StorefrontClient,
};

const PASSWORD_SENTINEL: &str = "PASSWORD-SENTINEL-51f0c2";
const PRIVATE_SENTINEL: &str = "PRIVATE-SENTINEL-93ab7e";
const TOKEN_SENTINEL: &str = "TOKEN-SENTINEL-c0ffee";

/// Every text an error offers: Display, Debug, the one-line report, and each
/// source's Display and Debug.
fn error_texts(error: &storefront_token::Error) -> Vec<String> {
    let mut texts = vec![
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
        ErrorReport::new(error).to_string(),
    ];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_logs_debug_or_errors() -> Result<(), Box<dyn std::error::Error>> {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    // The mock echoes the token it was sent in its userErrors message, to prove the
    // client scrubs echoes.
    let shop = MockStorefront::builder()
        .private_token(PRIVATE_SENTINEL)
        .demo_customer(EMAIL, PASSWORD_SENTINEL, NAME)
        .invalid_token_message(format!("token {TOKEN_SENTINEL} is invalid"))
        .renew_rotates_token(true)
        .build()
        .await?;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .private_token(PrivateToken::new(PRIVATE_SENTINEL))
        .buyer_ip("203.0.113.9".parse()?)
        .clock(common::RecordingClock::default())
        .retry_policy(RetryPolicy::default().with_max_attempts(2))
        .timeout(Duration::from_millis(200))
        .build()?;

    let mut texts = vec![
        format!("{client:?}"),
        format!("{:?}", PrivateToken::new(PRIVATE_SENTINEL)),
    ];
    let mut real_tokens = Vec::new();

    // Every operation, succeeding.
    let token = client
        .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
        .await?;
    real_tokens.push(token.access_token().expose_secret().to_owned());
    texts.push(format!("{token:?}"));
    let renewed = client.renew_token(token.access_token()).await?;
    real_tokens.push(renewed.access_token().expose_secret().to_owned());
    texts.push(format!("{renewed:#?}"));
    texts.push(format!(
        "{:?}",
        client.customer(renewed.access_token()).await?
    ));
    client.delete_token(renewed.access_token()).await?;

    // The renewal engine: its keeper, status and events print no token either.
    let kept = client
        .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
        .await?;
    real_tokens.push(kept.access_token().expose_secret().to_owned());
    let keeper = TokenKeeper::start(StorefrontRenewer::new(client.clone()), kept).await?;
    let mut keeper_events = keeper.events();
    let renewed = keeper.renew_now().await;
    if let Ok(token) = &renewed {
        real_tokens.push(token.access_token().expose_secret().to_owned());
    }
    texts.push(format!("{renewed:?}"));
    texts.push(format!("{keeper:?}"));
    texts.push(format!("{:?}", keeper.status().await));
    while let Ok(Some(event)) = keeper_events.try_recv() {
        texts.push(format!("{event:?}"));
    }
    keeper.shutdown().await;

    // Every operation, failing in each layer, with the sentinel token sent.
    let sentinel = AccessToken::new(TOKEN_SENTINEL);
    let mut errors = vec![
        client.renew_token(&sentinel).await.err(),
        client.delete_token(&sentinel).await.err(),
        client.customer(&sentinel).await.err(),
        client
            .create_token(EMAIL, &Password::new(format!("{PASSWORD_SENTINEL}-wrong")))
            .await
            .err(),
    ];
    for fault in [
        Fault::Status {
            status: 503,
            retry_after: Some("1".into()),
        },
        Fault::Throttled,
        Fault::HtmlBody { status: 200 },
        Fault::TruncatedJson,
        Fault::DropConnection,
        Fault::Delay(Duration::from_secs(2)),
    ] {
        shop.inject(fault, 2);
        errors.push(client.renew_token(&sentinel).await.err());
        shop.clear_faults();
    }
    shop.set_customer_scope_denied(true);
    errors.push(client.renew_token(&sentinel).await.err());
    errors.push(
        client
            .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
            .await
            .err(),
    );

    for error in errors {
        let error = error.ok_or("an operation that should fail succeeded")?;
        texts.extend(error_texts(&error));
    }

    let logs = captured.text();
    assert!(
        logs.contains("storefront_request"),
        "spans were captured at TRACE"
    );
    assert!(
        logs.len() > 1000,
        "logs were captured: {} bytes",
        logs.len()
    );
    texts.push(logs);

    let secrets: Vec<&str> = [PASSWORD_SENTINEL, PRIVATE_SENTINEL, TOKEN_SENTINEL]
        .into_iter()
        .chain(real_tokens.iter().map(String::as_str))
        .collect();
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret), "a secret leaked into:\n{text}");
        }
    }
    Ok(())
}
