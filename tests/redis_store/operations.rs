//! Round trips, Debug, Redis unreachable or restarted, and loading a million tokens.

use std::sync::Arc;
use std::time::Duration;

use super::*;

#[tokio::test]
async fn a_renewal_is_two_round_trips() -> TestResult {
    let url = redis_or_skip!("a_renewal_is_two_round_trips");
    let prefix = unique_prefix("round-trips");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    let id = TokenId::new("a");
    let me = ReplicaId::new(1);
    let minute = Duration::from_secs(60);
    let v = stored_version(&ts.put(&id, &token("1"), issued(), None).await?);

    let start = store.round_trips();
    assert_eq!(
        ts.try_lease(&id, me, minute, v).await?,
        LeaseOutcome::Acquired
    );
    let renewed = stored_version(&ts.put(&id, &token("2"), issued(), Some(v)).await?);
    assert_eq!(store.round_trips() - start, 2, "try_lease + put");

    let start = store.round_trips();
    ts.get(&id).await?;
    ts.release_lease(&id, me, renewed).await?;
    ts.delete(&id, Some(renewed)).await?;
    assert_eq!(store.round_trips() - start, 3, "one each");

    // Redis lost its script cache (a restart): the first call sends the script
    // again (EVALSHA, then EVAL), and still does its job.
    let mut connection = raw_connection(&url).await?;
    let _: String = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut connection)
        .await?;
    let start = store.round_trips();
    let v = stored_version(&ts.put(&id, &token("3"), issued(), None).await?);
    assert_eq!(store.round_trips() - start, 2);
    let start = store.round_trips();
    ts.put(&id, &token("4"), issued(), Some(v)).await?;
    assert_eq!(store.round_trips() - start, 1, "cached again");
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn debug_shows_neither_password_nor_key() -> TestResult {
    const PASSWORD: &str = "hunter2-redis-password";
    let Some(server) = OwnRedis::start(
        "debug_shows_neither_password_nor_key",
        &["--requirepass", PASSWORD],
    )
    .await
    else {
        return Ok(());
    };
    let keys = Keyring::new(fresh_key("k1"));
    let key_text = keys.to_config_string();
    let secret = key_text
        .as_str()
        .split_once(':')
        .expect("id:base64")
        .1
        .to_owned();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}/0", server.port());
    let builder = RedisStore::builder(url.as_str(), Sealer::new(keys));
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains(&secret),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("127.0.0.1:{}", server.port())),
        "{shown}"
    );
    let store = builder.prefix("p").build().await?;
    tokens(&store)
        .put(&TokenId::new("a"), &token("tok-SECRET"), issued(), None)
        .await?;
    let shown = format!("{store:?}");
    for secret in [PASSWORD, secret.as_str(), "tok-SECRET"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        shown.contains("RedisStore") && shown.contains("\"p\""),
        "{shown}"
    );

    // A wrong password: a typed error that does not print the password either.
    let wrong = format!("redis://:wrong-{PASSWORD}@127.0.0.1:{}", server.port());
    let error = RedisStore::builder(wrong.as_str(), fresh_sealer())
        .build()
        .await
        .expect_err("refused");
    let shown = format!("{error:?} {}", storefront_token::ErrorReport::new(&error));
    assert!(!shown.contains(PASSWORD), "{shown}");
    Ok(())
}

