//! Keys and corruption in a fleet on Redis: a replica configured with the wrong
//! encryption key, and values tampered with or written raw into Redis. Each
//! gives typed errors and events, never a panic, and the other tokens and
//! replicas carry on. Needs `STOREFRONT_REDIS_URL` (see `tests/redis_support`).

mod redis_fleet_support;
mod redis_support;

use std::time::Duration;

use redis_fleet_support::{
    issue, raw, raw_connection, real_io, seal_error, secret, tally, Fleet, TestResult,
};
use storefront_token::at_rest::SealError;
use storefront_token::renewal::{
    RedisStore, RenewalErrorKind, RenewalEvent, RenewalPolicy, TokenId,
};
use storefront_token::{Clock, Operation};

const HOUR: Duration = Duration::from_secs(3_600);
/// Two-hour tokens: each is renewed twice or so in the three hours simulated.
const LIFETIME: Duration = Duration::from_secs(2 * 3_600);

fn policy() -> RenewalPolicy {
    RenewalPolicy::default().with_reconcile_interval(Duration::from_secs(600))
}

fn ids(n: usize) -> Vec<TokenId> {
    (0..n)
        .map(|n| TokenId::new(format!("customer-{n}")))
        .collect()
}

/// Replica W's keyring has a key with the right id and the wrong bytes. W
/// loads none of the tokens the others sealed (each skipped, counted, logged);
/// reading one through W answers a `Store` error whose source is
/// `SealError::DoesNotOpen`; W's reconciling reads report `StoreFailed` for
/// them. The token W logs in, the others cannot open: the same, the other way
/// round. Nobody panics; the good replica renews its tokens throughout, and
/// W its own.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_replica_with_the_wrong_key_gets_typed_errors_and_harms_nobody() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_keys::wrong_key",
    ))
    .await
    else {
        return Ok(());
    };
    let fleet = Fleet::new(url, LIFETIME).await?;
    let mut good = fleet.replica(1, 0, policy(), false).await?;
    let ids = ids(10);
    for id in &ids {
        good.handle
            .add(id.clone(), issue(&fleet.shop)?, None)
            .await?;
    }
    let wrong_sealer = redis_support::fresh_sealer(); // same key id, other bytes
    let mut wrong = fleet
        .replica_sealing_with(2, 0, policy(), false, wrong_sealer.clone())
        .await?;
    assert_eq!(
        wrong.handle.len().await,
        0,
        "nothing it cannot open is held"
    );
    assert_eq!(wrong.store.inner.skipped_on_load(), ids.len() as u64);

    let error = wrong
        .handle
        .valid(&ids[0])
        .await
        .err()
        .ok_or("served a token it cannot open")?;
    assert_eq!(error.kind(), RenewalErrorKind::Store, "{error}");
    assert!(
        matches!(seal_error(&error), Some(SealError::DoesNotOpen)),
        "{error:?}"
    );
    let theirs = TokenId::new("logged-in-on-w");
    wrong
        .handle
        .add(theirs.clone(), issue(&fleet.shop)?, None)
        .await?;
    let error = good
        .handle
        .valid(&theirs)
        .await
        .err()
        .ok_or("served a token sealed with another key")?;
    assert!(
        matches!(seal_error(&error), Some(SealError::DoesNotOpen)),
        "{error:?}"
    );

    tokio::time::sleep(3 * HOUR).await;
    let now = fleet.server.now();
    for id in &ids {
        assert!(good.handle.valid(id).await?.expires_at() > now, "renewed");
    }
    assert!(wrong.handle.valid(&theirs).await?.expires_at() > now);
    good.handle.shutdown().await;
    wrong.handle.shutdown().await;
    let (good_events, wrong_events) = (good.events().await?, wrong.events().await?);
    let renewed = |events: &[RenewalEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, RenewalEvent::Renewed { .. }))
            .count()
    };
    assert!(
        renewed(&good_events) >= 2 * ids.len(),
        "{:?}",
        tally(&good_events)
    );
    assert!(renewed(&wrong_events) >= 2, "{:?}", tally(&wrong_events));
    for events in [&good_events, &wrong_events] {
        assert!(
            !events.iter().any(|e| matches!(
                e,
                RenewalEvent::Rejected { .. } | RenewalEvent::Expired { .. }
            )),
            "{:?}",
            tally(events)
        );
    }
    // Reconciling, each found the other's tokens stored and could not read them.
    let unreadable = |events: &[RenewalEvent], id: &TokenId| {
        events.iter().any(|e| match e {
            RenewalEvent::StoreFailed {
                id: Some(failed),
                error,
                ..
            } => failed == id && matches!(seal_error(error), Some(SealError::DoesNotOpen)),
            _ => false,
        })
    };
    assert!(
        unreadable(&wrong_events, &ids[3]),
        "{:?}",
        tally(&wrong_events)
    );
    assert!(
        unreadable(&good_events, &theirs),
        "{:?}",
        tally(&good_events)
    );
    assert_eq!(
        fleet.shop.requests(Operation::Renew) as usize,
        renewed(&good_events) + renewed(&wrong_events),
        "no mutation for a token a replica could not open"
    );
    real_io(redis_support::delete_prefix(&fleet.url, &fleet.prefix)).await;
    Ok(())
}

