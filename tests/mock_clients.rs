//! The mock answers what Shopify's own clients send: the request shapes of
//! `@shopify/storefront-api-client` and Hydrogen (headers, bodies, `@inContext`,
//! `@defer`, `operationName`), browsers (CORS, `application/graphql`), and what a
//! new app asks first (customer profile, `shop { name }`, introspection, carts).
//! Plain reqwest, no crate client.

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

// ------------------------------------------------ @shopify/storefront-api-client

#[tokio::test]
async fn storefront_api_client_query_with_in_context_variables() -> TestResult {
    let shop = shop().await?;
    let token = login_token(&shop)?;
    let query = "query CustomerDetails($customerAccessToken: String!, $country: CountryCode, $language: LanguageCode)
      @inContext(country: $country, language: $language) {
        customer(customerAccessToken: $customerAccessToken) {
          id firstName lastName email phone displayName createdAt updatedAt
        }
        shop { name }
      }";
    let body = post(
        storefront_api_client(&shop),
        json!({"query": query, "variables": {"customerAccessToken": token, "country": "CA", "language": "FR"}}),
    )
    .await?;
    no_errors(&body);
    assert_eq!(
        body["data"],
        json!({
            "customer": {
                "id": "gid://shopify/Customer/1",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "email": EMAIL,
                "phone": "+16135550100",
                "displayName": "Ada Lovelace",
                "createdAt": "2026-01-08T15:50:00Z",
                "updatedAt": "2026-01-08T15:50:00Z",
            },
            "shop": {"name": "Analytical Engines"},
        })
    );
    Ok(())
}

#[tokio::test]
async fn storefront_api_client_mutation_with_in_context_literals() -> TestResult {
    let shop = shop().await?;
    let query = "mutation customerAccessTokenCreate($input: CustomerAccessTokenCreateInput!)
      @inContext(country: CA, language: EN) {
        customerAccessTokenCreate(input: $input) {
          customerAccessToken { accessToken expiresAt }
          customerUserErrors { code field message }
        }
      }";
    let body = post(
        storefront_api_client(&shop).header("X-SDK-Variant-Source", "my-app"),
        json!({"query": query, "variables": {"input": {"email": EMAIL, "password": PASSWORD}}}),
    )
    .await?;
    no_errors(&body);
    let payload = &body["data"]["customerAccessTokenCreate"];
    assert_eq!(payload["customerUserErrors"], json!([]));
    assert!(payload["customerAccessToken"]["accessToken"].is_string());
    Ok(())
}

#[tokio::test]
async fn storefront_api_client_request_stream_with_defer() -> TestResult {
    // `requestStream` accepts a plain JSON answer (`createJsonResponseAsyncIterator`):
    // the mock delivers the deferred fragment in the one response.
    let shop = shop().await?;
    let token = login_token(&shop)?;
    let query = "query Profile($token: String!) @inContext(language: EN) {
        shop { name }
        customer(customerAccessToken: $token) {
          id
          ... @defer(label: \"names\") { firstName lastName }
          ...Contact @defer
          ... @defer(if: false) { displayName }
        }
      }
      fragment Contact on Customer { email phone }";
    let body = post(
        storefront_api_client(&shop),
        json!({"query": query, "variables": {"token": token}}),
    )
    .await?;
    no_errors(&body);
    assert_eq!(
        body["data"]["customer"],
        json!({
            "id": "gid://shopify/Customer/1",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": EMAIL,
            "phone": "+16135550100",
            "displayName": "Ada Lovelace",
        })
    );
    Ok(())
}

#[tokio::test]
async fn in_context_buyer_location_and_consent_are_accepted() -> TestResult {
    let shop = shop().await?;
    let token = login_token(&shop)?;
    let query = "query Shop($buyer: BuyerInput) @inContext(
        buyer: $buyer,
        preferredLocationId: \"gid://shopify/Location/1\",
        visitorConsent: {analytics: true, marketing: false, preferences: null, saleOfData: false}
      ) { shop { name } }";
    let body = post(
        storefront_api_client(&shop),
        json!({"query": query, "variables": {"buyer": {"customerAccessToken": token, "companyLocationId": "gid://shopify/CompanyLocation/1"}}}),
    )
    .await?;
    no_errors(&body);
    assert_eq!(body["data"]["shop"]["name"], "Analytical Engines");
    Ok(())
}