#[tokio::test]
async fn unreachable_redis_fails_fast() -> TestResult {
    let port = redis_support::free_port(); // nothing listens there
    let started = std::time::Instant::now();
    let built = tokio::time::timeout(
        Duration::from_secs(10),
        RedisStore::builder(format!("redis://127.0.0.1:{port}"), fresh_sealer())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500))
            .build(),
    )
    .await
    .expect("build does not hang");
    let error = built.expect_err("nobody listens");
    assert!(error.to_string().contains("redis"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A black hole (a listener that never answers): the response timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let started = std::time::Instant::now();
    let built = tokio::time::timeout(
        Duration::from_secs(10),
        RedisStore::builder(format!("redis://127.0.0.1:{port}"), fresh_sealer())
            .connection_timeout(Duration::from_millis(300))
            .response_timeout(Duration::from_millis(300))
            .build(),
    )
    .await
    .expect("build does not hang");
    assert!(built.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
    Ok(())
}

#[tokio::test]
async fn a_redis_restart_fails_calls_then_they_succeed_again() -> TestResult {
    let Some(mut server) =
        OwnRedis::start("a_redis_restart_fails_calls_then_they_succeed_again", &[]).await
    else {
        return Ok(());
    };
    let store = RedisStore::builder(server.url(), fresh_sealer())
        .connection_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_millis(500))
        .build()
        .await?;
    let ts = tokens(&store);
    let id = TokenId::new("a");
    let v1 = stored_version(&ts.put(&id, &token("1"), issued(), None).await?);

    server.stop();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let call = tokio::time::timeout(Duration::from_secs(5), ts.get(&id))
            .await
            .expect("fails fast, does not hang");
        let error = call.expect_err("Redis is down");
        assert!(
            error.to_string().contains("get of token a"),
            "names the call: {error}"
        );
        assert!(error.source().is_some(), "the Redis error as its source");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    let call = tokio::time::timeout(
        Duration::from_secs(5),
        ts.put(&id, &token("x"), issued(), Some(v1)),
    )
    .await
    .expect("fails fast");
    assert!(call.is_err());

    server.restart().await;
    // The connection comes back by itself: a call that still finds the broken
    // connection fails and sets off a reconnect, which the next call waits for.
    let mut failed_calls = 0;
    let answered = loop {
        match tokio::time::timeout(Duration::from_secs(5), ts.get(&id)).await {
            Ok(Ok(found)) => break Some(found),
            Ok(Err(_)) if failed_calls < 2 => failed_calls += 1,
            Ok(Err(error)) => panic!("still failing after the restart: {error:?}"),
            Err(_) => panic!("a call hung after the restart"),
        }
    };
    eprintln!("calls failed after the restart: {failed_calls}");
    assert_eq!(
        answered,
        Some(None),
        "back, and the data is gone (--save '')"
    );
    // Sane on an empty Redis: Missing, a new write, and versions that do not
    // repeat the ones given out before the data was lost.
    assert_eq!(
        ts.put(&id, &token("2"), issued(), Some(v1)).await?,
        PutOutcome::Missing
    );
    assert_eq!(
        ts.try_lease(&id, ReplicaId::new(1), Duration::from_secs(60), v1)
            .await?,
        LeaseOutcome::Missing
    );
    let v2 = stored_version(&ts.put(&id, &token("3"), issued(), None).await?);
    assert!(v2 > v1, "{v2} after {v1}");
    assert_eq!(ts.get(&id).await?.map(|t| t.credential), Some(token("3")));
    Ok(())
}

/// 1M tokens load in a few seconds. Run on its own (it writes a million keys,
/// then deletes them):
/// `STOREFRONT_REDIS_URL=… cargo test --release --test redis_store -- --ignored --nocapture load_all_a_million`
#[tokio::test]
#[ignore = "writes a million keys; run by hand"]
async fn load_all_a_million_tokens() -> TestResult {
    let url = redis_or_skip!("load_all_a_million_tokens");
    let prefix = unique_prefix("million");
    let sealer = fresh_sealer();
    let count: usize = std::env::var("STOREFRONT_LOAD_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut connection = raw_connection(&url).await?;
    let written = std::time::Instant::now();
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let mut pipeline = redis::pipe();
        for n in chunk {
            let id = format!("customer-{n}");
            let sealed = sealer.seal_token(&id, &token(&format!("tok-{n}")), issued())?;
            pipeline
                .cmd("HSET")
                .arg(format!("{prefix}:t:{id}"))
                .arg("v")
                .arg(n + 1)
                .arg("d")
                .arg(sealed)
                .ignore();
        }
        pipeline.query_async::<()>(&mut connection).await?;
    }
    eprintln!("wrote {count} sealed tokens in {:?}", written.elapsed());

    let store = store_with(&url, &prefix, sealer).await?;
    let started = std::time::Instant::now();
    let loaded = tokens(&store).load_all().await?;
    let load = started.elapsed();
    let started = std::time::Instant::now();
    let versions = tokens(&store).versions().await?;
    let versions_took = started.elapsed();
    eprintln!(
        "load_all: {} tokens in {load:?} ({} round trips); versions: {} in {versions_took:?}",
        loaded.len(),
        store.round_trips(),
        versions.len()
    );
    assert_eq!(loaded.len(), count);
    assert_eq!(versions.len(), count);
    assert_eq!(store.skipped_on_load(), 0);
    delete_prefix(&url, &prefix).await;
    assert!(load < Duration::from_secs(10), "{load:?}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn on_paused_time_calls_hold_the_clock_still() -> TestResult {
    let url = redis_or_skip!("on_paused_time_calls_hold_the_clock_still");
    let prefix = unique_prefix("paused");
    let clock = storefront_token::mock::SimulatedClock::new(issued());
    let store = RedisStore::builder(url.as_str(), fresh_sealer())
        .prefix(&prefix)
        .lease_clock(Arc::new(clock))
        .hold_paused_time()
        .build()
        .await?;
    let ts = tokens(&store);
    let id = TokenId::new("a");
    let started = tokio::time::Instant::now();
    // Without the hold, most of these fail: the idle runtime jumps to the
    // call's deadline while Redis answers.
    let mut version = stored_version(&ts.put(&id, &token("0"), issued(), None).await?);
    for n in 1..200 {
        let next = ts
            .put(&id, &token(&n.to_string()), issued(), Some(version))
            .await?;
        version = stored_version(&next);
    }
    assert_eq!(ts.get(&id).await?.map(|t| t.version), Some(version));
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "tokio's clock stood still"
    );

    // Leases lapse on the simulated clock, which moves with tokio's.
    let minute = Duration::from_secs(60);
    let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
    assert_eq!(
        ts.try_lease(&id, a, minute, version).await?,
        LeaseOutcome::Acquired
    );
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        ts.try_lease(&id, b, minute, version).await?,
        LeaseOutcome::Held {
            remaining: Duration::from_secs(1)
        }
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        ts.try_lease(&id, b, minute, version).await?,
        LeaseOutcome::Acquired
    );
    ts.delete(&id, None).await?;
    Ok(())
}

