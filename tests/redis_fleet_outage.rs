//! Redis going away under a fleet: restarted (killed, with its append-only file
//! fsync'd on every write, so nothing acknowledged is lost), and unreachable
//! for hours while renewals come due. Each test runs its own `redis-server`
//! on a free port with a directory of its own (the shared one is not
//! disturbed); they run with the Redis suite, when `STOREFRONT_REDIS_URL` is
//! set (see `tests/redis_support`).

mod redis_fleet_support;
mod redis_support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use redis_fleet_support::{
    calls_of, find_any, issue, real_io, secret, tally, DiskRedis, Fleet, Replica, TestResult,
};
use storefront_token::renewal::{RenewalEvent, RenewalPolicy, StoredToken, TokenId, TokenStore};
use storefront_token::{Clock, CustomerAccessToken, Operation};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);
/// Two-hour tokens: renewed every 66 to 84 minutes.
const LIFETIME: Duration = Duration::from_secs(2 * 3_600);

fn policy() -> RenewalPolicy {
    RenewalPolicy::default().with_reconcile_interval(10 * MINUTE)
}

async fn three_replicas(fleet: &Fleet) -> Result<Vec<Replica>, Box<dyn std::error::Error>> {
    let mut replicas = Vec::new();
    for (n, offset) in [-3, 0, 4].into_iter().enumerate() {
        replicas.push(
            fleet
                .replica(n as u128 + 1, offset, policy(), false)
                .await?,
        );
    }
    Ok(replicas)
}

async fn add_tokens(
    fleet: &Fleet,
    replicas: &[Replica],
    count: usize,
) -> Result<(Vec<TokenId>, HashSet<String>), Box<dyn std::error::Error>> {
    let mut ids = Vec::new();
    let mut sentinels = HashSet::new();
    for n in 0..count {
        let id = TokenId::new(format!("customer-{n}"));
        let token = issue(&fleet.shop)?;
        sentinels.insert(secret(&token).to_owned());
        replicas[n % replicas.len()]
            .handle
            .add(id.clone(), token, None)
            .await?;
        ids.push(id);
    }
    for (n, id) in ids.iter().enumerate() {
        for other in 1..replicas.len() {
            replicas[(n + other) % replicas.len()]
                .handle
                .valid(id)
                .await?;
        }
    }
    Ok((ids, sentinels))
}

type Stored = HashMap<TokenId, StoredToken<CustomerAccessToken>>;

/// What the store holds, read by a store of the test's own.
async fn stored(fleet: &Fleet) -> Result<Stored, Box<dyn std::error::Error>> {
    let reader = real_io(
        storefront_token::renewal::RedisStore::builder(fleet.url.as_str(), fleet.sealer.clone())
            .prefix(fleet.prefix.as_str())
            .build(),
    )
    .await?;
    Ok(
        real_io(TokenStore::<CustomerAccessToken>::load_all(&reader))
            .await?
            .into_iter()
            .collect(),
    )
}

/// Every replica serves, for every token, what the store holds, alive.
async fn all_serve_the_stored_token(
    fleet: &Fleet,
    replicas: &[Replica],
    ids: &[TokenId],
) -> Result<Stored, Box<dyn std::error::Error>> {
    let stored = stored(fleet).await?;
    let now = fleet.server.now();
    for id in ids {
        let token = stored.get(id).ok_or("every token is stored")?;
        for replica in replicas {
            let status = replica.handle.status(id).await.ok_or("held")?;
            assert!(!status.pending_write(), "every write landed");
            let served = replica.handle.valid(id).await?;
            assert!(served.expires_at() > now, "alive");
            assert_eq!(secret(&served), secret(&token.credential));
            assert_eq!(served.expires_at(), token.credential.expires_at());
            assert_eq!(status.version(), token.version);
        }
    }
    Ok(stored)
}

