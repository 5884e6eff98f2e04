//! The client against the mock Storefront: every operation, every failure layer,
//! and retries counted on the mock.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{builder_for, client_for, mock, EMAIL, NAME, PASSWORD};
use storefront_token::error::{
    CustomerErrorCode, GraphqlErrorCode, HttpStatusKind, MalformedKind, TransportErrorKind,
};
use storefront_token::mock::{Fault, MockStorefront};
use storefront_token::{
    AccessToken, ErrorKind, FailureScope, Operation, Password, PrivateToken, RetryPolicy,
    StorefrontClient,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn log_in_renew_read_and_log_out() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);

    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let lifetime = token.expires_at() - shop.now();
    assert!(
        (lifetime - TimeDelta::days(42)).num_seconds().abs() <= 2,
        "{lifetime}"
    );
    assert_eq!(
        shop.token_expires_at(token.access_token().expose_secret()),
        Some(token.expires_at())
    );

    shop.advance(Duration::from_secs(10 * 86_400));
    let renewed = client.renew_token(token.access_token()).await?;
    assert!(
        renewed.expires_at() - token.expires_at() >= TimeDelta::days(10) - TimeDelta::seconds(2)
    );
    assert_eq!(
        renewed.access_token(),
        token.access_token(),
        "default: renew keeps the string"
    );

    let customer = client.customer(renewed.access_token()).await?;
    assert_eq!(customer.display_name, NAME);
    assert_eq!(customer.email.as_deref(), Some(EMAIL));
    assert!(customer.id.starts_with("gid://shopify/Customer/"));

    client.delete_token(renewed.access_token()).await?;
    assert_eq!(
        shop.token_expires_at(renewed.access_token().expose_secret()),
        None
    );

    for operation in Operation::ALL {
        assert_eq!(shop.requests(*operation), 1, "{operation}");
    }
    Ok(())
}

#[tokio::test]
async fn a_rotating_renewal_hands_out_the_new_token() -> TestResult {
    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, NAME)
        .renew_rotates_token(true)
        .token_lifetime(Duration::from_secs(3600))
        .build()
        .await?;
    let (client, _) = client_for(&shop);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    assert!(
        (token.expires_at() - shop.now() - TimeDelta::hours(1))
            .num_seconds()
            .abs()
            <= 2
    );
    let renewed = client.renew_token(token.access_token()).await?;
    assert_ne!(renewed.access_token(), token.access_token());
    let old = client
        .renew_token(token.access_token())
        .await
        .err()
        .ok_or("old token renewed")?;
    assert!(old.must_log_in_again());
    client.customer(renewed.access_token()).await?;
    Ok(())
}

#[tokio::test]
async fn wrong_and_blank_credentials_are_typed_login_errors() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let error = client
        .create_token(EMAIL, &Password::new("wrong"))
        .await
        .err()
        .ok_or("logged in")?;
    let ErrorKind::LoginRejected(rejected) = error.kind() else {
        return Err(format!("unexpected {error:?}").into());
    };
    assert!(rejected.has_code(&CustomerErrorCode::UnidentifiedCustomer));
    assert!(!error.is_transient() && !error.must_log_in_again());

    let error = client
        .create_token("", &Password::new(PASSWORD))
        .await
        .err()
        .ok_or("logged in")?;
    let ErrorKind::LoginRejected(rejected) = error.kind() else {
        return Err(format!("unexpected {error:?}").into());
    };
    assert!(rejected.has_code(&CustomerErrorCode::Blank));
    assert_eq!(shop.requests(Operation::Create), 2);
    Ok(())
}

