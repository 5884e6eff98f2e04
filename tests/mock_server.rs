//! Real HTTP against `storefront_token::mock::MockStorefront` with a raw reqwest client.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{send, Reply};
use serde_json::{json, Value};
use storefront_token::mock::{Fault, MockError, MockStorefront};
use storefront_token::Operation;

const CREATE: &str = include_str!("../graphql/customer_access_token_create.graphql");
const RENEW: &str = include_str!("../graphql/customer_access_token_renew.graphql");
const DELETE: &str = include_str!("../graphql/customer_access_token_delete.graphql");
const CUSTOMER: &str = include_str!("../graphql/customer.graphql");

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const DAY: u64 = 24 * 60 * 60;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-08T15:50:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// A mock with one customer and a frozen clock at 2026-01-08T15:50:00Z.
async fn shop() -> Result<MockStorefront, MockError> {
    MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, "Ada Lovelace")
        .start_time(start_time())
        .frozen_clock(true)
        .build()
        .await
}

/// Posts a GraphQL request with the public token.
async fn gql(
    shop: &MockStorefront,
    query: &str,
    variables: Value,
) -> Result<Reply, reqwest::Error> {
    let body = json!({ "query": query, "variables": variables }).to_string();
    send(
        reqwest::Client::new()
            .post(shop.endpoint())
            .header("X-Shopify-Storefront-Access-Token", shop.public_token())
            .header("Content-Type", "application/json")
            .body(body),
    )
    .await
}

async fn create(
    shop: &MockStorefront,
    email: &str,
    password: &str,
) -> Result<Value, reqwest::Error> {
    let reply = gql(
        shop,
        CREATE,
        json!({"input": {"email": email, "password": password}}),
    )
    .await?;
    assert_eq!(reply.status, 200);
    Ok(reply.json())
}

async fn login(shop: &MockStorefront) -> Result<String, Box<dyn std::error::Error>> {
    let body = create(shop, EMAIL, PASSWORD).await?;
    let token = body["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"]
        .as_str()
        .ok_or("no token in create response")?;
    Ok(token.to_owned())
}

async fn renew(shop: &MockStorefront, token: &str) -> Result<Value, reqwest::Error> {
    Ok(gql(shop, RENEW, json!({"customerAccessToken": token}))
        .await?
        .json())
}

async fn customer(shop: &MockStorefront, token: &str) -> Result<Value, reqwest::Error> {
    Ok(gql(shop, CUSTOMER, json!({"customerAccessToken": token}))
        .await?
        .json())
}

async fn delete(shop: &MockStorefront, token: &str) -> Result<Value, reqwest::Error> {
    Ok(gql(shop, DELETE, json!({"customerAccessToken": token}))
        .await?
        .json())
}

fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

// ---------------------------------------------------------------- happy paths