// ---------------------------------------------------------------- Hydrogen

#[tokio::test]
async fn hydrogen_minified_query_with_i18n_variables() -> TestResult {
    // Hydrogen minifies documents and fills `$country`/`$language` from its i18n.
    let shop = shop().await?;
    let query = "query Shop($country:CountryCode,$language:LanguageCode)@inContext(country:$country,language:$language){shop{name id}}";
    let body = post(
        hydrogen(&shop),
        json!({"query": query, "variables": {"country": "US", "language": "EN"}}),
    )
    .await?;
    no_errors(&body);
    assert_eq!(body["data"]["shop"]["name"], "Analytical Engines");
    assert_eq!(shop.last_buyer_ip().as_deref(), Some("203.0.113.7"));
    Ok(())
}

#[tokio::test]
async fn hydrogen_cart_create_and_buyer_identity_update() -> TestResult {
    let shop = shop().await?;
    let token = login_token(&shop)?;
    let create = "mutation cartCreate($input: CartInput!, $country: CountryCode = ZZ, $language: LanguageCode)
      @inContext(country: $country, language: $language) {
        cartCreate(input: $input) {
          cart { id checkoutUrl totalQuantity note buyerIdentity { countryCode email customer { id email } } }
          userErrors { message field code }
          warnings { message code target }
        }
      }";
    let body = post(
        hydrogen(&shop),
        json!({"query": create, "variables": {"input": {"note": "gift"}, "country": "CA", "language": "EN"}}),
    )
    .await?;
    no_errors(&body);
    let payload = &body["data"]["cartCreate"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["warnings"], json!([]));
    let cart = &payload["cart"];
    let id = cart["id"].as_str().ok_or("no cart id")?.to_owned();
    assert!(
        id.starts_with("gid://shopify/Cart/") && id.contains("?key="),
        "{id}"
    );
    let checkout = cart["checkoutUrl"].as_str().ok_or("no checkout url")?;
    assert!(checkout.starts_with(&format!("http://{}/cart/c/", shop.addr())));
    assert_eq!(cart["note"], "gift");
    assert_eq!(cart["totalQuantity"], 0);
    // The country comes from `@inContext`, as on Shopify.
    assert_eq!(
        cart["buyerIdentity"],
        json!({"countryCode": "CA", "email": null, "customer": null})
    );

    // Shopify asks storefronts to attach the customer's token after login.
    let update = "mutation cartBuyerIdentityUpdate($cartId: ID!, $buyerIdentity: CartBuyerIdentityInput!, $country: CountryCode = ZZ, $language: LanguageCode)
      @inContext(country: $country, language: $language) {
        cartBuyerIdentityUpdate(cartId: $cartId, buyerIdentity: $buyerIdentity) {
          cart { id buyerIdentity { email customer { id email firstName } } }
          userErrors { field message code }
        }
      }";
    let body = post(
        hydrogen(&shop),
        json!({"query": update, "operationName": "cartBuyerIdentityUpdate",
               "variables": {"cartId": id, "buyerIdentity": {"customerAccessToken": token}, "country": "CA"}}),
    )
    .await?;
    no_errors(&body);
    let payload = &body["data"]["cartBuyerIdentityUpdate"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(
        payload["cart"]["buyerIdentity"],
        json!({"email": EMAIL, "customer": {"id": "gid://shopify/Customer/1", "email": EMAIL, "firstName": "Ada"}})
    );
    assert_eq!(
        shop.cart_customer(&id).as_deref(),
        Some("gid://shopify/Customer/1")
    );

    // And the cart reads back.
    let body = post(
        hydrogen(&shop),
        json!({"query": "query Cart($id: ID!) { cart(id: $id) { id buyerIdentity { countryCode customer { displayName } } } }",
               "variables": {"id": id}}),
    )
    .await?;
    no_errors(&body);
    assert_eq!(
        body["data"]["cart"]["buyerIdentity"],
        json!({"countryCode": "CA", "customer": {"displayName": "Ada Lovelace"}})
    );
    Ok(())
}

#[tokio::test]
async fn cart_buyer_identity_update_rejects_invalid_tokens_and_carts() -> TestResult {
    let shop = shop().await?;
    let token = login_token(&shop)?;
    let create = "mutation { cartCreate { cart { id } userErrors { field message code } } }";
    let body = post(storefront_api_client(&shop), json!({"query": create})).await?;
    no_errors(&body);
    let id = body["data"]["cartCreate"]["cart"]["id"]
        .as_str()
        .ok_or("no cart id")?
        .to_owned();
    let update = "mutation Attach($cartId: ID!, $buyer: CartBuyerIdentityInput!) {
        cartBuyerIdentityUpdate(cartId: $cartId, buyerIdentity: $buyer) {
          cart { id buyerIdentity { customer { id } } }
          userErrors { field message code }
        }
      }";
    let attach = |cart: &str, token: &str| {
        post(
            storefront_api_client(&shop),
            json!({"query": update, "variables": {"cartId": cart, "buyer": {"customerAccessToken": token}}}),
        )
    };
    // An unknown token: the error Shopify gives (Shopify/hydrogen#2495).
    let body = attach(&id, "not-a-token").await?;
    no_errors(&body);
    assert_eq!(
        body["data"]["cartBuyerIdentityUpdate"],
        json!({"cart": null, "userErrors": [{
            "field": ["buyerIdentity", "customerAccessToken"],
            "message": "Customer is invalid",
            "code": "INVALID",
        }]})
    );
    assert_eq!(shop.cart_customer(&id), None);
    // An unknown cart.
    let body = attach("gid://shopify/Cart/nope?key=0", &token).await?;
    assert_eq!(
        body["data"]["cartBuyerIdentityUpdate"]["userErrors"],
        json!([{"field": ["cartId"], "message": "The specified cart does not exist.", "code": "INVALID"}])
    );
    // A revoked token is invalid too, and so is an expired one.
    assert!(shop.revoke_token(&token));
    let body = attach(&id, &token).await?;
    assert_eq!(
        body["data"]["cartBuyerIdentityUpdate"]["userErrors"][0]["message"],
        "Customer is invalid"
    );
    let fresh = login_token(&shop)?;
    shop.advance(Duration::from_secs(43 * 24 * 60 * 60));
    let body = attach(&id, &fresh).await?;
    assert_eq!(
        body["data"]["cartBuyerIdentityUpdate"]["userErrors"][0]["code"],
        "INVALID"
    );
    // cartCreate with an invalid token fails the same way, on its input path.
    let body = post(
        storefront_api_client(&shop),
        json!({"query": "mutation($input: CartInput) { cartCreate(input: $input) { cart { id } userErrors { field message code } } }",
               "variables": {"input": {"buyerIdentity": {"customerAccessToken": "expired"}}}}),
    )
    .await?;
    assert_eq!(
        body["data"]["cartCreate"],
        json!({"cart": null, "userErrors": [{
            "field": ["input", "buyerIdentity", "customerAccessToken"],
            "message": "Customer is invalid",
            "code": "INVALID",
        }]})
    );
    Ok(())
}

