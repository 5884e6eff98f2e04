//! Serving: request counters per operation, fifty concurrent requests, shutdown
//! and drop, and a `Debug` that hides the tokens.

use super::*;

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
