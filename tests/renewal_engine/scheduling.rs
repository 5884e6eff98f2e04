//! Scheduling: a suspend noticed within a heartbeat, workers on two threads,
//! renewals made due by a clock jump running side by side, and a renewer that
//! never waits.

use super::*;

/// Holds `count` tokens `{prefix}0`, `{prefix}1`, … (each with its own secret),
/// all issued at `issued_at` and expiring at `expires_at`.
async fn add_tokens(
    handle: &storefront_token::renewal::RenewalHandle<CustomerAccessToken>,
    prefix: &str,
    count: usize,
    expires_at: chrono::DateTime<chrono::Utc>,
    issued_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), storefront_token::renewal::RenewalError> {
    for n in 0..count {
        let id = format!("{prefix}{n}");
        let token = CustomerAccessToken::new(AccessToken::new(format!("{id}-secret")), expires_at);
        handle.add(TokenId::new(id), token, Some(issued_at)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_suspend_is_noticed_within_a_heartbeat_and_due_renewals_run() -> TestResult {
    let (clock, shop, client) = simulated_shop(Duration::from_secs(3_600)).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    handle.add(TokenId::new("ada"), token, None).await?;
    // Sleep through most of the lifetime while "suspended": wall time jumps, the
    // timers do not move.
    clock.jump(TimeDelta::minutes(50));
    tokio::time::sleep(Duration::from_secs(31)).await;
    let jump = events.recv().await?;
    assert!(
        matches!(jump, RenewalEvent::ClockJump { jump } if jump >= TimeDelta::minutes(49)),
        "{jump:?}"
    );
    assert!(matches!(events.recv().await?, RenewalEvent::Renewed { .. }));
    assert_eq!(shop.requests(Operation::Renew), 1);
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_on_two_threads_renew_every_overdue_token_exactly_once() -> TestResult {
    const TOKENS: usize = 5_000;
    let store = Arc::new(MemoryStore::new());
    let renewer = CountingRenewer::default();
    let engine = RenewalEngine::builder(renewer.clone())
        .store(Arc::clone(&store))
        .policy(
            RenewalPolicy::default()
                .with_starts_per_second(1e9)
                .with_max_in_flight(8),
        )
        .event_capacity(TOKENS * 2)
        .build();
    let handle = engine.start().await?;
    // Subscribed before any token is held, so no event is missed.
    let mut events = handle.events();
    let now = chrono::Utc::now();
    // Issued 30 days ago with 12 left: overdue at once.
    add_tokens(
        &handle,
        "c",
        TOKENS,
        now + TimeDelta::days(12),
        now - TimeDelta::days(30),
    )
    .await?;
    let mut renewed = std::collections::HashSet::new();
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while renewed.len() < TOKENS {
            match events.recv().await {
                Ok(RenewalEvent::Renewed { id, .. }) => {
                    renewed.insert(id);
                }
                Ok(other) => return Err(format!("unexpected event {other:?}")),
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(())
    })
    .await;
    handle.shutdown().await;
    waited.map_err(|_| "the drain did not finish")??;
    let calls = renewer.calls.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(calls.len(), TOKENS, "every token renewed");
    assert!(calls.values().all(|&n| n == 1), "none renewed twice");
    let stored = store.load_all().await?;
    assert!(stored
        .iter()
        .all(|(_, token)| token.credential.expires_at() > now + TimeDelta::days(40)));
    // Versions are store-wide: one write per login and one per renewal.
    let last = stored.iter().map(|(_, token)| token.version).max();
    assert_eq!(last, Some(2 * TOKENS as u64), "one write per renewal");
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn renewals_made_due_by_a_jump_run_side_by_side() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let renewer = SlowRenewer {
        clock: clock.clone(),
        delay: Duration::from_secs(1),
        running: Arc::default(),
        most: Arc::default(),
    };
    let engine = RenewalEngine::builder(renewer.clone())
        .clock(clock.clone())
        .policy(
            RenewalPolicy::default()
                .with_max_in_flight(8)
                .with_starts_per_second(1_000.0),
        )
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    let now = clock.now();
    let token = |n: usize, hours| {
        CustomerAccessToken::new(
            AccessToken::new(format!("token-{n}")),
            now + TimeDelta::hours(hours),
        )
    };
    // One renewal runs at once; eight more fall due 20 hours from now.
    handle
        .add(
            TokenId::new("now"),
            token(99, 4),
            Some(now - TimeDelta::hours(20)),
        )
        .await?;
    for n in 0..8 {
        handle
            .add(TokenId::new(format!("t{n}")), token(n, 24), Some(now))
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The wall clock jumps while that renewal runs: when it finishes, its worker
    // finds all eight due, and the idle workers must take their share.
    clock.jump(TimeDelta::hours(20));
    let jumped = tokio::time::Instant::now();
    let mut renewed = 0;
    while renewed < 9 {
        if let RenewalEvent::Renewed { .. } = events.recv().await? {
            renewed += 1;
        }
    }
    assert_eq!(
        renewer.most.load(std::sync::atomic::Ordering::SeqCst),
        8,
        "the eight ran side by side"
    );
    assert!(
        jumped.elapsed() < Duration::from_secs(3),
        "{:?}",
        jumped.elapsed()
    );
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_renewer_that_never_waits_still_lets_other_tasks_run() -> TestResult {
    const TOKENS: usize = 2_000;
    let store = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for n in 0..TOKENS {
        let token = CustomerAccessToken::new(
            AccessToken::new(format!("token-{n}")),
            now + TimeDelta::days(12),
        );
        store
            .put(
                &TokenId::new(format!("c{n}")),
                &token,
                now - TimeDelta::days(30),
                None,
            )
            .await?;
    }
    #[derive(Clone, Default)]
    struct Immediate(Arc<std::sync::atomic::AtomicUsize>);
    impl storefront_token::renewal::Renewable for Immediate {
        type Credential = CustomerAccessToken;
        type Error = std::io::Error;
        fn expires_at(&self, token: &CustomerAccessToken) -> chrono::DateTime<chrono::Utc> {
            token.expires_at()
        }
        async fn renew(
            &self,
            token: &CustomerAccessToken,
        ) -> Result<CustomerAccessToken, Self::Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(CustomerAccessToken::new(
                token.access_token().clone(),
                token.expires_at() + TimeDelta::days(30),
            ))
        }
    }
    let renewer = Immediate::default();
    let engine = RenewalEngine::builder(renewer.clone())
        .store(store)
        .policy(
            RenewalPolicy::default()
                .with_starts_per_second(1e9)
                .with_max_in_flight(1),
        )
        .build();
    let handle = engine.start().await?;
    // The worker runs first; when this task next gets a turn, the drain must not
    // be over: the worker gave way on the way.
    tokio::task::yield_now().await;
    let done = renewer.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(done > 0 && done < TOKENS, "{done} renewed before yielding");
    handle.shutdown().await;
    Ok(())
}
