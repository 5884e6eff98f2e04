//! The token lifecycle over HTTP: create, renew, customer and delete, wrong
//! credentials, expiry, rotation, and the lifetime and clock settings.

use super::*;

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
