//! Browsers: CORS preflight and allowed origins, `application/graphql` bodies,
//! and several operations in one document picked by `operationName`.

use super::*;

#[tokio::test]
async fn cors_preflight_and_allow_origin() -> TestResult {
    let shop = shop().await?;
    let client = reqwest::Client::new();
    let reply = send(
        client
            .request(reqwest::Method::OPTIONS, shop.endpoint())
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type,x-shopify-storefront-access-token,x-sdk-variant,x-sdk-version",
            ),
    )
    .await?;
    assert_eq!(reply.status, 204);
    assert!(reply.text.is_empty());
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let methods = reply
        .header("access-control-allow-methods")
        .ok_or("no allow-methods")?;
    for method in ["POST", "GET", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = reply
        .header("access-control-allow-headers")
        .ok_or("no allow-headers")?
        .to_ascii_lowercase();
    for header in [
        "content-type",
        "x-shopify-storefront-access-token",
        "shopify-storefront-private-token",
        "shopify-storefront-buyer-ip",
        "x-sdk-variant",
        "x-sdk-version",
    ] {
        assert!(allowed.contains(header), "{header} in {allowed}");
    }

    // The request itself carries the origin back.
    let reply = send(
        storefront_api_client(&shop)
            .header("Origin", "http://localhost:3000")
            .body(json!({"query": "{ shop { name } }"}).to_string()),
    )
    .await?;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    // Without an Origin, and on errors too: `*`.
    let reply = send(client.post(shop.endpoint())).await?;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    Ok(())
}

#[tokio::test]
async fn application_graphql_bodies_are_accepted() -> TestResult {
    // hydrogen-react's `getPublicTokenHeaders({contentType: 'graphql'})`: the body
    // is the document itself.
    let shop = shop().await?;
    let reply = send(
        reqwest::Client::new()
            .post(shop.endpoint())
            .header("content-type", "application/graphql")
            .header("X-SDK-Variant", "hydrogen-react")
            .header("X-SDK-Variant-Source", "react")
            .header("X-SDK-Version", "2026-04")
            .header("X-Shopify-Storefront-Access-Token", shop.public_token())
            .body("query ShopName @inContext(country: GB) { shop { name } }"),
    )
    .await?;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"data": {"shop": {"name": "Analytical Engines"}}})
    );
    // Operation name and variables may ride in the query string.
    let token = login_token(&shop)?;
    let variables = json!({"t": token}).to_string();
    let mut url = reqwest::Url::parse(&shop.endpoint())?;
    url.query_pairs_mut()
        .append_pair("operationName", "Me")
        .append_pair("variables", &variables);
    let reply = send(
        reqwest::Client::new()
            .post(url)
            .header("Content-Type", "application/graphql; charset=utf-8")
            .header("X-Shopify-Storefront-Access-Token", shop.public_token())
            .body("query Other { shop { name } }\nquery Me($t: String!) { customer(customerAccessToken: $t) { firstName } }"),
    )
    .await?;
    assert_eq!(
        reply.json(),
        json!({"data": {"customer": {"firstName": "Ada"}}})
    );
    Ok(())
}

#[tokio::test]
async fn several_operations_with_operation_name() -> TestResult {
    let shop = shop().await?;
    let document = "query ShopName { shop { name } }
      mutation Login($input: CustomerAccessTokenCreateInput!) {
        customerAccessTokenCreate(input: $input) { customerAccessToken { accessToken } }
      }";
    let variables = json!({"input": {"email": EMAIL, "password": PASSWORD}});
    let body = post(
        storefront_api_client(&shop),
        json!({"query": document, "operationName": "ShopName", "variables": variables}),
    )
    .await?;
    assert_eq!(
        body,
        json!({"data": {"shop": {"name": "Analytical Engines"}}})
    );
    let body = post(
        storefront_api_client(&shop),
        json!({"query": document, "operationName": "Login", "variables": variables}),
    )
    .await?;
    assert!(
        body["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"].is_string()
    );
    let body = post(
        storefront_api_client(&shop),
        json!({"query": document, "variables": variables}),
    )
    .await?;
    assert_eq!(
        body,
        json!({"errors": [{"message": "An operation name is required"}]})
    );
    let body = post(
        storefront_api_client(&shop),
        json!({"query": document, "operationName": "Logout"}),
    )
    .await?;
    assert_eq!(
        body,
        json!({"errors": [{"message": "No operation named \"Logout\""}]})
    );
    Ok(())
}
