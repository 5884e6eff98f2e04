//! Runs `examples/cart.rs` against the mock: a cart created anonymously is
//! attached to the customer after login, and a revoked token is refused with the
//! mutation's own `userErrors`, through `StorefrontClient::execute`.

#[allow(dead_code)]
#[path = "../examples/cart.rs"]
mod cart;

use storefront_token::mock::MockStorefront;
use storefront_token::{AccessToken, Operation, StorefrontClient};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

async fn shop() -> MockStorefront {
    MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, "Ada Lovelace")
        .build()
        .await
        .expect("mock starts")
}

#[tokio::test]
async fn the_walk_through_attaches_the_customer_to_the_cart() -> TestResult {
    let shop = shop().await;
    let cart_id = cart::walk_through(&shop).await?;
    let customer = shop
        .cart_customer(&cart_id)
        .ok_or("no customer on the cart")?;
    assert!(
        customer.starts_with("gid://shopify/Customer/"),
        "{customer}"
    );
    // The crate's own operations were counted as such; the cart ones went through
    // the same transport to the same mock.
    assert_eq!(shop.requests(Operation::Create), 1);
    assert_eq!(shop.requests(Operation::Delete), 1);
    shop.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn cart_user_errors_are_typed_and_never_echo_the_token() -> TestResult {
    let shop = shop().await;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .build()?;
    let (cart_id, _) = cart::create_cart(&client, "note").await?;
    let dead = AccessToken::new("0123456789abcdef0123456789abcdef");
    let error = match cart::attach_customer(&client, &cart_id, &dead).await {
        Err(error) => error,
        Ok(_) => return Err("an unknown token was attached".into()),
    };
    let rejected = error
        .downcast_ref::<cart::CartRejected>()
        .ok_or("not a CartRejected")?;
    assert_eq!(rejected.mutation, "cartBuyerIdentityUpdate");
    assert!(!rejected.errors.is_empty());
    assert!(!error.to_string().contains(dead.expose_secret()), "{error}");
    assert_eq!(shop.cart_customer(&cart_id), None);
    shop.shutdown().await;
    Ok(())
}
