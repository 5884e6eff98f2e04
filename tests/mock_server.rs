//! Real HTTP against `storefront_token::mock::MockStorefront` with a raw reqwest client.
//! This file holds the shared helpers; the tests are in `mock_server/`: the token
//! lifecycle and clock settings, GraphQL validation and projection, the HTTP layer,
//! injected faults, and counters, concurrency and shutdown.

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

#[path = "mock_server/faults.rs"]
mod faults;
#[path = "mock_server/graphql.rs"]
mod graphql;
#[path = "mock_server/http.rs"]
mod http;
#[path = "mock_server/lifecycle.rs"]
mod lifecycle;
#[path = "mock_server/serving.rs"]
mod serving;