#[tokio::test]
async fn create_renew_customer_delete_happy_path() -> TestResult {
    let shop = shop().await?;

    let body = create(&shop, EMAIL, PASSWORD).await?;
    let payload = &body["data"]["customerAccessTokenCreate"];
    assert_eq!(payload["customerUserErrors"], json!([]));
    let token = payload["customerAccessToken"]["accessToken"]
        .as_str()
        .ok_or("token")?;
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()));
    // 42 days after the frozen start, RFC 3339 with Z.
    assert_eq!(
        payload["customerAccessToken"]["expiresAt"],
        "2026-02-19T15:50:00Z"
    );
    assert!(body.get("errors").is_none());

    let body = customer(&shop, token).await?;
    assert_eq!(
        body,
        json!({"data": {"customer": {
            "id": "gid://shopify/Customer/1", "email": EMAIL, "displayName": "Ada Lovelace"
        }}})
    );

    shop.advance(Duration::from_secs(10 * DAY));
    let body = renew(&shop, token).await?;
    let payload = &body["data"]["customerAccessTokenRenew"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["customerAccessToken"]["accessToken"], token);
    assert_eq!(
        payload["customerAccessToken"]["expiresAt"],
        "2026-03-01T15:50:00Z"
    );
    assert_eq!(
        parse_time(&payload["customerAccessToken"]["expiresAt"]),
        shop.token_expires_at(token)
    );

    let body = delete(&shop, token).await?;
    let payload = &body["data"]["customerAccessTokenDelete"];
    assert_eq!(payload["deletedAccessToken"], token);
    assert!(payload["deletedCustomerAccessTokenId"].is_string());
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(shop.token_expires_at(token), None);
    assert_eq!(
        customer(&shop, token).await?,
        json!({"data": {"customer": null}})
    );

    // Deleting again: both null and a userError.
    let body = delete(&shop, token).await?;
    let payload = &body["data"]["customerAccessTokenDelete"];
    assert_eq!(payload["deletedAccessToken"], Value::Null);
    assert_eq!(payload["deletedCustomerAccessTokenId"], Value::Null);
    assert_eq!(
        payload["userErrors"][0]["field"],
        json!(["customerAccessToken"])
    );
    shop.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn create_rejects_wrong_credentials_and_blanks() -> TestResult {
    let shop = shop().await?;
    for (email, password) in [(EMAIL, "wrong"), ("nobody@example.com", PASSWORD)] {
        let body = create(&shop, email, password).await?;
        let payload = &body["data"]["customerAccessTokenCreate"];
        assert_eq!(payload["customerAccessToken"], Value::Null);
        assert_eq!(
            payload["customerUserErrors"],
            json!([{"code": "UNIDENTIFIED_CUSTOMER", "field": null, "message": "Unidentified customer"}])
        );
    }
    let body = create(&shop, "", PASSWORD).await?;
    let payload = &body["data"]["customerAccessTokenCreate"];
    assert_eq!(payload["customerAccessToken"], Value::Null);
    assert_eq!(payload["customerUserErrors"][0]["code"], "BLANK");
    assert_eq!(
        payload["customerUserErrors"][0]["field"],
        json!(["input", "email"])
    );

    let body = create(&shop, EMAIL, "").await?;
    let errors = &body["data"]["customerAccessTokenCreate"]["customerUserErrors"];
    assert_eq!(errors[0]["field"], json!(["input", "password"]));

    // The deprecated `userErrors` mirrors them without a code.
    let query = "mutation($input: CustomerAccessTokenCreateInput!) {
        customerAccessTokenCreate(input: $input) { userErrors { field message } } }";
    let reply = gql(
        &shop,
        query,
        json!({"input": {"email": "", "password": "x"}}),
    )
    .await?;
    let errors = &reply.json()["data"]["customerAccessTokenCreate"]["userErrors"];
    assert_eq!(errors[0]["field"], json!(["input", "email"]));
    assert!(errors[0].get("code").is_none());
    Ok(())
}

#[tokio::test]
async fn inline_literal_arguments_work() -> TestResult {
    let shop = shop().await?;
    let query = format!(
        r#"mutation {{ customerAccessTokenCreate(input: {{email: "{EMAIL}", password: "{PASSWORD}"}}) {{
            customerAccessToken {{ accessToken }} }} }}"#
    );
    let reply = gql(&shop, &query, Value::Null).await?;
    let token =
        &reply.json()["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"];
    assert!(token
        .as_str()
        .is_some_and(|t| shop.token_expires_at(t).is_some()));
    Ok(())
}

// ------------------------------------------------------------ clock and settings

#[tokio::test]
async fn expired_token_cannot_be_renewed_or_used() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    shop.advance(Duration::from_secs(42 * DAY)); // expiresAt == now: no longer live
    let body = renew(&shop, &token).await?;
    let payload = &body["data"]["customerAccessTokenRenew"];
    assert_eq!(payload["customerAccessToken"], Value::Null);
    assert_eq!(
        payload["userErrors"],
        json!([{"field": ["customerAccessToken"], "message": "Customer access token is invalid."}])
    );
    assert_eq!(
        customer(&shop, &token).await?["data"]["customer"],
        Value::Null
    );
    assert_eq!(shop.token_expires_at(&token), None);
    Ok(())
}