#[tokio::test]
async fn cart_mutations_are_validated_like_the_rest() -> TestResult {
    let shop = shop().await?;
    // `cartId` is required; `lines` is not in the mock's trimmed `CartInput`.
    for query in [
        "mutation { cartBuyerIdentityUpdate(buyerIdentity: {}) { cart { id } } }",
        "mutation { cartCreate(input: {lines: []}) { cart { id } } }",
        "mutation { cartCreate { cart { id } userErrors { nope } } }",
    ] {
        let body = post(storefront_api_client(&shop), json!({"query": query})).await?;
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{query}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------- browsers, CORS

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

// ------------------------------------------------------- invalid directives

async fn first_error(shop: &MockStorefront, query: &str) -> Result<Value, reqwest::Error> {
    let body = post(
        storefront_api_client(shop),
        json!({"query": query, "variables": {}}),
    )
    .await?;
    assert!(body.get("data").is_none(), "{body}");
    Ok(body["errors"][0].clone())
}

#[tokio::test]
async fn misused_directives_get_shopifys_validation_errors() -> TestResult {
    let shop = shop().await?;
    let error = first_error(&shop, "query Q { shop @inContext(country: CA) { name } }").await?;
    assert_eq!(
        error,
        json!({
            "message": "'@inContext' can't be applied to fields (allowed: mutations, queries)",
            "locations": [{"line": 1, "column": 16}],
            "path": ["query Q", "shop"],
            "extensions": {"code": "directiveCannotBeApplied", "targetName": "fields", "name": "inContext"},
        })
    );
    let error = first_error(&shop, "{ shop @defer { name } }").await?;
    assert_eq!(
        error["message"],
        "'@defer' can't be applied to fields (allowed: fragment spreads, inline fragments)"
    );
    let error = first_error(&shop, "query @defer { shop { name } }").await?;
    assert_eq!(
        error["message"],
        "'@defer' can't be applied to queries (allowed: fragment spreads, inline fragments)"
    );
    let error = first_error(&shop, "query @inContext(currency: CAD) { shop { name } }").await?;
    assert_eq!(
        error["message"],
        "Directive 'inContext' doesn't accept argument 'currency'"
    );
    assert_eq!(error["extensions"]["code"], "argumentNotAccepted");
    let error = first_error(&shop, "query @cached(ttl: 60) { shop { name } }").await?;
    assert_eq!(error["message"], "Directive @cached is not defined");
    assert_eq!(
        error["extensions"],
        json!({"code": "undefinedDirective", "directiveName": "cached"})
    );
    // Values that do not fit the directive's argument types are rejected too.
    for query in [
        "query @inContext(country: XX) { shop { name } }",
        "query @inContext(language: \"EN\") { shop { name } }",
        "query @inContext(buyer: {companyLocationId: \"1\"}) { shop { name } }",
        "query @inContext(country: CA) @inContext(country: US) { shop { name } }",
        "query ($c: String) @inContext(country: $c) { shop { name } }",
    ] {
        let error = first_error(&shop, query).await?;
        assert_eq!(
            error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{query}: {error}"
        );
    }
    // A variable of the right type with a value outside the enum.
    let body = post(
        storefront_api_client(&shop),
        json!({"query": "query ($c: CountryCode) @inContext(country: $c) { shop { name } }", "variables": {"c": "XX"}}),
    )
    .await?;
    assert!(body.get("data").is_none(), "{body}");
    assert!(body["errors"][0]["message"].is_string());
    Ok(())
}

// ---------------------------------------------------------- introspection

#[tokio::test]
async fn introspection_of_the_served_schema() -> TestResult {
    let shop = shop().await?;
    let query = "{
        __schema {
          queryType { name }
          mutationType { name }
          subscriptionType { name }
          directives { name locations args { name type { kind name ofType { name } } } }
        }
        customer: __type(name: \"Customer\") { kind fields { name } }
        country: __type(name: \"CountryCode\") { enumValues { name } }
        __typename
      }";
    let body = post(storefront_api_client(&shop), json!({"query": query})).await?;
    no_errors(&body);
    let schema = &body["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "QueryRoot");
    assert_eq!(schema["mutationType"]["name"], "Mutation");
    assert_eq!(schema["subscriptionType"], Value::Null);
    let directives = schema["directives"].as_array().ok_or("no directives")?;
    let in_context = directives
        .iter()
        .find(|d| d["name"] == "inContext")
        .ok_or("no @inContext")?;
    assert_eq!(in_context["locations"], json!(["MUTATION", "QUERY"]));
    let args: Vec<&str> = in_context["args"]
        .as_array()
        .ok_or("no args")?
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        args,
        [
            "buyer",
            "country",
            "language",
            "preferredLocationId",
            "visitorConsent"
        ]
    );
    for name in ["defer", "skip", "include", "deprecated", "oneOf"] {
        assert!(directives.iter().any(|d| d["name"] == name), "{name}");
    }
    let fields: Vec<&str> = body["data"]["customer"]["fields"]
        .as_array()
        .ok_or("no fields")?
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for field in [
        "createdAt",
        "displayName",
        "email",
        "firstName",
        "id",
        "lastName",
        "phone",
        "updatedAt",
    ] {
        assert!(fields.contains(&field), "{field}");
    }
    assert!(body["data"]["country"]["enumValues"]
        .as_array()
        .is_some_and(|v| v.len() > 200));
    assert_eq!(body["data"]["__typename"], "QueryRoot");

    // GraphiQL's and codegen's standard introspection query is answered too.
    let body = post(
        storefront_api_client(&shop),
        json!({"query": INTROSPECTION_QUERY, "operationName": "IntrospectionQuery"}),
    )
    .await?;
    no_errors(&body);
    let types = body["data"]["__schema"]["types"]
        .as_array()
        .ok_or("no types")?;
    assert!(types.iter().any(|t| t["name"] == "CartBuyerIdentityInput"));

    // `__typename` on the mutation root.
    let body = post(
        storefront_api_client(&shop),
        json!({"query": "mutation { __typename }"}),
    )
    .await?;
    assert_eq!(body, json!({"data": {"__typename": "Mutation"}}));
    Ok(())
}

/// The introspection query of graphql-js' `getIntrospectionQuery()` (with
/// descriptions), as GraphiQL and GraphQL Code Generator send it.
const INTROSPECTION_QUERY: &str = "
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      locations
      args { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  fields(includeDeprecated: true) {
    name
    description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
}
fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
              }
            }
          }
        }
      }
    }
  }
}";