async fn stop_all(
    replicas: &mut [Replica],
) -> Result<Vec<Vec<RenewalEvent>>, Box<dyn std::error::Error>> {
    let mut all = Vec::new();
    for replica in replicas.iter() {
        replica.handle.shutdown().await;
    }
    for replica in replicas.iter_mut() {
        all.push(replica.events().await?);
    }
    Ok(all)
}

fn count(events: &[RenewalEvent], matches: impl Fn(&RenewalEvent) -> bool) -> usize {
    events.iter().filter(|e| matches(e)).count()
}

/// Redis is killed (SIGKILL) in the middle of a renewal window and started
/// again on its append-only file: every token is still stored with the version
/// it had, the replicas reconnect by themselves, and renewals carry on, one per
/// token string (the shop rotates strings: a second renewal of one would be
/// rejected), none expired or rejected. Afterwards no token string is in the
/// append-only files or an RDB snapshot on disk.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_redis_restart_on_its_append_only_file_loses_nothing() -> TestResult {
    const TOKENS: usize = 100;
    if real_io(redis_support::redis_url_or_skip(
        "redis_fleet_outage::restart",
    ))
    .await
    .is_none()
    {
        return Ok(());
    }
    let Some(mut redis) = DiskRedis::start("redis_fleet_outage::restart")? else {
        return Ok(());
    };
    let fleet = Fleet::new(redis.url(), LIFETIME).await?;
    fleet.shop.set_renew_rotates_token(true);
    let mut replicas = three_replicas(&fleet).await?;
    let (ids, mut sentinels) = add_tokens(&fleet, &replicas, TOKENS).await?;

    tokio::time::sleep(75 * MINUTE).await; // half of the first renewals are done
    let before = stored(&fleet).await?;
    let renewed_before = calls_of(&fleet.calls).len();
    assert!(
        renewed_before > 0 && renewed_before < TOKENS,
        "{renewed_before}"
    );
    redis.kill();
    redis.run()?;
    let after: HashMap<_, _> = stored(&fleet).await?;
    assert_eq!(after.len(), TOKENS, "nothing lost");
    for (id, token) in &before {
        assert_eq!(
            after.get(id).map(|t| t.version),
            Some(token.version),
            "{id}"
        );
    }

    tokio::time::sleep(5 * HOUR).await;
    all_serve_the_stored_token(&fleet, &replicas, &ids).await?;
    let calls = calls_of(&fleet.calls);
    let events: Vec<RenewalEvent> = stop_all(&mut replicas).await?.concat();
    let renewed = count(&events, |e| matches!(e, RenewalEvent::Renewed { .. }));
    let successful: Vec<_> = calls.iter().filter(|c| c.renewed.is_some()).collect();
    assert_eq!(successful.len(), renewed, "{:?}", tally(&events));
    let strings: HashSet<&str> = successful.iter().map(|c| c.token.as_str()).collect();
    assert_eq!(
        strings.len(),
        successful.len(),
        "one renewal per token string"
    );
    assert!(renewed >= 3 * TOKENS, "renewals went on: {renewed}");
    assert_eq!(fleet.shop.requests(Operation::Renew), calls.len() as u64);
    assert_eq!(
        count(&events, |e| matches!(
            e,
            RenewalEvent::Rejected { .. } | RenewalEvent::Expired { .. }
        )),
        0,
        "{:?}",
        tally(&events)
    );

    // At rest on disk: the append-only files, and an RDB snapshot taken now.
    let mut connection = redis_fleet_support::raw_connection(&redis.url()).await?;
    let _: String = redis_fleet_support::raw(&mut connection, &redis::cmd("SAVE")).await?;
    sentinels.extend(successful.iter().filter_map(|c| c.renewed.clone()));
    let files = redis.files()?;
    assert!(
        files
            .iter()
            .any(|(path, _)| path.to_string_lossy().contains("appendonly")),
        "{files:?}"
    );
    assert!(files.iter().any(|(path, _)| path.ends_with("dump.rdb")));
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    for (path, contents) in &files {
        assert_eq!(
            find_any(contents, &sentinels),
            None,
            "a token string in {path:?}"
        );
    }
    println!(
        "redis restart: {TOKENS} tokens, 3 replicas, rotation, killed at 75 min and restarted on its AOF: \
         {renewed} renewals, one per token string, 0 expired, 0 rejected; {} token strings absent from \
         {} files ({bytes} bytes) on disk; events {:?}",
        sentinels.len(),
        files.len(),
        tally(&events)
    );
    Ok(())
}

