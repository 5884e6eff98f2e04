//! What a new app asks first: introspection of the served schema, the customer's
//! profile from the mock's state, and `shop { name }`.

use super::*;

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
