//! Re-login: a rejected token replaced by the hook, a caller waiting on a
//! re-login that finds nothing, and re-logins under the rate limit.

use super::*;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_rejected_token_is_replaced_by_the_relogin_hook() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    shop.revoke_token(token.access_token().expose_secret());
    let login = client.clone();
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .relogin(move |_id| {
            let login = login.clone();
            async move { Ok(login.create_token(EMAIL, &Password::new(PASSWORD)).await?) }
        })
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    let id = TokenId::new("ada");
    handle.add(id.clone(), token, None).await?;
    let error = handle
        .renew_now(&id)
        .await
        .err()
        .ok_or("a revoked token renewed")?;
    assert_eq!(error.kind(), RenewalErrorKind::Rejected);
    assert!(error.must_log_in_again());
    let mut names = Vec::new();
    while names.last() != Some(&"LoggedInAgain") {
        names.push(match events.recv().await? {
            RenewalEvent::RenewalFailed {
                transient: false, ..
            } => "RenewalFailed",
            RenewalEvent::Rejected { .. } => "Rejected",
            RenewalEvent::LoggedInAgain { .. } => "LoggedInAgain",
            other => return Err(format!("unexpected {other:?}").into()),
        });
    }
    assert_eq!(names, ["RenewalFailed", "Rejected", "LoggedInAgain"]);
    let status = handle.status(&id).await.ok_or("token gone")?;
    assert_eq!(status.state(), TokenState::Scheduled);
    assert_eq!(shop.requests(Operation::Create), 2);
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_caller_waiting_on_a_relogin_that_finds_nothing_is_answered() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let now = clock.now();
    let store = one_expired_token(now).await?;
    let engine = RenewalEngine::builder(CountingRenewer::default())
        .clock(clock.clone())
        .store(store)
        .relogin(|_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err(storefront_token::renewal::ReloginError::give_up())
        })
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let id = TokenId::new("gone0");
    // The re-login is under way (it takes 5 s); a caller asks meanwhile and is
    // told at once: an expired token is never handed out, nor renewed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = handle.status(&id).await.ok_or("held")?;
    assert_eq!(status.state(), TokenState::Expired);
    let answer = tokio::time::timeout(Duration::from_secs(60), handle.renew_now(&id)).await?;
    assert!(
        matches!(&answer, Err(e) if e.kind() == RenewalErrorKind::Expired),
        "{answer:?}"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mut seen = Vec::new();
    while let Some(event) = events.try_recv()? {
        seen.push(event);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, RenewalEvent::NotLoggedInAgain { id: gone, .. } if *gone == id)),
        "{seen:?}"
    );
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn relogins_start_under_the_rate_limit_after_due_renewals() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let logins = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&logins);
    let login_clock = clock.clone();
    let renewer = CountingRenewer::default();
    let now = clock.now();
    let store = Arc::new(MemoryStore::new());
    store_tokens(
        &store,
        "x",
        200,
        now - TimeDelta::seconds(1),
        now - TimeDelta::hours(1),
    )
    .await?;
    store_tokens(
        &store,
        "v",
        5,
        now + TimeDelta::days(1),
        now - TimeDelta::days(41),
    )
    .await?;
    let engine = RenewalEngine::builder(renewer.clone())
        .clock(clock.clone())
        .policy(
            RenewalPolicy::default()
                .with_starts_per_second(2.0)
                .with_max_in_flight(8),
        )
        .relogin(move |_| {
            let at = tokio::time::Instant::now();
            if let Ok(mut logins) = recorded.lock() {
                logins.push(at);
            }
            let expires = login_clock.now() + TimeDelta::days(42);
            async move { Ok(CustomerAccessToken::new(AccessToken::new("fresh"), expires)) }
        })
        .store(Arc::clone(&store))
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let started = tokio::time::Instant::now();
    // The five valid tokens are renewed first, at the rate.
    let mut renewed = 0;
    while renewed < 5 {
        if let RenewalEvent::Renewed { .. } = events.recv().await? {
            renewed += 1;
        }
    }
    assert!(
        started.elapsed() <= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let logins = logins.lock().map_err(|_| "poisoned")?.clone();
    let early = logins
        .iter()
        .filter(|&&at| at - started <= Duration::from_secs(10))
        .count();
    // 2 starts a second: about 20 starts in 10 s, shared with the 5 renewals.
    assert!(
        (10..=17).contains(&early),
        "{early} re-logins in the first 10 s"
    );
    handle.shutdown().await;
    Ok(())
}
