//! One renewal in flight for a thousand callers, the keeper's watch channel, and
//! a restart draining overdue tokens from a store.

use super::*;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_thousand_concurrent_renewals_share_one_request() -> TestResult {
    let (_clock, shop, client) = simulated_shop(42 * DAY).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let keeper = TokenKeeper::start(StorefrontRenewer::new(client), token).await?;
    tokio::time::sleep(DAY).await; // so the renewal moves the expiry
                                   // The renewal stays in flight (on the paused timer) until every caller has asked.
    shop.inject(Fault::Delay(Duration::from_millis(500)), 1);
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let keeper = keeper.clone();
        callers.spawn(async move { keeper.renew_now().await });
    }
    let mut renewed = Vec::new();
    while let Some(result) = callers.join_next().await {
        renewed.push(result??);
    }
    assert_eq!(
        shop.requests(Operation::Renew),
        1,
        "one mutation for 1,000 callers"
    );
    assert_eq!(renewed.len(), 1_000);
    assert!(renewed
        .iter()
        .all(|t| t.expires_at() == renewed[0].expires_at()));
    keeper.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_keeper_publishes_each_renewal_and_stops_when_dropped() -> TestResult {
    let (clock, shop, client) = simulated_shop(Duration::from_secs(60)).await;
    shop.set_renew_rotates_token(true);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = token.access_token().clone();
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .build();
    let keeper = TokenKeeper::start_with(engine, token).await?;
    let mut current = keeper.subscribe();
    let started = clock.now();
    let mut seen = Vec::new();
    for _ in 0..3 {
        current.changed().await?;
        let token: Option<CustomerAccessToken> = current.borrow_and_update().clone();
        let token = token.ok_or("the keeper lost the token")?;
        seen.push(((clock.now() - started).num_milliseconds(), token));
    }
    // A 60 s lifetime is renewed 20 s before expiry: at 40 s, 80 s, 120 s (give or
    // take the mock's whole-second expiries and the Date header's rounding).
    let times: Vec<i64> = seen.iter().map(|(at, _)| *at).collect();
    for (at, want) in times.iter().zip([40_000, 80_000, 120_000]) {
        assert!((at - want).abs() <= 2_500, "{times:?}");
    }
    assert!(
        seen.iter().all(|(_, t)| t.access_token() != &first),
        "rotated tokens are published"
    );
    assert_eq!(
        keeper.token().await?.access_token(),
        seen[2].1.access_token()
    );
    assert_eq!(shop.requests(Operation::Renew), 3);
    drop(keeper);
    drop(current);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        shop.requests(Operation::Renew),
        3,
        "no renewals after the keeper is dropped"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_restart_drains_overdue_tokens_at_the_rate_and_expires_dead_ones_for_free() -> TestResult
{
    const TOKENS: usize = 10_000;
    const RATE: f64 = 500.0;
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let now = clock.now();
    let (mut overdue, mut expired) = (0, 0);
    for n in 0..TOKENS {
        let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
        let (issued_at, expires_at) = if n % 100 == 0 {
            expired += 1;
            (now - TimeDelta::days(43), now - TimeDelta::days(1))
        } else if n % 5 == 1 {
            overdue += 1;
            (now - TimeDelta::days(30), now + TimeDelta::days(12))
        } else {
            (now, expires_at)
        };
        let token = CustomerAccessToken::new(AccessToken::new(secret), expires_at);
        store
            .put(&TokenId::new(format!("c{n}")), &token, issued_at, None)
            .await?;
    }
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let renewer = RecordingRenewer {
        inner: StorefrontRenewer::new(client),
        clock: clock.clone(),
        calls: Arc::clone(&calls),
    };
    let engine = RenewalEngine::builder(renewer)
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .policy(RenewalPolicy::default().with_starts_per_second(RATE))
        .event_capacity(1 << 16)
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    tokio::time::sleep(Duration::from_secs(60)).await;
    handle.shutdown().await;

    let (mut renewed, mut expired_events) = (0, 0);
    while let Ok(Some(event)) = events.try_recv() {
        match event {
            RenewalEvent::Renewed { .. } => renewed += 1,
            RenewalEvent::Expired { .. } => expired_events += 1,
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    assert_eq!((overdue, expired), (2_000, 100));
    assert_eq!(expired_events, expired, "every expired token is announced");
    assert_eq!(renewed, overdue, "every overdue token is renewed");
    assert_eq!(
        shop.requests(Operation::Renew),
        overdue as u64,
        "expired tokens cost no request"
    );

    let mut starts: Vec<f64> = calls
        .lock()
        .map_err(|e| e.to_string())?
        .values()
        .flatten()
        .map(|at| (*at - now).num_milliseconds() as f64 / 1000.0)
        .collect();
    starts.sort_by(f64::total_cmp);
    let drain = starts.last().copied().unwrap_or_default();
    let expected = overdue as f64 / RATE;
    assert!(
        (drain - expected).abs() <= 0.1,
        "drained in {drain} s, expected {expected} s"
    );
    for window in starts.windows(2) {
        assert!(
            window[1] - window[0] >= 1.0 / RATE - 1e-3,
            "two starts closer than the rate allows"
        );
    }
    Ok(())
}