#[tokio::test]
async fn expired_revoked_and_unknown_tokens_must_log_in_again() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;

    shop.advance(Duration::from_secs(43 * 86_400));
    for error in [
        client.renew_token(token.access_token()).await.err(),
        client.customer(token.access_token()).await.err(),
        client.delete_token(token.access_token()).await.err(),
        client
            .renew_token(&AccessToken::new("never-issued"))
            .await
            .err(),
    ] {
        let error = error.ok_or("an expired token was accepted")?;
        assert!(error.must_log_in_again(), "{error:?}");
        assert!(!error.is_transient());
        assert_eq!(error.failure_scope(), FailureScope::Token);
    }
    let error = client
        .renew_token(token.access_token())
        .await
        .err()
        .ok_or("renewed")?;
    let ErrorKind::TokenRejected(rejected) = error.kind() else {
        return Err(format!("unexpected {error:?}").into());
    };
    assert_eq!(rejected.user_errors()[0].field(), ["customerAccessToken"]);
    assert_eq!(
        shop.requests(Operation::Renew),
        3,
        "token rejections are never retried"
    );
    Ok(())
}

#[tokio::test]
async fn the_server_clock_offset_is_forgotten_on_reset() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    assert_eq!(client.server_clock_offset(), None);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    assert!(client.server_clock_offset().is_some());

    client.reset_server_clock_offset();
    assert_eq!(client.server_clock_offset(), None);
    // The next response rebuilds the estimate, even with the same `Date`.
    client.customer(token.access_token()).await?;
    assert!(client.server_clock_offset().is_some());
    Ok(())
}

#[tokio::test]
async fn transient_statuses_are_retried_with_retry_after_honoured() -> TestResult {
    let shop = mock().await;
    let (client, clock) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    shop.inject(
        Fault::Status {
            status: 429,
            retry_after: Some("2".into()),
        },
        1,
    );
    shop.inject(
        Fault::Status {
            status: 503,
            retry_after: Some("0.25".into()),
        },
        1,
    );
    client.renew_token(&AccessToken::new(token)).await?;
    assert_eq!(shop.requests(Operation::Renew), 3);
    assert_eq!(
        clock.waits(),
        [Duration::from_secs(2), Duration::from_millis(250)]
    );
    Ok(())
}

#[tokio::test]
async fn retries_stop_after_the_configured_attempts() -> TestResult {
    let shop = mock().await;
    let (client, clock) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    shop.inject(
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        5,
    );
    let error = client
        .renew_token(&AccessToken::new(token))
        .await
        .err()
        .ok_or("renewed")?;
    assert_eq!(error.status(), Some(500));
    assert!(error.is_transient());
    assert_eq!(shop.requests(Operation::Renew), 3, "max_attempts is 3");
    let waits = clock.waits();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] < Duration::from_secs(1) && waits[1] < Duration::from_secs(2),
        "{waits:?}"
    );
    Ok(())
}

#[tokio::test]
async fn retry_after_beyond_the_budget_is_not_waited_for() -> TestResult {
    let shop = mock().await;
    let clock = common::RecordingClock::default();
    let client = builder_for(&shop)
        .clock(clock.clone())
        .retry_policy(RetryPolicy::default().with_max_elapsed(Duration::from_secs(5)))
        .build()?;
    shop.inject(
        Fault::Status {
            status: 429,
            retry_after: Some("60".into()),
        },
        1,
    );
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("succeeded")?;
    assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(shop.requests(Operation::Customer), 1);
    assert!(clock.waits().is_empty());
    Ok(())
}