/// Redis is unreachable for three hours, in which every token's renewal comes
/// due. The replicas cannot take leases (`StoreFailed`), keep serving their
/// tokens from memory, renew each without the lease when it nears expiry
/// (the engine's lease bypass: a second renewal beats a logged-out customer)
/// and keep the renewed tokens as pending writes. When Redis returns, the
/// writes land (`Persisted`) or lose to the first that did (adopted): every
/// replica serves what is stored, versions only grew, nothing expired.
///
/// The shop does not rotate strings here: with rotation, replicas renewing one
/// token without the lease make each other's strings invalid, which is the
/// risk the bypass takes (and reports as `Rejected`, see
/// `redis_fleet_crash`).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn replicas_serve_from_memory_while_redis_is_unreachable_and_converge_after() -> TestResult {
    const TOKENS: usize = 30;
    if real_io(redis_support::redis_url_or_skip(
        "redis_fleet_outage::unreachable",
    ))
    .await
    .is_none()
    {
        return Ok(());
    }
    let Some(mut redis) = DiskRedis::start("redis_fleet_outage::unreachable")? else {
        return Ok(());
    };
    let fleet = Fleet::new(redis.url(), LIFETIME).await?;
    let mut replicas = three_replicas(&fleet).await?;
    let (ids, _) = add_tokens(&fleet, &replicas, TOKENS).await?;
    tokio::time::sleep(10 * MINUTE).await;
    let before = stored(&fleet).await?;

    redis.kill();
    for replica in &replicas {
        replica.store.hold_time(false); // no reply is on its way to wait for
    }
    for _ in 0..12 {
        tokio::time::sleep(15 * MINUTE).await;
        let now = fleet.server.now();
        for id in &ids {
            for replica in &replicas {
                let served = replica.handle.valid(id).await?;
                assert!(served.expires_at() > now, "served from memory, alive");
            }
        }
    }
    let pending = {
        let mut pending = 0;
        for replica in &replicas {
            for id in &ids {
                pending += usize::from(
                    replica
                        .handle
                        .status(id)
                        .await
                        .is_some_and(|s| s.pending_write()),
                );
            }
        }
        pending
    };
    let renewed_in_outage = calls_of(&fleet.calls).len();
    redis.run()?;
    for replica in &replicas {
        replica.store.hold_time(true);
    }
    tokio::time::sleep(HOUR).await;

    let after = all_serve_the_stored_token(&fleet, &replicas, &ids).await?;
    for (id, old) in &before {
        let new = after.get(id).ok_or("stored")?;
        assert!(new.version > old.version, "versions only grow");
        assert!(new.credential.expires_at() > old.credential.expires_at());
    }
    let client = fleet.client()?;
    for id in ids.iter().step_by(5) {
        client.customer(after[id].credential.access_token()).await?;
    }
    let per_replica = stop_all(&mut replicas).await?;
    for events in &per_replica {
        let failed = count(events, |e| {
            matches!(
                e,
                RenewalEvent::StoreFailed {
                    will_retry: true,
                    ..
                }
            )
        });
        let persisted = count(events, |e| matches!(e, RenewalEvent::Persisted { .. }));
        let adopted = count(events, |e| {
            matches!(e, RenewalEvent::AdoptedFromStore { .. })
        });
        assert!(failed > 0, "{:?}", tally(events));
        let bypassed = count(events, |e| {
            matches!(e, RenewalEvent::RenewingWithoutLease { .. })
        });
        assert!(
            bypassed >= TOKENS,
            "each token renewed without the lease: {:?}",
            tally(events)
        );
        // Each pending write landed (`Persisted`), lost to another replica's
        // (adopted), or was superseded by this replica's next renewal; that
        // none is left is checked above.
        assert!(
            persisted + adopted > 0,
            "writes landed after the outage: {:?}",
            tally(events)
        );
        assert_eq!(
            count(events, |e| matches!(
                e,
                RenewalEvent::Rejected { .. } | RenewalEvent::Expired { .. }
            )),
            0,
            "{:?}",
            tally(events)
        );
    }
    assert_eq!(
        fleet.shop.requests(Operation::Renew),
        calls_of(&fleet.calls).len() as u64
    );
    println!(
        "redis unreachable for 3 h: {TOKENS} tokens, 3 replicas: {renewed_in_outage} renewals sent without \
         the lease during the outage, {pending} pending writes when Redis returned, all landed or adopted; \
         0 expired; events per replica {:?}",
        per_replica.iter().map(|e| tally(e)).collect::<Vec<_>>()
    );
    Ok(())
}