#[tokio::test]
async fn token_just_before_expiry_still_renews() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    shop.advance(Duration::from_secs(42 * DAY - 1));
    let body = renew(&shop, &token).await?;
    assert_eq!(
        body["data"]["customerAccessTokenRenew"]["userErrors"],
        json!([])
    );
    Ok(())
}

#[tokio::test]
async fn rotation_on_returns_new_token_and_kills_old() -> TestResult {
    let shop = shop().await?;
    shop.set_renew_rotates_token(true);
    let old = login(&shop).await?;
    let body = renew(&shop, &old).await?;
    let new = body["data"]["customerAccessTokenRenew"]["customerAccessToken"]["accessToken"]
        .as_str()
        .ok_or("renewed token")?
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(
        customer(&shop, &old).await?["data"]["customer"],
        Value::Null
    );
    assert_eq!(
        customer(&shop, &new).await?["data"]["customer"]["email"],
        EMAIL
    );
    let body = renew(&shop, &old).await?;
    assert_eq!(
        body["data"]["customerAccessTokenRenew"]["customerAccessToken"],
        Value::Null
    );

    // Off again: the string is kept.
    shop.set_renew_rotates_token(false);
    let body = renew(&shop, &new).await?;
    assert_eq!(
        body["data"]["customerAccessTokenRenew"]["customerAccessToken"]["accessToken"],
        new
    );
    Ok(())
}

#[tokio::test]
async fn lifetime_and_message_settings_apply_while_running() -> TestResult {
    let shop = shop().await?;
    shop.set_token_lifetime(Duration::from_secs(3600));
    let body = create(&shop, EMAIL, PASSWORD).await?;
    let expires = &body["data"]["customerAccessTokenCreate"]["customerAccessToken"]["expiresAt"];
    assert_eq!(expires, "2026-01-08T16:50:00Z");

    shop.set_invalid_token_message("Unidentified customer");
    let body = renew(&shop, "not-a-token").await?;
    assert_eq!(
        body["data"]["customerAccessTokenRenew"]["userErrors"][0]["message"],
        "Unidentified customer"
    );
    Ok(())
}

#[tokio::test]
async fn builder_lifetime_and_ticking_clock() -> TestResult {
    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, "Ada")
        .token_lifetime(Duration::from_secs(7 * DAY))
        .build()
        .await?;
    let before = shop.now();
    let (token, expires_at) = shop.issue_token(EMAIL).ok_or("customer")?;
    let lifetime = expires_at - before;
    assert!(
        lifetime <= TimeDelta::days(7) && lifetime > TimeDelta::days(7) - TimeDelta::seconds(2)
    );
    assert_eq!(shop.token_expires_at(&token), Some(expires_at));
    assert!(shop.revoke_token(&token));
    assert!(!shop.revoke_token(&token));
    assert_eq!(shop.issue_token("nobody@example.com"), None);
    shop.set_now(start_time());
    assert!((shop.now() - start_time()) < TimeDelta::seconds(5));
    Ok(())
}

#[tokio::test]
async fn issued_tokens_work_over_http() -> TestResult {
    let shop = shop().await?;
    let id = shop.add_customer("grace@example.com", "pw", "Grace Hopper");
    assert_eq!(id, "gid://shopify/Customer/2");
    let (token, _) = shop.issue_token("grace@example.com").ok_or("customer")?;
    let body = customer(&shop, &token).await?;
    assert_eq!(body["data"]["customer"]["id"], id);
    assert_eq!(body["data"]["customer"]["displayName"], "Grace Hopper");
    shop.revoke_token(&token);
    assert_eq!(
        customer(&shop, &token).await?["data"]["customer"],
        Value::Null
    );
    Ok(())
}

// ------------------------------------------------------------ validation

#[tokio::test]
async fn wrong_field_is_a_validation_error() -> TestResult {
    let shop = shop().await?;
    let query = "query($t: String!) {\n  customer(customerAccessToken: $t) { id emailAddress }\n}";
    let reply = gql(&shop, query, json!({"t": "x"})).await?;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert!(body.get("data").is_none(), "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert!(error["message"]
        .as_str()
        .is_some_and(|m| m.contains("emailAddress")));
    assert_eq!(error["locations"][0]["line"], 2);
    // Counted even though rejected.
    assert_eq!(shop.requests(Operation::Customer), 1);
    Ok(())
}