#[tokio::test]
async fn permanent_statuses_are_not_retried() -> TestResult {
    for (status, kind) in [
        (400, HttpStatusKind::BadRequest),
        (402, HttpStatusKind::ShopFrozen),
        (403, HttpStatusKind::Forbidden),
        (404, HttpStatusKind::NotFound),
        (423, HttpStatusKind::ShopLocked),
        (430, HttpStatusKind::SecurityRejection),
    ] {
        let shop = mock().await;
        let (client, clock) = client_for(&shop);
        shop.inject(
            Fault::Status {
                status,
                retry_after: None,
            },
            3,
        );
        let error = client
            .renew_token(&AccessToken::new("t"))
            .await
            .err()
            .ok_or("renewed")?;
        let ErrorKind::Http(http) = error.kind() else {
            return Err(format!("unexpected {error:?}").into());
        };
        assert_eq!(http.status_kind(), kind);
        assert!(http.request_id().is_some(), "request id kept");
        assert_eq!(shop.requests(Operation::Renew), 1, "{status}");
        assert!(clock.waits().is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn a_wrong_storefront_token_is_a_401() -> TestResult {
    let shop = mock().await;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token("not-the-token")
        .build()?;
    let error = client
        .create_token(EMAIL, &Password::new(PASSWORD))
        .await
        .err()
        .ok_or("accepted")?;
    assert_eq!(error.status(), Some(401));
    assert!(!error.is_transient());
    assert_eq!(error.failure_scope(), FailureScope::Shop);
    assert_eq!(shop.total_requests(), 1);
    Ok(())
}

#[tokio::test]
async fn graphql_throttling_is_retried_and_access_denied_is_not() -> TestResult {
    let shop = mock().await;
    let (client, clock) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    let token = AccessToken::new(token);
    shop.inject(Fault::Throttled, 1);
    shop.inject(
        Fault::GraphqlError {
            code: "INTERNAL_SERVER_ERROR".into(),
            message: "Internal error".into(),
        },
        1,
    );
    client.renew_token(&token).await?;
    assert_eq!(shop.requests(Operation::Renew), 3);
    assert_eq!(clock.waits().len(), 2);

    shop.set_customer_scope_denied(true);
    let error = client.renew_token(&token).await.err().ok_or("renewed")?;
    let ErrorKind::Graphql(errors) = error.kind() else {
        return Err(format!("unexpected {error:?}").into());
    };
    assert!(errors.has_code(&GraphqlErrorCode::AccessDenied));
    assert!(errors.errors()[0].message().contains("access denied"));
    assert!(!error.is_transient() && !error.must_log_in_again());
    assert_eq!(error.failure_scope(), FailureScope::Shop);
    assert_eq!(shop.requests(Operation::Renew), 4);
    Ok(())
}

#[tokio::test]
async fn unusable_bodies_are_malformed_and_not_retried() -> TestResult {
    let cases: [(Fault, MalformedKind); 3] = [
        (Fault::HtmlBody { status: 200 }, MalformedKind::NotJson),
        (Fault::TruncatedJson, MalformedKind::NotJson),
        (
            Fault::OversizedBody {
                bytes: 2 * 1024 * 1024,
            },
            MalformedKind::BodyTooLarge { limit: 1024 * 1024 },
        ),
    ];
    for (fault, want) in cases {
        let shop = mock().await;
        let (client, _) = client_for(&shop);
        shop.inject(fault, 3);
        let error = client
            .customer(&AccessToken::new("t"))
            .await
            .err()
            .ok_or("succeeded")?;
        let ErrorKind::MalformedResponse(malformed) = error.kind() else {
            return Err(format!("unexpected {error:?}").into());
        };
        assert_eq!(malformed.kind(), &want);
        assert_eq!(shop.requests(Operation::Customer), 1);
    }
    Ok(())
}

#[tokio::test]
async fn an_html_error_page_keeps_its_status_and_is_retried() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    shop.inject(Fault::HtmlBody { status: 502 }, 1);
    client.customer(&AccessToken::new(token)).await?;
    assert_eq!(shop.requests(Operation::Customer), 2);
    Ok(())
}

#[tokio::test]
async fn timeouts_are_transient_and_retried() -> TestResult {
    let shop = mock().await;
    let client = builder_for(&shop)
        .clock(common::RecordingClock::default())
        .timeout(Duration::from_millis(100))
        .retry_policy(RetryPolicy::default().with_max_attempts(2))
        .build()?;
    shop.inject(Fault::Delay(Duration::from_secs(5)), 2);
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("no timeout")?;
    assert!(error.is_timeout() && error.is_transient(), "{error:?}");
    assert_eq!(shop.requests(Operation::Customer), 2);
    Ok(())
}

#[tokio::test]
async fn dropped_connections_are_transient_and_retried() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    let token = AccessToken::new(token);
    shop.inject(Fault::DropConnection, 1);
    client.customer(&token).await?;
    assert_eq!(shop.requests(Operation::Customer), 2);

    shop.inject(Fault::DropConnection, 3);
    let error = client.customer(&token).await.err().ok_or("no failure")?;
    let ErrorKind::Transport(transport) = error.kind() else {
        return Err(format!("unexpected {error:?}").into());
    };
    assert_eq!(transport.kind(), TransportErrorKind::Interrupted);
    assert!(error.is_transient() && !error.is_connect());
    Ok(())
}

#[tokio::test]
async fn a_delete_whose_response_was_lost_still_succeeds() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    shop.inject(Fault::DropAfterProcessing, 1);
    client
        .delete_token(&AccessToken::new(token.as_str()))
        .await?;
    assert_eq!(
        shop.requests(Operation::Delete),
        2,
        "the retry found the token gone"
    );
    assert_eq!(shop.token_expires_at(&token), None);
    Ok(())
}

