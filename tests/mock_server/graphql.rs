//! GraphQL documents: validation errors (wrong fields, syntax, variables,
//! operation names), hostile documents that must not panic, and projection
//! (aliases, `__typename`, fragments).

use super::*;

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
