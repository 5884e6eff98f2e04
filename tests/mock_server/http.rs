//! The HTTP layer: authentication, paths, API versions, methods, content types,
//! body sizes, response headers, and a denied scope.

use super::*;

#[tokio::test]
async fn missing_or_wrong_auth_is_401() -> TestResult {
    let shop = shop().await?;
    let body = json!({"query": CUSTOMER, "variables": {"customerAccessToken": "x"}}).to_string();
    let client = reqwest::Client::new();
    let expected = json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"});
    let reply = send(
        client
            .post(shop.endpoint())
            .header("Content-Type", "application/json")
            .body(body.clone()),
    )
    .await?;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json(), expected);
    let reply = send(
        client
            .post(shop.endpoint())
            .header("Content-Type", "application/json")
            .header("X-Shopify-Storefront-Access-Token", shop.private_token())
            .body(body.clone()),
    )
    .await?;
    assert_eq!(reply.status, 401);
    let reply = send(
        client
            .post(shop.endpoint())
            .header("Content-Type", "application/json")
            .header("Shopify-Storefront-Private-Token", "wrong")
            .body(body),
    )
    .await?;
    assert_eq!(reply.status, 401);
    assert_eq!(shop.total_requests(), 3);
    assert_eq!(shop.requests(Operation::Customer), 3);
    Ok(())
}

#[tokio::test]
async fn private_token_and_buyer_ip_are_accepted() -> TestResult {
    let shop = shop().await?;
    assert_eq!(shop.last_buyer_ip(), None);
    let body =
        json!({"query": CREATE, "variables": {"input": {"email": EMAIL, "password": PASSWORD}}});
    let reply = send(
        reqwest::Client::new()
            .post(shop.endpoint())
            .header("Content-Type", "application/json")
            .header("Shopify-Storefront-Private-Token", shop.private_token())
            .header("Shopify-Storefront-Buyer-IP", "203.0.113.7")
            .body(body.to_string()),
    )
    .await?;
    assert_eq!(reply.status, 200);
    assert!(
        reply.json()["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"]
            .is_string()
    );
    assert_eq!(shop.last_buyer_ip().as_deref(), Some("203.0.113.7"));
    Ok(())
}

#[tokio::test]
async fn wrong_path_version_and_method() -> TestResult {
    let shop = shop().await?;
    let client = reqwest::Client::new();
    let base = format!("http://{}", shop.addr());
    for path in [
        "/api/2025-01/graphql.json",
        "/graphql",
        "/api/2026-04/graphql",
    ] {
        let reply = send(
            client
                .post(format!("{base}{path}"))
                .header("X-Shopify-Storefront-Access-Token", shop.public_token())
                .header("Content-Type", "application/json")
                .body(json!({"query": CUSTOMER}).to_string()),
        )
        .await?;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.json().get("errors").is_some());
    }
    let reply = send(client.get(shop.endpoint())).await?;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(shop.total_requests(), 4);
    Ok(())
}

#[tokio::test]
async fn bad_content_type_body_and_size() -> TestResult {
    let shop = shop().await?;
    let client = reqwest::Client::new();
    let authed = || {
        client
            .post(shop.endpoint())
            .header("X-Shopify-Storefront-Access-Token", shop.public_token())
    };
    let valid = json!({"query": CUSTOMER, "variables": {"customerAccessToken": "x"}}).to_string();
    let reply = send(
        authed()
            .header("Content-Type", "text/plain")
            .body(valid.clone()),
    )
    .await?;
    assert_eq!(reply.status, 400);
    let reply = send(authed().body(valid)).await?;
    assert_eq!(reply.status, 400);
    for body in [
        "{not json",
        "[1,2]",
        r#"{"query": 5}"#,
        r#"{"variables": {}}"#,
        r#"{"query":"{__typename}","variables":7}"#,
        "",
    ] {
        let reply = send(
            authed()
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await?;
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.json()["errors"][0]["message"].is_string(), "{body}");
    }
    let huge =
        json!({"query": format!("query {{ __typename }} #{}", "x".repeat(70_000))}).to_string();
    let reply = send(
        authed()
            .header("Content-Type", "application/json")
            .body(huge),
    )
    .await?;
    assert_eq!(reply.status, 413);
    // Still serving after all that.
    let reply = gql(&shop, "{ __typename }", Value::Null).await?;
    assert_eq!(reply.json(), json!({"data": {"__typename": "QueryRoot"}}));
    Ok(())
}

