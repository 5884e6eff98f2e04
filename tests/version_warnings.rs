//! The client warns, once, when the storefront serves another API version than
//! requested or reports a deprecation.

mod common;

use common::{EMAIL, NAME, PASSWORD};
use storefront_token::mock::MockStorefront;
use storefront_token::Password;

#[tokio::test(flavor = "current_thread")]
async fn version_mismatch_and_deprecation_warn_once() -> Result<(), Box<dyn std::error::Error>> {
    let (captured, _guard) = common::capture_logs(tracing::Level::WARN);

    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, NAME)
        .api_version_header("2025-01")
        .deprecated_reason("customerAccessTokenCreate is for legacy customer accounts")
        .build()
        .await?;
    let client = common::builder_for(&shop).build()?;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    client.renew_token(token.access_token()).await?;

    let logs = captured.text();
    assert_eq!(logs.matches("another api version").count(), 1, "{logs}");
    assert!(
        logs.contains("requested=2026-04") && logs.contains("served=\"2025-01\""),
        "{logs}"
    );
    assert_eq!(logs.matches("deprecated api").count(), 1, "{logs}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_matching_version_is_silent() -> Result<(), Box<dyn std::error::Error>> {
    let (captured, _guard) = common::capture_logs(tracing::Level::WARN);
    let shop = common::mock().await;
    let client = common::builder_for(&shop).build()?;
    client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    assert_eq!(captured.text(), "");
    Ok(())
}
