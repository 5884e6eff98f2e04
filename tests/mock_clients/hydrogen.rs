//! Hydrogen's request shapes: a minified query with i18n variables, and the cart
//! mutations (create, buyer identity update, their validation).

use super::*;

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
