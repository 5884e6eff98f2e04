//! The tokens gauge, by state: what one engine holds, two engines adding up,
//! a renewal in flight, and a renewal made moot by a new login.

use super::*;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn tokens_are_counted_by_state() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 3, clock.now()).await?;
    // One expired in the store.
    let dead = CustomerAccessToken::new(AccessToken::new("old"), clock.now() - TimeDelta::hours(1));
    let when = clock.now() - TimeDelta::days(2);
    store
        .put(&TokenId::new("expired"), &dead, when, None)
        .await?;
    // Re-logins that never succeed keep dead tokens held, waiting.
    let handle = engine(client, &store, &clock)
        .relogin(|_| async { Err(ReloginError::retry_later("the customer is away")) })
        .build()
        .start()
        .await?;
    // One the shop revoked: renewing it now finds it rejected.
    let revoked = handle.valid(&ids[0].0).await?;
    assert!(shop.revoke_token(revoked.access_token().expose_secret()));
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(handle.renew_now(&ids[0].0).await.is_err());
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(seen.tokens("scheduled"), 2.0);
    assert_eq!(seen.tokens("renewing"), 0.0);
    assert_eq!(seen.tokens("expired"), 1.0);
    assert_eq!(seen.tokens("rejected"), 1.0);
    assert_eq!(seen.renewals("rejected"), 1);
    assert_eq!(seen.renewals("expired"), 1);
    handle.shutdown().await;
    for state in ["scheduled", "renewing", "expired", "rejected"] {
        assert_eq!(seen.tokens(state), 0.0, "{state}");
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn two_engines_add_up_and_each_takes_its_share_away() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let (first_store, second_store) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    stored_tokens(&shop, &*first_store, 2, clock.now()).await?;
    stored_tokens(&shop, &*second_store, 3, clock.now()).await?;
    let start = |store: Arc<MemoryStore<CustomerAccessToken>>| {
        engine(client.clone(), &store, &clock).build().start()
    };
    let first = start(first_store).await?;
    let second = start(second_store).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(seen.tokens("scheduled"), 5.0);
    first.shutdown().await;
    assert_eq!(seen.tokens("scheduled"), 3.0);
    second.shutdown().await;
    assert_eq!(seen.tokens("scheduled"), 0.0);
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_renewal_in_flight_counts_as_renewing() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 1, clock.now()).await?;
    let handle = engine(client, &store, &clock)
        // The driver looks every second; the gauge follows.
        .policy(RenewalPolicy::default().with_heartbeat(Duration::from_secs(1)))
        .build()
        .start()
        .await?;
    // The shop takes 8 s to answer (within the client's timeout): the driver's
    // heartbeats meanwhile count the token as renewing.
    shop.inject(Fault::Delay(Duration::from_secs(8)), 1);
    let renewing = {
        let handle = handle.clone();
        let id = ids[0].0.clone();
        tokio::spawn(async move { handle.renew_now(&id).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(seen.tokens("renewing"), 1.0);
    assert_eq!(seen.tokens("scheduled"), 0.0);
    renewing.await??;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(seen.tokens("renewing"), 0.0);
    assert_eq!(seen.tokens("scheduled"), 1.0);
    assert_eq!(seen.renewals("renewed"), 1);
    assert_eq!(shop.requests(Operation::Renew), 1);
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_renewal_for_a_token_replaced_meanwhile_is_moot() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 1, clock.now()).await?;
    let id = ids[0].0.clone();
    let handle = engine(client, &store, &clock).build().start().await?;
    shop.inject(Fault::Delay(Duration::from_secs(8)), 1);
    let renewing = {
        let (handle, id) = (handle.clone(), id.clone());
        tokio::spawn(async move { handle.renew_now(&id).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A new login under the same id while the renewal is in flight.
    let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
    let login = CustomerAccessToken::new(AccessToken::new(secret), expires_at);
    handle.add(id.clone(), login.clone(), None).await?;
    let _ = renewing.await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(shop.requests(Operation::Renew), 1);
    assert_eq!(seen.renewals("moot"), 1);
    assert_eq!(seen.renewals("renewed"), 0);
    assert!(seen.histogram(names::TIME_LEFT, &[]).is_empty());
    let held = handle.valid(&id).await?;
    assert_eq!(
        held.access_token().expose_secret(),
        login.access_token().expose_secret(),
        "the new login is kept"
    );
    handle.shutdown().await;
    Ok(())
}