#[tokio::test]
async fn a_renewal_whose_response_was_lost_depends_on_rotation() -> TestResult {
    // Without rotation the retry renews the same token again: success.
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    shop.inject(Fault::DropAfterProcessing, 1);
    client.renew_token(&AccessToken::new(token)).await?;
    assert_eq!(shop.requests(Operation::Renew), 2);

    // With rotation the new token was lost with the response and the old one is
    // dead: the customer really must log in again.
    shop.set_renew_rotates_token(true);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    shop.inject(Fault::DropAfterProcessing, 1);
    let error = client
        .renew_token(&AccessToken::new(token))
        .await
        .err()
        .ok_or("renewed")?;
    assert!(error.must_log_in_again(), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn an_http_date_retry_after_is_measured_from_the_response_date() -> TestResult {
    let start = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")?.with_timezone(&Utc);
    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, NAME)
        .start_time(start)
        .frozen_clock(true)
        .build()
        .await?;
    let (client, clock) = client_for(&shop);
    let at = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(start.timestamp())? + 3);
    shop.inject(
        Fault::Status {
            status: 503,
            retry_after: Some(httpdate::fmt_http_date(at)),
        },
        1,
    );
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("succeeded")?;
    assert!(
        error.must_log_in_again(),
        "the retry reached the mock: {error:?}"
    );
    assert_eq!(clock.waits(), [Duration::from_secs(3)]);
    Ok(())
}

#[tokio::test]
async fn retries_stop_at_the_total_time_budget() -> TestResult {
    let shop = mock().await;
    let clock = common::RecordingClock::default();
    let client = builder_for(&shop)
        .clock(clock.clone())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(10)
                .with_max_elapsed(Duration::from_secs(5)),
        )
        .build()?;
    shop.inject(
        Fault::Status {
            status: 429,
            retry_after: Some("2".into()),
        },
        10,
    );
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("succeeded")?;
    assert_eq!(error.status(), Some(429));
    assert_eq!(
        clock.waits(),
        [Duration::from_secs(2), Duration::from_secs(2)],
        "a third wait would pass 5 s"
    );
    assert_eq!(shop.requests(Operation::Customer), 3);
    Ok(())
}

