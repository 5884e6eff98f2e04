//! Panics in caller code: a renewal, a re-login hook, and a clock panicking
//! under the engine's lock.

use super::*;

/// Panics on its first renewal, then renews through the wrapped renewer.
struct PanicsOnce {
    inner: StorefrontRenewer,
    panicked: std::sync::atomic::AtomicBool,
}

impl storefront_token::renewal::Renewable for PanicsOnce {
    type Credential = CustomerAccessToken;
    type Error = storefront_token::Error;

    fn expires_at(&self, token: &CustomerAccessToken) -> chrono::DateTime<chrono::Utc> {
        self.inner.expires_at(token)
    }

    async fn renew(&self, token: &CustomerAccessToken) -> Result<CustomerAccessToken, Self::Error> {
        if !self
            .panicked
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            panic!("a bug in the renewer");
        }
        self.inner.renew(token).await
    }

    fn classify(&self, error: &Self::Error) -> storefront_token::renewal::FailureClass {
        self.inner.classify(error)
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_renewal_is_a_transient_failure_and_is_retried() -> TestResult {
    let (clock, shop, client) = simulated_shop(Duration::from_secs(600)).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let renewer = PanicsOnce {
        inner: StorefrontRenewer::new(client),
        panicked: std::sync::atomic::AtomicBool::new(false),
    };
    let engine = RenewalEngine::builder(renewer).clock(clock.clone()).build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    let id = TokenId::new("customer-1");
    handle
        .add(id.clone(), token.clone(), Some(clock.now()))
        .await?;
    let failed = events.recv().await?;
    assert!(
        matches!(
            &failed,
            RenewalEvent::RenewalFailed { transient: true, next_attempt_at: Some(_), error, .. }
                if storefront_token::ErrorReport::new(error).to_string().contains("panicked")
        ),
        "{failed:?}"
    );
    assert_eq!(shop.requests(Operation::Renew), 0, "the panic came first");
    let renewed = events.recv().await?;
    assert!(
        matches!(&renewed, RenewalEvent::Renewed { expires_at, .. } if *expires_at > token.expires_at()),
        "{renewed:?}"
    );
    assert_eq!(shop.requests(Operation::Renew), 1);
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_relogin_hook_is_called_once_and_the_token_stays_expired() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let now = clock.now();
    let store = one_expired_token(now).await?;
    let engine = RenewalEngine::builder(CountingRenewer::default())
        .clock(clock.clone())
        .store(Arc::clone(&store))
        .relogin(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                panic!("a bug in the re-login hook")
            }
        })
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let id = TokenId::new("gone0");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(matches!(events.recv().await?, RenewalEvent::Expired { .. }));
    assert!(matches!(
        events.recv().await?,
        RenewalEvent::NotLoggedInAgain { .. }
    ));
    assert!(
        handle.status(&id).await.is_none(),
        "dropped after its event"
    );
    assert!(store.is_empty(), "and deleted from the store");
    handle.shutdown().await;
    Ok(())
}

/// A clock that panics once told to: caller code breaking its contract under
/// the engine's lock.
#[derive(Debug, Clone)]
struct BreakableClock {
    inner: storefront_token::mock::SimulatedClock,
    broken: Arc<std::sync::atomic::AtomicBool>,
}

impl Clock for BreakableClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        assert!(
            !self.broken.load(std::sync::atomic::Ordering::SeqCst),
            "a broken clock"
        );
        self.inner.now()
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panic_under_the_engines_lock_stops_it_and_every_caller_hears() -> TestResult {
    let inner = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let clock = BreakableClock {
        inner: inner.clone(),
        broken: Arc::default(),
    };
    let renewer = SlowRenewer {
        clock: inner.clone(),
        delay: Duration::from_secs(1),
        running: Arc::default(),
        most: Arc::default(),
    };
    let engine = RenewalEngine::builder(renewer)
        .clock(clock.clone())
        .policy(RenewalPolicy::default().with_max_in_flight(1))
        .build();
    let handle = engine.start().await?;
    let now = inner.now();
    let token = |name: &str, hours| {
        CustomerAccessToken::new(AccessToken::new(name), now + TimeDelta::hours(hours))
    };
    handle
        .add(
            TokenId::new("due"),
            token("due", 4),
            Some(now - TimeDelta::hours(20)),
        )
        .await?;
    handle
        .add(TokenId::new("later"), token("later", 24), Some(now))
        .await?;
    tokio::time::sleep(Duration::from_millis(100)).await; // "due" is being renewed
    clock
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let answer = tokio::time::timeout(
        Duration::from_secs(600),
        handle.renew_now(&TokenId::new("later")),
    )
    .await?;
    assert!(
        matches!(&answer, Err(e) if e.kind() == RenewalErrorKind::Stopped),
        "{answer:?}"
    );
    tokio::time::timeout(Duration::from_secs(600), handle.shutdown()).await?;
    let late = handle.renew_now(&TokenId::new("due")).await;
    assert!(
        matches!(&late, Err(e) if e.kind() == RenewalErrorKind::Stopped),
        "{late:?}"
    );
    Ok(())
}