#[tokio::test]
async fn syntax_error_is_a_validation_error() -> TestResult {
    let shop = shop().await?;
    let reply = gql(&shop, "mutation { customerAccessTokenRenew(", Value::Null).await?;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    Ok(())
}

#[tokio::test]
async fn wrong_or_missing_variables_are_rejected() -> TestResult {
    let shop = shop().await?;
    for variables in [
        json!({"customerAccessToken": 5}),
        json!({}),
        Value::Null,
        json!({"customerAccessToken": null}),
    ] {
        let reply = gql(&shop, RENEW, variables.clone()).await?;
        assert_eq!(reply.status, 200);
        let body = reply.json();
        assert!(body.get("data").is_none(), "{variables}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
    }
    let reply = gql(&shop, CREATE, json!({"input": {"email": EMAIL}})).await?;
    let body = reply.json();
    assert!(body.get("data").is_none());
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("password")),
        "{body}"
    );
    assert_eq!(shop.requests(Operation::Renew), 4);
    Ok(())
}

#[tokio::test]
async fn operation_name_selects_and_unknown_name_fails() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    let document = format!("{CUSTOMER}\n{RENEW}");
    let send_named = |name: Value| {
        let body = json!({"query": document, "operationName": name, "variables": {"customerAccessToken": token}});
        send(
            reqwest::Client::new()
                .post(shop.endpoint())
                .header("X-Shopify-Storefront-Access-Token", shop.public_token())
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body.to_string()),
        )
    };
    let body = send_named(json!("Customer")).await?.json();
    assert_eq!(body["data"]["customer"]["email"], EMAIL);
    assert!(body["data"].get("customerAccessTokenRenew").is_none());
    // Shopify's (graphql-ruby's) words for an unknown or missing operation name.
    let body = send_named(json!("Nope")).await?.json();
    assert_eq!(
        body,
        json!({"errors": [{"message": "No operation named \"Nope\""}]})
    );
    let body = send_named(Value::Null).await?.json();
    assert_eq!(
        body,
        json!({"errors": [{"message": "An operation name is required"}]})
    );
    // When no single operation is selected, every operation in the document counts.
    assert_eq!(shop.requests(Operation::Customer), 3);
    assert_eq!(shop.requests(Operation::Renew), 2);
    Ok(())
}

// ------------------------------------------------------------ projection

#[tokio::test]
async fn aliases_typename_and_fragments_are_projected() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    let query = r#"
        fragment Tok on CustomerAccessToken { __typename token: accessToken }
        mutation Both($t: String!) {
          __typename
          first: customerAccessTokenRenew(customerAccessToken: $t) {
            __typename
            customerAccessToken { ...Tok }
            errors: userErrors { message }
          }
          second: customerAccessTokenRenew(customerAccessToken: "bogus") {
            customerAccessToken { ... on CustomerAccessToken { expiresAt } }
            userErrors { ... on DisplayableError { __typename field } }
          }
        }"#;
    let body = gql(&shop, query, json!({"t": token})).await?.json();
    assert_eq!(
        body,
        json!({"data": {
            "__typename": "Mutation",
            "first": {
                "__typename": "CustomerAccessTokenRenewPayload",
                "customerAccessToken": {"__typename": "CustomerAccessToken", "token": token},
                "errors": []
            },
            "second": {
                "customerAccessToken": null,
                "userErrors": [{"__typename": "UserError", "field": ["customerAccessToken"]}]
            }
        }})
    );
    // One request selecting the renew field twice counts once.
    assert_eq!(shop.requests(Operation::Renew), 1);

    let body = gql(
        &shop,
        "query { me: customer(customerAccessToken: \"x\") { id } }",
        Value::Null,
    )
    .await?
    .json();
    assert_eq!(body, json!({"data": {"me": null}}));
    Ok(())
}

