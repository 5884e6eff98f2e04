//! Injected faults: statuses with `Retry-After`, throttling and GraphQL errors,
//! broken bodies, delays, dropped connections, their order and count, and
//! nonsense statuses.

use super::*;

#[tokio::test]
async fn status_fault_sends_retry_after_verbatim() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    let before = shop.token_expires_at(&token);
    shop.set_now(start_time() + TimeDelta::days(1));
    shop.inject(
        Fault::Status {
            status: 429,
            retry_after: Some("2.5".into()),
        },
        1,
    );
    let reply = gql(&shop, RENEW, json!({"customerAccessToken": token})).await?;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("2.5"));
    assert!(reply.json()["errors"].is_string());
    assert!(reply.header("x-request-id").is_some());
    // The faulted renew changed nothing but was counted.
    assert_eq!(shop.token_expires_at(&token), before);
    assert_eq!(shop.requests(Operation::Renew), 1);

    shop.inject(
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let reply = gql(&shop, RENEW, json!({"customerAccessToken": token})).await?;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), None);
    Ok(())
}

#[tokio::test]
async fn throttled_and_graphql_error_faults() -> TestResult {
    let shop = shop().await?;
    shop.inject(Fault::Throttled, 1);
    shop.inject(
        Fault::GraphqlError {
            code: "INTERNAL_SERVER_ERROR".into(),
            message: "Internal error".into(),
        },
        1,
    );
    let reply = gql(&shop, CUSTOMER, json!({"customerAccessToken": "x"})).await?;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
    );
    let reply = gql(&shop, CUSTOMER, json!({"customerAccessToken": "x"})).await?;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["data"], Value::Null);
    assert!(body.get("data").is_some());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INTERNAL_SERVER_ERROR"
    );
    assert_eq!(body["errors"][0]["message"], "Internal error");
    Ok(())
}

#[tokio::test]
async fn html_truncated_and_oversized_faults() -> TestResult {
    let shop = shop().await?;
    shop.inject(Fault::HtmlBody { status: 502 }, 1);
    shop.inject(Fault::TruncatedJson, 1);
    shop.inject(Fault::OversizedBody { bytes: 3_000_000 }, 1);

    let reply = gql(&shop, CUSTOMER, json!({"customerAccessToken": "x"})).await?;
    assert_eq!(reply.status, 502);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(reply.text.contains("<html"));

    let reply = gql(&shop, CUSTOMER, json!({"customerAccessToken": "x"})).await?;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(
        reply.header("content-length"),
        Some(reply.text.len().to_string().as_str())
    );
    assert!(!reply.text.is_empty());
    assert!(serde_json::from_str::<Value>(&reply.text).is_err());

    let reply = gql(&shop, CUSTOMER, json!({"customerAccessToken": "x"})).await?;
    assert_eq!(reply.status, 200);
    assert!(reply.text.len() >= 3_000_000);
    assert!(reply.json()["errors"].is_array());

    assert_eq!(gql(&shop, "{ __typename }", Value::Null).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn delay_fault_trips_a_client_timeout() -> TestResult {
    let shop = shop().await?;
    shop.inject(Fault::Delay(Duration::from_secs(30)), 1);
    let body = json!({"query": "{ __typename }"}).to_string();
    let result = reqwest::Client::new()
        .post(shop.endpoint())
        .header("X-Shopify-Storefront-Access-Token", shop.public_token())
        .header("Content-Type", "application/json")
        .timeout(Duration::from_millis(50))
        .body(body)
        .send()
        .await;
    assert!(
        result.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{result:?}"
    );
    // The next request is not delayed.
    let reply = gql(&shop, "{ __typename }", Value::Null).await?;
    assert_eq!(reply.status, 200);
    Ok(())
}

#[tokio::test]
async fn short_delay_then_normal_handling() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    shop.inject(Fault::Delay(Duration::from_millis(20)), 1);
    let body = renew(&shop, &token).await?;
    assert_eq!(
        body["data"]["customerAccessTokenRenew"]["userErrors"],
        json!([])
    );
    assert_eq!(shop.pending_faults(), 0);
    Ok(())
}

#[tokio::test]
async fn drop_connection_fault_is_a_transport_error() -> TestResult {
    let shop = shop().await?;
    shop.inject(Fault::DropConnection, 1);
    let result = gql(&shop, "{ __typename }", Value::Null).await;
    let error = result.err().ok_or("expected a transport error")?;
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    assert_eq!(gql(&shop, "{ __typename }", Value::Null).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn faults_apply_to_exactly_n_requests_in_fifo_order() -> TestResult {
    let shop = shop().await?;
    shop.inject(
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        2,
    );
    shop.inject(Fault::Throttled, 1);
    assert_eq!(shop.pending_faults(), 3);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let reply = gql(&shop, "{ __typename }", Value::Null).await?;
        statuses.push((reply.status, reply.json()["errors"][0]["message"].clone()));
    }
    assert_eq!(statuses[0].0, 500);
    assert_eq!(statuses[1].0, 500);
    assert_eq!(statuses[2], (200, json!("Throttled")));
    assert_eq!(statuses[3], (200, Value::Null));

    shop.inject(Fault::Throttled, 5);
    shop.clear_faults();
    assert_eq!(shop.pending_faults(), 0);
    assert_eq!(
        gql(&shop, "{ __typename }", Value::Null).await?.json(),
        json!({"data": {"__typename": "QueryRoot"}})
    );
    Ok(())
}

#[tokio::test]
async fn faults_hit_unauthenticated_requests_too() -> TestResult {
    let shop = shop().await?;
    shop.inject(
        Fault::Status {
            status: 430,
            retry_after: None,
        },
        1,
    );
    let reply = send(reqwest::Client::new().post(shop.endpoint())).await?;
    assert_eq!(reply.status, 430);
    let reply = send(reqwest::Client::new().post(shop.endpoint())).await?;
    assert_eq!(reply.status, 401);
    Ok(())
}

#[tokio::test]
async fn nonsense_fault_statuses_become_500() -> TestResult {
    let shop = shop().await?;
    shop.inject(
        Fault::Status {
            status: 101,
            retry_after: Some("bad\u{7f}value".into()),
        },
        1,
    );
    shop.inject(Fault::HtmlBody { status: 1000 }, 1);
    let reply = gql(&shop, "{ __typename }", Value::Null).await?;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("retry-after"), None);
    let reply = gql(&shop, "{ __typename }", Value::Null).await?;
    assert_eq!(reply.status, 500);
    Ok(())
}
