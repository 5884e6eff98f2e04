//! Replicas racing for one token's renewal on Redis: the ones that lose wait on
//! the winner's lease and adopt what it writes — soon, since with a shop that
//! rotates token strings the string they hold died with the winner's renewal,
//! and before their old token expires, however short its life. Needs
//! `STOREFRONT_REDIS_URL` (see `tests/redis_support`).

mod redis_fleet_support;
mod redis_support;

use std::time::Duration;

use redis_fleet_support::{issue, real_io, secret, tally, wait_for_calls, Fleet, TestResult};
use storefront_token::renewal::{RenewalEvent, RenewalPolicy, TokenId};
use storefront_token::{Clock, Operation};

const MS: Duration = Duration::from_millis(1);

/// With 15-second tokens the renewal is due 10 s before expiry, and a replica
/// told the lease is held used to look again only after the 10 s retry gap:
/// at the old token's expiry, where it declared the token `Expired` although
/// the store held the renewed one. It must adopt the renewal instead.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_replica_waiting_on_a_held_lease_adopts_before_its_token_expires() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_contention::short_lifetime",
    ))
    .await
    else {
        return Ok(());
    };
    let fleet = Fleet::new(url, Duration::from_secs(15)).await?;
    let mut replicas = Vec::new();
    for (n, offset) in [0, 0, 0].into_iter().enumerate() {
        replicas.push(
            fleet
                .replica(n as u128 + 1, offset, RenewalPolicy::default(), false)
                .await?,
        );
    }
    let id = TokenId::new("ada");
    let first = issue(&fleet.shop)?;
    replicas[0]
        .handle
        .add(id.clone(), first.clone(), None)
        .await?;
    for replica in &replicas[1..] {
        replica.handle.valid(&id).await?;
    }
    // Past the first token's expiry (renewals every 5 s from 5 s on).
    tokio::time::sleep(Duration::from_secs(16)).await;
    let now = fleet.server.now();
    for replica in &replicas {
        let token = replica.handle.valid(&id).await?;
        assert!(token.expires_at() > now, "the renewed token is served");
    }
    let mut renewed = 0;
    for replica in &mut replicas {
        replica.handle.shutdown().await;
        let events = replica.events().await?;
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, RenewalEvent::Expired { .. })),
            "{:?}",
            tally(&events)
        );
        renewed += events
            .iter()
            .filter(|e| matches!(e, RenewalEvent::Renewed { .. }))
            .count();
    }
    assert!(renewed >= 2, "renewed every 5 s: {renewed}");
    assert_eq!(
        fleet.shop.requests(Operation::Renew),
        renewed as u64,
        "one mutation per renewal"
    );
    real_io(redis_support::delete_prefix(&fleet.url, &fleet.prefix)).await;
    Ok(())
}

/// Three replicas reach a token's renewal point together and the shop rotates
/// strings: the winner's renewal kills the string the other two hold. They
/// adopt the new one within a second (they look again at the held lease every
/// second, not after the 10 s retry gap, which is for requests to the shop).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn losers_of_the_race_serve_the_rotated_string_within_a_second() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_contention::rotation_lag",
    ))
    .await
    else {
        return Ok(());
    };
    let fleet = Fleet::new(url, Duration::from_secs(42 * 86_400)).await?;
    fleet.shop.set_renew_rotates_token(true);
    let mut replicas = Vec::new();
    // Clocks that agree: every replica reaches the renewal point at once. (A
    // replica whose clock is behind, and that has not heard the shop's `Date`
    // yet, reaches it later, and serves the old string until then.)
    for n in 0..3 {
        replicas.push(
            fleet
                .replica(n + 1, 0, RenewalPolicy::default(), false)
                .await?,
        );
    }
    let id = TokenId::new("ada");
    replicas[0]
        .handle
        .add(id.clone(), issue(&fleet.shop)?, None)
        .await?;
    for replica in &replicas[1..] {
        replica.handle.valid(&id).await?;
    }
    let due = replicas[0]
        .handle
        .status(&id)
        .await
        .and_then(|s| s.next_renewal_at())
        .ok_or("scheduled")?;
    redis_fleet_support::until(&fleet.server, due - chrono::TimeDelta::seconds(10)).await;
    assert_eq!(fleet.shop.requests(Operation::Renew), 0);
    for _ in 0..20_000 {
        if !redis_fleet_support::calls_of(&fleet.calls).is_empty() {
            break;
        }
        tokio::time::sleep(MS).await;
    }
    let calls = wait_for_calls(&fleet.calls, 1).await?;
    let renewed_at = calls[0].at;
    let rotated = calls[0].renewed.clone().ok_or("renewed")?;
    // Every 100 ms, which string each replica serves.
    let mut lag = [Duration::ZERO; 3];
    for step in 0..=30u32 {
        for (n, replica) in replicas.iter().enumerate() {
            if secret(&replica.handle.valid(&id).await?) != rotated {
                lag[n] = (fleet.server.now() - renewed_at).to_std()? + MS;
            }
        }
        if step < 30 {
            tokio::time::sleep(100 * MS).await;
        }
    }
    println!("rotation: the replicas served the dead string for {lag:?} after the renewal");
    assert!(
        lag.iter().all(|&lag| lag <= Duration::from_millis(1_100)),
        "{lag:?}"
    );
    assert_eq!(fleet.shop.requests(Operation::Renew), 1);
    for replica in &replicas {
        replica.handle.shutdown().await;
    }
    real_io(redis_support::delete_prefix(&fleet.url, &fleet.prefix)).await;
    Ok(())
}
