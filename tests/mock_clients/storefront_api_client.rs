//! `@shopify/storefront-api-client`'s request shapes: `@inContext` as variables
//! and as literals, `@defer` streams, buyer location and consent.

use super::*;

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