// ------------------------------------------------------- customer and shop

#[tokio::test]
async fn customer_profile_comes_from_the_mocks_state() -> TestResult {
    let shop = shop().await?;
    let query = "query ($t: String!) { customer(customerAccessToken: $t) {
        id firstName lastName phone email displayName createdAt updatedAt } }";
    // `add_customer` splits the display name into first and last name.
    let id = shop.add_customer("grace@example.com", "cobol", "Grace Brewster Hopper");
    assert_eq!(id, "gid://shopify/Customer/2");
    let (token, _) = shop.issue_token("grace@example.com").ok_or("no customer")?;
    let body = post(
        storefront_api_client(&shop),
        json!({"query": query, "variables": {"t": token}}),
    )
    .await?;
    assert_eq!(
        body["data"]["customer"],
        json!({
            "id": id, "firstName": "Grace", "lastName": "Brewster Hopper", "phone": null,
            "email": "grace@example.com", "displayName": "Grace Brewster Hopper",
            "createdAt": "2026-01-08T15:50:00Z", "updatedAt": "2026-01-08T15:50:00Z",
        })
    );
    // Replacing the customer later keeps its id and createdAt; updatedAt moves.
    shop.advance(Duration::from_secs(3600));
    let same = shop
        .add_mock_customer(&MockCustomer::new("Grace@Example.com", "cobol").phone("+12025550123"));
    assert_eq!(same, id);
    let body = post(
        storefront_api_client(&shop),
        json!({"query": query, "variables": {"t": token}}),
    )
    .await?;
    assert_eq!(
        body["data"]["customer"],
        json!({
            "id": id, "firstName": null, "lastName": null, "phone": "+12025550123",
            "email": "Grace@Example.com", "displayName": "Grace@Example.com",
            "createdAt": "2026-01-08T15:50:00Z", "updatedAt": "2026-01-08T16:50:00Z",
        })
    );
    Ok(())
}

#[tokio::test]
async fn shop_name_is_a_setting() -> TestResult {
    let default = MockStorefront::start().await?;
    assert_eq!(default.shop_name(), "Mock Storefront");
    let body = post(
        storefront_api_client(&default),
        json!({"query": "{ shop { name id description } }"}),
    )
    .await?;
    assert_eq!(
        body["data"]["shop"],
        json!({"name": "Mock Storefront", "id": "gid://shopify/Shop/1", "description": null})
    );
    default.set_shop_name("Difference Engines");
    let body = post(
        storefront_api_client(&default),
        json!({"query": "{ shop { name } }"}),
    )
    .await?;
    assert_eq!(body["data"]["shop"]["name"], "Difference Engines");
    Ok(())
}