#[tokio::test]
async fn common_response_headers() -> TestResult {
    let custom = MockStorefront::builder()
        .start_time(start_time())
        .frozen_clock(true)
        .api_version_header("2025-10")
        .deprecated_reason("https://shopify.dev/changelog/legacy-customer-accounts-are-deprecated")
        .build()
        .await?;
    let first = gql(&custom, "{ __typename }", Value::Null).await?;
    let second = send(reqwest::Client::new().post(custom.endpoint())).await?; // 401
    for reply in [&first, &second] {
        assert_eq!(reply.header("x-shopify-api-version"), Some("2025-10"));
        assert_eq!(reply.header("date"), Some("Thu, 08 Jan 2026 15:50:00 GMT"));
        assert!(reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")));
        assert!(reply.header("x-shopify-api-deprecated-reason").is_some());
        assert!(reply
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty()));
    }
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
    assert_eq!(custom.api_version(), "2026-04");
    assert!(custom.endpoint().ends_with("/api/2026-04/graphql.json"));

    let plain = shop().await?;
    let reply = gql(&plain, "{ __typename }", Value::Null).await?;
    assert_eq!(reply.header("x-shopify-api-version"), Some("2026-04"));
    assert!(reply.header("x-shopify-api-deprecated-reason").is_none());
    Ok(())
}

#[tokio::test]
async fn custom_api_version_and_tokens() -> TestResult {
    let shop = MockStorefront::builder()
        .api_version("unstable")
        .public_token("pub")
        .private_token("priv")
        .build()
        .await?;
    assert!(shop.endpoint().ends_with("/api/unstable/graphql.json"));
    assert_eq!((shop.public_token(), shop.private_token()), ("pub", "priv"));
    let reply = gql(&shop, "{ __typename }", Value::Null).await?;
    assert_eq!(reply.status, 200);
    assert!(matches!(
        MockStorefront::builder().api_version("../x").build().await,
        Err(MockError::InvalidSetting(_))
    ));
    assert!(matches!(
        MockStorefront::builder()
            .public_token("bad\nvalue")
            .build()
            .await,
        Err(MockError::InvalidSetting(_))
    ));
    Ok(())
}

// ------------------------------------------------------------ scope denied

#[tokio::test]
async fn scope_denied_gives_top_level_access_denied() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    shop.set_customer_scope_denied(true);
    let body = renew(&shop, &token).await?;
    assert_eq!(body["data"], json!({"customerAccessTokenRenew": null}));
    let error = &body["errors"][0];
    assert_eq!(error["message"], "CustomerAccessTokenRenew access denied");
    assert_eq!(error["path"], json!(["customerAccessTokenRenew"]));
    assert_eq!(error["extensions"]["code"], "ACCESS_DENIED");
    assert_eq!(error["locations"][0]["line"], 3);

    let aliased = "mutation($t: String!) { bye: customerAccessTokenDelete(customerAccessToken: $t) { deletedAccessToken } }";
    let body = gql(&shop, aliased, json!({"t": token})).await?.json();
    assert_eq!(body["data"], json!({"bye": null}));
    assert_eq!(body["errors"][0]["path"], json!(["bye"]));
    assert_eq!(
        body["errors"][0]["message"],
        "CustomerAccessTokenDelete access denied"
    );
    // Nothing was deleted; the customer query is unaffected.
    assert!(shop.token_expires_at(&token).is_some());
    assert_eq!(
        customer(&shop, &token).await?["data"]["customer"]["email"],
        EMAIL
    );

    shop.set_customer_scope_denied(false);
    assert_eq!(
        renew(&shop, &token).await?["data"]["customerAccessTokenRenew"]["userErrors"],
        json!([])
    );
    Ok(())
}