#[tokio::test]
async fn redirects_are_refused_and_never_followed() -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let target = format!("http://{}/steal", elsewhere.local_addr()?);
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!(
        "http://{}/api/2026-04/graphql.json",
        redirector.local_addr()?
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = redirector.accept().await {
            let mut buffer = vec![0u8; 64 * 1024];
            let _ = stream.read(&mut buffer).await;
            let reply = format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n");
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    for builder in [
        StorefrontClient::builder(),
        StorefrontClient::builder().http_client_builder(reqwest::Client::builder()),
    ] {
        let client = builder
            .endpoint(&endpoint)
            .private_token(PrivateToken::new("private"))
            .retry_policy(RetryPolicy::never())
            .build()?;
        let error = client
            .create_token(EMAIL, &Password::new(PASSWORD))
            .await
            .err()
            .ok_or("followed")?;
        let ErrorKind::Http(http) = error.kind() else {
            return Err(format!("unexpected {error:?}").into());
        };
        assert_eq!(http.status_kind(), HttpStatusKind::Redirect);
        assert_eq!(error.failure_scope(), FailureScope::Shop);
        let followed = tokio::time::timeout(Duration::ZERO, elsewhere.accept()).await;
        assert!(
            followed.is_err(),
            "the client connected to the redirect target"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_endpoint_names_its_api_version() -> TestResult {
    let client = StorefrontClient::builder()
        .endpoint("http://127.0.0.1:1/api/2025-01/graphql.json")
        .public_token("t")
        .build()?;
    assert_eq!(client.api_version(), "2025-01");
    let client = StorefrontClient::builder()
        .endpoint("http://127.0.0.1:1/graphql")
        .api_version("2025-07")
        .public_token("t")
        .build()?;
    assert_eq!(client.api_version(), "2025-07");
    Ok(())
}

#[tokio::test]
async fn a_connection_refused_is_a_connect_error() -> TestResult {
    let shop = mock().await;
    let endpoint = shop.endpoint();
    shop.shutdown().await;
    let client = StorefrontClient::builder()
        .endpoint(endpoint)
        .public_token("t")
        .clock(common::RecordingClock::default())
        .build()?;
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("connected")?;
    assert!(error.is_connect() && error.is_transient(), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn an_expiry_in_the_past_is_refused() -> TestResult {
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    shop.set_now(Utc::now() - TimeDelta::days(100));
    let error = client
        .create_token(EMAIL, &Password::new(PASSWORD))
        .await
        .err()
        .ok_or("accepted")?;
    assert!(matches!(
        error.kind(),
        ErrorKind::MalformedResponse(m) if matches!(m.kind(), MalformedKind::ExpiryNotInFuture { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn a_private_token_sends_the_buyer_ip() -> TestResult {
    let shop = mock().await;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .private_token(PrivateToken::new(shop.private_token()))
        .buyer_ip("203.0.113.7".parse()?)
        .build()?;
    client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    assert_eq!(shop.last_buyer_ip().as_deref(), Some("203.0.113.7"));
    Ok(())
}

#[tokio::test]
async fn clients_are_cheap_to_clone_and_share() -> TestResult {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<StorefrontClient>();
    let shop = mock().await;
    let (client, _) = client_for(&shop);
    let (token, _) = shop.issue_token(EMAIL).ok_or("no customer")?;
    let token = AccessToken::new(token);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (client, token) = (client.clone(), token.clone());
        tasks.spawn(async move { client.customer(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    assert_eq!(shop.requests(Operation::Customer), 32);
    Ok(())
}

#[test]
fn configuration_errors_are_typed() {
    use storefront_token::error::ConfigErrorKind as Kind;
    let cases: [(storefront_token::StorefrontClientBuilder, Kind); 10] = [
        (
            StorefrontClient::builder().shop("-").public_token("t"),
            Kind::InvalidShop,
        ),
        (
            StorefrontClient::builder()
                .shop("-.myshopify.com")
                .public_token("t"),
            Kind::InvalidShop,
        ),
        (
            StorefrontClient::builder()
                .endpoint("https://shop-.example.com/api/2026-04/graphql.json")
                .public_token("t"),
            Kind::InvalidEndpoint,
        ),
        (
            StorefrontClient::builder()
                .endpoint("https://shop.example.com/api/2026-04/graphql.json")
                .api_version("2025-01")
                .public_token("t"),
            Kind::ConflictingApiVersion,
        ),
        (
            StorefrontClient::builder().public_token("t"),
            Kind::MissingEndpoint,
        ),
        (
            StorefrontClient::builder()
                .shop("a")
                .endpoint("https://b/")
                .public_token("t"),
            Kind::ConflictingEndpoint,
        ),
        (
            StorefrontClient::builder().shop("a"),
            Kind::MissingStorefrontToken,
        ),
        (
            StorefrontClient::builder()
                .endpoint("http://example.com/x")
                .public_token("t"),
            Kind::InsecureEndpoint,
        ),
        (
            StorefrontClient::builder()
                .shop("a")
                .public_token("t")
                .api_version("latest"),
            Kind::InvalidApiVersion,
        ),
        (
            StorefrontClient::builder()
                .shop("a")
                .public_token("t")
                .buyer_ip([127, 0, 0, 1].into()),
            Kind::BuyerIpWithoutPrivateToken,
        ),
    ];
    for (builder, want) in cases {
        let error = builder.build().err();
        let kind = error.as_ref().and_then(|e| match e.kind() {
            ErrorKind::Config(config) => Some(config.kind()),
            _ => None,
        });
        assert_eq!(kind, Some(want), "{error:?}");
    }
}

#[tokio::test]
async fn an_endpoint_and_an_api_version_that_agree_are_accepted() -> TestResult {
    let client = StorefrontClient::builder()
        .endpoint("https://shop.example.com/api/2025-01/graphql.json")
        .api_version("2025-01")
        .public_token("t")
        .build()?;
    assert_eq!(client.api_version(), "2025-01");
    Ok(())
}

#[tokio::test]
async fn a_404_from_an_endpoint_of_another_form_shows_the_expected_one() -> TestResult {
    let shop = mock().await;
    let client = StorefrontClient::builder()
        .endpoint(format!("http://{}/graphql", shop.addr()))
        .public_token(shop.public_token())
        .build()?;
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("the mock answered a wrong path")?;
    assert_eq!(error.status(), Some(404));
    let report = storefront_token::ErrorReport::new(&error).to_string();
    assert!(
        report.contains("https://{shop domain}/api/{version}/graphql.json"),
        "{report}"
    );

    // A 404 from an endpoint of the right form says nothing about the form.
    let (client, _) = client_for(&shop);
    shop.inject(
        Fault::Status {
            status: 404,
            retry_after: None,
        },
        1,
    );
    let error = client
        .customer(&AccessToken::new("t"))
        .await
        .err()
        .ok_or("no 404")?;
    let report = storefront_token::ErrorReport::new(&error).to_string();
    assert!(
        report.contains("http 404") && !report.contains("{shop domain}"),
        "{report}"
    );
    Ok(())
}

#[derive(graphql_client::GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/customer.graphql"
)]
struct Customer;

#[tokio::test]
async fn execute_sends_your_own_operations_through_the_same_layers() -> TestResult {
    let shop = mock().await;
    let (client, clock) = client_for(&shop);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let variables = || customer::Variables {
        customer_access_token: token.access_token().expose_secret().to_owned(),
    };

    let data = client
        .execute::<Customer>(variables(), Some(token.access_token()))
        .await?;
    assert_eq!(data.customer.map(|c| c.display_name).as_deref(), Some(NAME));

    // Retried like the crate's own operations.
    shop.inject(Fault::Throttled, 1);
    let data = client
        .execute::<Customer>(variables(), Some(token.access_token()))
        .await?;
    assert!(data.customer.is_some());
    assert_eq!(clock.waits().len(), 1, "one retry");

    // Top-level errors are typed, named after the operation, and scrubbed of the
    // customer token even when the storefront echoes it.
    shop.inject(
        Fault::GraphqlError {
            code: "ACCESS_DENIED".into(),
            message: format!("token {} denied", token.access_token().expose_secret()),
        },
        1,
    );
    let error = client
        .execute::<Customer>(variables(), Some(token.access_token()))
        .await
        .err()
        .ok_or("no error")?;
    assert_eq!(error.operation(), Some(Operation::Custom("Customer")));
    assert!(matches!(error.kind(), ErrorKind::Graphql(_)));
    assert_eq!(error.failure_scope(), FailureScope::Shop);
    let report = storefront_token::ErrorReport::new(&error).to_string();
    assert!(report.starts_with("Customer: "), "{report}");
    assert!(
        !report.contains(token.access_token().expose_secret())
            && !format!("{error:?}").contains(token.access_token().expose_secret()),
        "{report}"
    );

    // HTTP statuses too.
    shop.inject(
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        1,
    );
    let error = client
        .execute::<Customer>(variables(), None)
        .await
        .err()
        .ok_or("no error")?;
    assert_eq!(error.status(), Some(401));
    assert_eq!(shop.requests(Operation::Customer), 5);
    Ok(())
}
