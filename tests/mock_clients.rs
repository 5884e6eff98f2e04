//! The mock answers what Shopify's own clients send: the request shapes of
//! `@shopify/storefront-api-client` and Hydrogen (headers, bodies, `@inContext`,
//! `@defer`, `operationName`), browsers (CORS, `application/graphql`), misused
//! directives, and what a new app asks first (customer profile, `shop { name }`,
//! introspection, carts). Plain reqwest, no crate client. This file holds the
//! shared helpers; the tests are in `mock_clients/`, one file per subject.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::send;
use serde_json::{json, Value};
use storefront_token::mock::{MockCustomer, MockError, MockStorefront};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// What `@shopify/storefront-api-client` puts in `X-SDK-Version` (its package version).
const CLIENT_VERSION: &str = "1.0.9";

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-08T15:50:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// A mock with one customer with a full profile, a shop name and a frozen clock.
async fn shop() -> Result<MockStorefront, MockError> {
    MockStorefront::builder()
        .customer(
            MockCustomer::new(EMAIL, PASSWORD)
                .first_name("Ada")
                .last_name("Lovelace")
                .phone("+16135550100"),
        )
        .shop_name("Analytical Engines")
        .start_time(start_time())
        .frozen_clock(true)
        .build()
        .await
}

/// A request with the headers `createStorefrontApiClient({publicAccessToken})` sets
/// (`storefront-api-client.ts`, `constants.ts`): JSON in and out, the SDK variant and
/// version, the public token.
fn storefront_api_client(shop: &MockStorefront) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(shop.endpoint())
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("X-SDK-Variant", "storefront-api-client")
        .header("X-SDK-Version", CLIENT_VERSION)
        .header("X-Shopify-Storefront-Access-Token", shop.public_token())
}

/// A request with the headers Hydrogen's server-side storefront client sends with the
/// private token (`getPrivateTokenHeaders` of hydrogen-react plus Hydrogen's own).
fn hydrogen(shop: &MockStorefront) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(shop.endpoint())
        .header("content-type", "application/json")
        .header("X-SDK-Variant", "hydrogen-react")
        .header("X-SDK-Variant-Source", "react")
        .header("X-SDK-Version", "2026-04")
        .header("Shopify-Storefront-Private-Token", shop.private_token())
        .header("Shopify-Storefront-Buyer-IP", "203.0.113.7")
        .header(
            "Custom-Storefront-Request-Group-ID",
            "4b8d5a3e-0f1c-4e55-9c1a-1f6f4b0f7c2d",
        )
}

/// `client.request(query, {variables})`: the body is `{query, variables}`, no
/// `operationName` (graphql-client's `generateFetch`).
async fn post(request: reqwest::RequestBuilder, body: Value) -> Result<Value, reqwest::Error> {
    let reply = send(request.body(body.to_string())).await?;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.contains("application/json")),
        "the clients require a JSON content type"
    );
    Ok(reply.json())
}

fn login_token(shop: &MockStorefront) -> Result<String, &'static str> {
    shop.issue_token(EMAIL).map(|(t, _)| t).ok_or("no customer")
}

fn no_errors(body: &Value) {
    assert!(body.get("errors").is_none(), "{body}");
}

#[path = "mock_clients/browsers.rs"]
mod browsers;
#[path = "mock_clients/directives.rs"]
mod directives;
#[path = "mock_clients/first_queries.rs"]
mod first_queries;
#[path = "mock_clients/hydrogen.rs"]
mod hydrogen;
#[path = "mock_clients/storefront_api_client.rs"]
mod storefront_api_client;