/// What a renewal's two round trips cost: sequential latency and throughput
/// with 64 renewals in flight. Run by hand:
/// `STOREFRONT_REDIS_URL=… cargo test --release --test redis_store -- --ignored --nocapture renewal_cost`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand"]
async fn renewal_cost() -> TestResult {
    let url = redis_or_skip!("renewal_cost");
    let prefix = unique_prefix("renewal-cost");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    const TOKENS: usize = 10_000;
    let mut versions = Vec::with_capacity(TOKENS);
    for n in 0..TOKENS {
        let id = TokenId::new(format!("c{n}"));
        versions.push(stored_version(
            &tokens(&store).put(&id, &token("t"), issued(), None).await?,
        ));
    }
    let minute = Duration::from_secs(60);
    let me = ReplicaId::new(1);
    let started = std::time::Instant::now();
    for (n, version) in versions.iter_mut().enumerate().take(2_000) {
        let id = TokenId::new(format!("c{n}"));
        let ts = tokens(&store);
        assert_eq!(
            ts.try_lease(&id, me, minute, *version).await?,
            LeaseOutcome::Acquired
        );
        *version = stored_version(&ts.put(&id, &token("u"), issued(), Some(*version)).await?);
    }
    let sequential = started.elapsed() / 2_000;
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..64 {
        let store = store.clone();
        let versions: Vec<(usize, u64)> = versions
            .iter()
            .copied()
            .enumerate()
            .skip(chunk)
            .step_by(64)
            .collect();
        tasks.spawn(async move {
            for (n, version) in versions {
                let id = TokenId::new(format!("c{n}"));
                let ts = tokens(&store);
                let lease = ts.try_lease(&id, me, minute, version).await?;
                assert_eq!(lease, LeaseOutcome::Acquired);
                stored_version(&ts.put(&id, &token("v"), issued(), Some(version)).await?);
            }
            Ok::<_, StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let rate = TOKENS as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "a renewal (try_lease + put): {sequential:?} one at a time; {rate:.0}/s with 64 in flight"
    );
    delete_prefix(&url, &prefix).await;
    Ok(())
}
