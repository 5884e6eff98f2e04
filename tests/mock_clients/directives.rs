//! Misused directives get Shopify's validation errors.

use super::*;

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