/// One token's sealed value is tampered with in Redis (one byte flipped), and
/// a raw entry of garbage is written beside the real ones. A replica starting
/// then skips both (counted, logged) and loads the rest; reading the tampered
/// one answers a `Store` error (`SealError::DoesNotOpen`), the garbage one
/// `SealError::Malformed`. The replica that held the tampered token all along
/// keeps serving it from memory, and its next renewal writes a good value over
/// the bad one, which the new replica then adopts. No panic, no other token
/// touched, and no token string in any raw value.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn corrupt_values_in_redis_are_typed_errors_and_heal_on_the_next_renewal() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_keys::corrupt",
    ))
    .await
    else {
        return Ok(());
    };
    let fleet = Fleet::new(url, LIFETIME).await?;
    let mut holder = fleet.replica(1, 0, policy(), false).await?;
    let ids = ids(10);
    let mut sentinels = std::collections::HashSet::new();
    for id in &ids {
        let token = issue(&fleet.shop)?;
        sentinels.insert(secret(&token).to_owned());
        holder.handle.add(id.clone(), token, None).await?;
    }
    let tampered = &ids[3];
    let mut redis = raw_connection(&fleet.url).await?;
    let key = format!("{}:t:{}", fleet.prefix, tampered.as_str());
    let mut sealed: Vec<u8> = raw(&mut redis, redis::cmd("HGET").arg(&key).arg("d")).await?;
    let last = sealed.len() - 1;
    sealed[last] ^= 0x01;
    let _: i64 = raw(
        &mut redis,
        redis::cmd("HSET").arg(&key).arg("d").arg(sealed),
    )
    .await?;
    let garbage = TokenId::new("garbage");
    let _: i64 = raw(
        &mut redis,
        redis::cmd("HSET")
            .arg(format!("{}:t:garbage", fleet.prefix))
            .arg("v")
            .arg(1_000_000)
            .arg("d")
            .arg("not a sealed value"),
    )
    .await?;

    let mut fresh = fleet.replica(2, 0, policy(), false).await?;
    assert_eq!(
        fresh.handle.len().await,
        ids.len() - 1,
        "all but the tampered one"
    );
    assert_eq!(fresh.store.inner.skipped_on_load(), 2);
    for (id, expected) in [(tampered, "DoesNotOpen"), (&garbage, "Malformed")] {
        let error = fresh
            .handle
            .valid(id)
            .await
            .err()
            .ok_or("served a value that does not open")?;
        assert_eq!(error.kind(), RenewalErrorKind::Store, "{error}");
        let seal = seal_error(&error).ok_or("a SealError in the chain")?;
        assert!(format!("{seal:?}").starts_with(expected), "{seal:?}");
    }
    assert!(
        fresh.handle.valid(&ids[4]).await.is_ok(),
        "the others are fine"
    );
    assert!(
        holder.handle.valid(tampered).await.is_ok(),
        "served from memory"
    );

    tokio::time::sleep(3 * HOUR).await;
    let now = fleet.server.now();
    for id in &ids {
        let from_holder = holder.handle.valid(id).await?;
        let from_fresh = fresh.handle.valid(id).await?;
        assert!(from_holder.expires_at() > now);
        assert_eq!(
            secret(&from_holder),
            secret(&from_fresh),
            "healed and adopted"
        );
    }
    // A store of its own reads every token, the healed one included.
    let reader = real_io(
        RedisStore::builder(fleet.url.as_str(), fleet.sealer.clone())
            .prefix(fleet.prefix.as_str())
            .build(),
    )
    .await?;
    let loaded = real_io(storefront_token::renewal::TokenStore::<
        storefront_token::CustomerAccessToken,
    >::load_all(&reader))
    .await?;
    assert_eq!(loaded.len(), ids.len(), "every real token opens again");
    assert_eq!(reader.skipped_on_load(), 1, "only the garbage is left");
    holder.handle.shutdown().await;
    fresh.handle.shutdown().await;
    for events in [holder.events().await?, fresh.events().await?] {
        assert!(
            !events.iter().any(|e| matches!(
                e,
                RenewalEvent::Rejected { .. } | RenewalEvent::Expired { .. }
            )),
            "{:?}",
            tally(&events)
        );
    }
    for (key, values) in real_io(redis_support::raw_entries(&fleet.url, &fleet.prefix)).await {
        for value in values.iter().chain([&key]) {
            assert_eq!(
                redis_fleet_support::find_any(value, &sentinels),
                None,
                "a token string at rest"
            );
        }
    }
    real_io(redis_support::delete_prefix(&fleet.url, &fleet.prefix)).await;
    Ok(())
}