/// The same outage with a shop that rotates strings, and no re-login hook (a
/// storefront cannot log a customer in again without their password): near
/// expiry each replica renews without the lease, the first renewal of a token
/// makes the others' string invalid, and they report it (`Rejected`) and stop
/// serving it, never silently. The winner serves it throughout. When Redis
/// returns, the winner's write lands and the others read it back: every replica
/// serves the stored token, alive at the shop.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn with_rotation_an_outage_loses_sessions_on_the_losing_replicas_until_redis_returns(
) -> TestResult {
    const TOKENS: usize = 30;
    if real_io(redis_support::redis_url_or_skip(
        "redis_fleet_outage::unreachable_rotation",
    ))
    .await
    .is_none()
    {
        return Ok(());
    }
    let Some(mut redis) = DiskRedis::start("redis_fleet_outage::unreachable_rotation")? else {
        return Ok(());
    };
    let fleet = Fleet::new(redis.url(), LIFETIME).await?;
    fleet.shop.set_renew_rotates_token(true);
    let mut replicas = three_replicas(&fleet).await?;
    let (ids, _) = add_tokens(&fleet, &replicas, TOKENS).await?;
    tokio::time::sleep(10 * MINUTE).await;

    redis.kill();
    for replica in &replicas {
        replica.store.hold_time(false);
    }
    let mut unserved: HashSet<(usize, TokenId)> = HashSet::new();
    for _ in 0..12 {
        tokio::time::sleep(15 * MINUTE).await;
        let now = fleet.server.now();
        for id in &ids {
            let mut served = 0;
            for (n, replica) in replicas.iter().enumerate() {
                match replica.handle.valid(id).await {
                    Ok(token) if token.expires_at() > now => served += 1,
                    _ => {
                        unserved.insert((n, id.clone()));
                    }
                }
            }
            assert!(served >= 1, "{id}: the replica that renewed it serves it");
        }
    }
    redis.run()?;
    for replica in &replicas {
        replica.store.hold_time(true);
    }
    tokio::time::sleep(HOUR).await;
    let after = all_serve_the_stored_token(&fleet, &replicas, &ids).await?;
    let client = fleet.client()?;
    for id in &ids {
        client.customer(after[id].credential.access_token()).await?;
    }
    let per_replica = stop_all(&mut replicas).await?;
    for (n, id) in &unserved {
        assert!(
            per_replica[*n].iter().any(|e| matches!(
                e,
                RenewalEvent::Rejected { id: rejected, .. } if rejected == id
            )),
            "replica {n} stopped serving {id} without saying so"
        );
    }
    assert!(!unserved.is_empty(), "the losers' strings were rejected");
    println!(
        "redis unreachable for 3 h, rotation: {} (replica, token) sessions reported rejected and not served \
         until Redis returned, then all served again; events per replica {:?}",
        unserved.len(),
        per_replica.iter().map(|e| tally(e)).collect::<Vec<_>>()
    );
    Ok(())
}
