//! Replicas sharing one store: adopting each other's renewals, and a token
//! another replica removed.

use super::*;

/// One replica of a storefront backend: an engine on the shared `store`.
async fn replica(
    client: storefront_token::StorefrontClient,
    store: &Arc<MemoryStore<CustomerAccessToken>>,
    clock: &storefront_token::mock::SimulatedClock,
) -> Result<storefront_token::renewal::RenewalHandle<CustomerAccessToken>, Box<dyn std::error::Error>>
{
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(store))
        .clock(clock.clone())
        .build();
    Ok(engine.start().await?)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn replicas_sharing_a_store_adopt_each_others_renewals() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = replica(client.clone(), &store, &clock).await?;
    let id = TokenId::new("ada");
    first.add(id.clone(), token, None).await?;
    let second = replica(client, &store, &clock).await?;
    let mut second_events = second.events();
    tokio::time::sleep(DAY).await;
    // The first replica renews; the second, holding the old version, sees the
    // store move on within its reconcile interval and adopts the renewal,
    // sending nothing itself.
    let renewed = first.renew_now(&id).await?;
    tokio::time::sleep(Duration::from_secs(5 * 60 + 1)).await; // the reconcile interval
    let adopted = second.status(&id).await.ok_or("held")?;
    assert_eq!(
        adopted.expires_at(),
        renewed.expires_at(),
        "the stored token wins"
    );
    assert!(matches!(
        second_events.recv().await?,
        RenewalEvent::AdoptedFromStore { .. }
    ));
    assert_eq!(shop.requests(Operation::Renew), 1);
    first.shutdown().await;
    second.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_token_another_replica_removed_is_dropped_not_written_back() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = replica(client.clone(), &store, &clock).await?;
    let id = TokenId::new("ada");
    first.add(id.clone(), token, None).await?;
    let second = replica(client, &store, &clock).await?;
    let mut first_events = first.events();
    // The customer logs out through the second replica.
    second.remove(&id).await?;
    assert!(store.is_empty());
    tokio::time::sleep(DAY).await;
    // The first replica's renewal asks the store for the lease, finds the token
    // gone, sends nothing and lets it go.
    let renewal = first.renew_now(&id).await;
    assert!(
        matches!(&renewal, Err(e) if e.kind() == RenewalErrorKind::NotFound),
        "{renewal:?}"
    );
    assert_eq!(
        shop.requests(Operation::Renew),
        0,
        "nothing sent for a logout"
    );
    assert!(store.is_empty(), "not written back");
    let event = first_events.recv().await?;
    assert!(
        matches!(&event, RenewalEvent::Removed { id: gone } if *gone == id),
        "{event:?}"
    );
    assert!(first.status(&id).await.is_none());
    first.shutdown().await;
    second.shutdown().await;
    Ok(())
}