// ------------------------------------------------------------ HTTP layer

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

// ------------------------------------------------------------ faults

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

// ------------------------------------------------------------ counters, concurrency, shutdown

#[tokio::test]
async fn counters_per_operation() -> TestResult {
    let shop = shop().await?;
    let token = login(&shop).await?;
    renew(&shop, &token).await?;
    renew(&shop, &token).await?;
    customer(&shop, &token).await?;
    delete(&shop, &token).await?;
    gql(&shop, "{ __typename }", Value::Null).await?;
    assert_eq!(shop.requests(Operation::Create), 1);
    assert_eq!(shop.requests(Operation::Renew), 2);
    assert_eq!(shop.requests(Operation::Customer), 1);
    assert_eq!(shop.requests(Operation::Delete), 1);
    assert_eq!(shop.total_requests(), 6);
    Ok(())
}

#[tokio::test]
async fn fifty_concurrent_requests_all_succeed() -> TestResult {
    let shop = shop().await?;
    let client = reqwest::Client::new();
    let body =
        json!({"query": CREATE, "variables": {"input": {"email": EMAIL, "password": PASSWORD}}})
            .to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = client
            .post(shop.endpoint())
            .header("X-Shopify-Storefront-Access-Token", shop.public_token())
            .header("Content-Type", "application/json")
            .body(body.clone());
        tasks.spawn(send(request));
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let reply = joined??;
        assert_eq!(reply.status, 200);
        let token = reply.json()["data"]["customerAccessTokenCreate"]["customerAccessToken"]
            ["accessToken"]
            .clone();
        assert!(tokens.insert(token.as_str().ok_or("token")?.to_owned()));
    }
    assert_eq!(tokens.len(), 50);
    assert_eq!(shop.requests(Operation::Create), 50);
    Ok(())
}

#[tokio::test]
async fn shutdown_stops_serving() -> TestResult {
    let shop = shop().await?;
    let endpoint = shop.endpoint();
    assert_eq!(gql(&shop, "{ __typename }", Value::Null).await?.status, 200);
    shop.shutdown().await;
    let result = reqwest::Client::new()
        .post(&endpoint)
        .body("{}")
        .send()
        .await;
    assert!(result.is_err());
    Ok(())
}

#[tokio::test]
async fn drop_stops_serving() -> TestResult {
    let shop = shop().await?;
    let addr = shop.addr();
    drop(shop);
    // The listener closes once the accept loop observes the drop.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused);
    Ok(())
}

#[tokio::test]
async fn debug_output_hides_tokens() -> TestResult {
    let shop = shop().await?;
    let debug = format!("{shop:?}");
    assert!(!debug.contains(shop.public_token()) && !debug.contains(shop.private_token()));
    Ok(())
}

#[tokio::test]
async fn hostile_documents_get_errors_not_panics() -> TestResult {
    let shop = shop().await?;
    let deep_selection = format!("query {}{}", "{a".repeat(15_000), "}".repeat(15_000));
    let deep_value = format!(
        "query {{ customer(customerAccessToken: {}\"x\"{}) {{ id }} }}",
        "[".repeat(25_000),
        "]".repeat(25_000)
    );
    let fragment_cycle =
        "query { ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A }";
    for query in [deep_selection.as_str(), deep_value.as_str(), fragment_cycle] {
        let reply = gql(&shop, query, Value::Null).await?;
        assert_eq!(reply.status, 200);
        assert!(reply.json().get("data").is_none());
    }
    let deep_variable = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let body = format!(r#"{{"query": "{{ __typename }}", "variables": {{"v": {deep_variable}}}}}"#);
    let reply = send(
        reqwest::Client::new()
            .post(shop.endpoint())
            .header("X-Shopify-Storefront-Access-Token", shop.public_token())
            .header("Content-Type", "application/json")
            .body(body),
    )
    .await?;
    assert_eq!(reply.status, 400);
    assert_eq!(gql(&shop, "{ __typename }", Value::Null).await?.status, 200);
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
