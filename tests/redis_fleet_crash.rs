//! A replica dies in the middle of a renewal, on Redis: after taking the lease
//! and before the mutation, or after the mutation and before the write. The
//! other replicas take the token over once the lease lapses; a renewal lost
//! with the dead replica is reported, never silent.
//!
//! "Dies" means: from that moment nothing the replica does reaches Redis or
//! the shop (its store calls hang forever, its renewal never answers), as for
//! a process killed with SIGKILL; its lease is never released. Needs
//! `STOREFRONT_REDIS_URL` (see `tests/redis_support`).

mod redis_fleet_support;
mod redis_support;

use std::time::Duration;

use chrono::TimeDelta;
use redis_fleet_support::{
    issue, raw_connection, raw_lease, real_io, secret, tally, wait_for_calls, Fate, Fleet,
    TestResult,
};
use storefront_token::renewal::{RenewalErrorKind, RenewalEvent, RenewalPolicy, TokenId};
use storefront_token::Operation;

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);

/// Reconciling every minute, so the third replica sees the outcome soon.
fn policy() -> RenewalPolicy {
    RenewalPolicy::default().with_reconcile_interval(Duration::from_secs(60))
}

/// Replica A (id 0xA) takes the lease on a token and dies before sending the
/// mutation. Replica B, asked to renew meanwhile, is told the lease is held,
/// and takes the token over once it lapses: not before the lease duration,
/// within a second after (B looks at the held lease every second). One
/// mutation reaches the shop; B and C serve the renewed token, alive at the
/// shop.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_replica_killed_holding_the_lease_is_taken_over_once_it_lapses() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_crash::killed_holding_the_lease",
    ))
    .await
    else {
        return Ok(());
    };
    let fleet = Fleet::new(url, 42 * DAY).await?;
    let lease = policy().lease_duration();
    let a = fleet.replica(0xA, 0, policy(), false).await?;
    let b = fleet.replica(0xB, -3, policy(), false).await?;
    let mut c = fleet.replica(0xC, 4, policy(), false).await?;
    let id = TokenId::new("ada");
    let first = issue(&fleet.shop)?;
    a.handle.add(id.clone(), first.clone(), None).await?;
    b.handle.valid(&id).await?; // read through: every replica holds it
    c.handle.valid(&id).await?;
    tokio::time::sleep(HOUR).await; // so that a renewal moves the expiry

    a.set_fate(Fate::DieBeforeSending);
    let dying = a.handle.clone();
    let dying_id = id.clone();
    tokio::spawn(async move { dying.renew_now(&dying_id).await });
    let calls = wait_for_calls(&fleet.calls, 1).await?;
    let leased_at = calls[0].at;
    assert_eq!(calls[0].replica, 0xA);
    assert!(a.store.is_dead());
    let mut redis = raw_connection(&fleet.url).await?;
    let held = raw_lease(&mut redis, &fleet.prefix, &id).await?;
    assert_eq!(
        held,
        Some((
            0xA,
            (leased_at + TimeDelta::from_std(lease)?).timestamp_millis()
        )),
        "A holds the lease, for the lease duration"
    );

    // B is asked to renew while A's lease is live: it waits for it to lapse.
    let renewed = b.handle.renew_now(&id).await?;
    let calls = wait_for_calls(&fleet.calls, 2).await?;
    assert_eq!(calls.len(), 2, "A's renewal never reached the shop");
    assert_eq!(calls[1].replica, 0xB);
    let taken_after = (calls[1].at - leased_at).to_std()?;
    assert!(
        taken_after >= lease && taken_after <= lease + Duration::from_millis(1_100),
        "taken over {taken_after:?} after A took its {lease:?} lease"
    );
    println!("taken over {taken_after:?} after the lease was taken ({lease:?} lease)");
    assert_eq!(fleet.shop.requests(Operation::Renew), 1, "one mutation");
    assert_ne!(renewed.expires_at(), first.expires_at(), "renewed");
    assert_eq!(
        raw_lease(&mut redis, &fleet.prefix, &id).await?,
        None,
        "B's write released the lease"
    );

    // C learns of it by reconciling; the token is alive at the shop.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let from_c = c.handle.valid(&id).await?;
    assert_eq!(from_c.expires_at(), renewed.expires_at());
    assert_eq!(secret(&from_c), secret(&renewed));
    fleet.client()?.customer(renewed.access_token()).await?;
    assert_eq!(fleet.shop.requests(Operation::Renew), 1, "still one");
    c.handle.shutdown().await;
    let events = c.events().await?;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RenewalEvent::AdoptedFromStore { .. })),
        "{:?}",
        tally(&events)
    );
    b.handle.shutdown().await;
    drop(a);
    real_io(redis_support::delete_prefix(&fleet.url, &fleet.prefix)).await;
    Ok(())
}

/// What became of a renewal lost with a replica that died after the mutation.
struct Takeover {
    /// What B's `renew_now` answered.
    answer: Result<storefront_token::CustomerAccessToken, storefront_token::renewal::RenewalError>,
    /// B's events and C's.
    b_events: Vec<RenewalEvent>,
    c_events: Vec<RenewalEvent>,
    /// Logins the shop saw (re-logins: the first token was issued directly).
    logins: u64,
}

/// Replica A renews a token at the shop and dies before writing the renewed
/// token; B, asked to renew meanwhile, takes over once A's lease lapses. Both
/// B and C can log the customer in again.
async fn killed_after_the_mutation(
    rotates: bool,
    url: String,
) -> Result<Takeover, Box<dyn std::error::Error>> {
    let fleet = Fleet::new(url, 42 * DAY).await?;
    fleet.shop.set_renew_rotates_token(rotates);
    let lease = policy().lease_duration();
    let a = fleet.replica(0xA, 0, policy(), true).await?;
    let mut b = fleet.replica(0xB, -3, policy(), true).await?;
    let mut c = fleet.replica(0xC, 4, policy(), true).await?;
    let id = TokenId::new("ada");
    let first = issue(&fleet.shop)?;
    a.handle.add(id.clone(), first.clone(), None).await?;
    b.handle.valid(&id).await?;
    c.handle.valid(&id).await?;
    tokio::time::sleep(HOUR).await;

    a.set_fate(Fate::DieAfterSending);
    let dying = a.handle.clone();
    let dying_id = id.clone();
    tokio::spawn(async move { dying.renew_now(&dying_id).await });
    let calls = wait_for_calls(&fleet.calls, 1).await?;
    let orphan = calls[0]
        .renewed
        .clone()
        .ok_or("A's mutation went through")?;
    assert_eq!(
        orphan != secret(&first),
        rotates,
        "the shop rotated the string or not"
    );
    assert!(a.store.is_dead());

    let answer = b.handle.renew_now(&id).await;
    let calls = wait_for_calls(&fleet.calls, 2).await?;
    assert_eq!(calls[1].replica, 0xB);
    assert_eq!(
        calls[1].token,
        secret(&first),
        "B renews the string it holds"
    );
    let taken_after = (calls[1].at - calls[0].at).to_std()?;
    assert!(
        taken_after >= lease && taken_after <= lease + Duration::from_millis(1_100),
        "taken over {taken_after:?} after A took its {lease:?} lease"
    );
    // Every replica alive serves a token alive at the shop, the stored one.
    tokio::time::sleep(Duration::from_secs(300)).await;
    let client = fleet.client()?;
    let from_b = b.handle.valid(&id).await?;
    let from_c = c.handle.valid(&id).await?;
    assert_eq!(secret(&from_b), secret(&from_c));
    client.customer(from_b.access_token()).await?;
    assert_eq!(fleet.shop.requests(Operation::Renew), 2, "A's and B's");
    b.handle.shutdown().await;
    c.handle.shutdown().await;
    drop(a);
    let takeover = Takeover {
        answer,
        b_events: b.events().await?,
        c_events: c.events().await?,
        logins: fleet.shop.requests(Operation::Create),
    };
    println!(
        "killed after the mutation (rotation: {rotates}): taken over {taken_after:?} after the lease was \
         taken; B: {:?}; C: {:?}",
        tally(&takeover.b_events),
        tally(&takeover.c_events)
    );
    real_io(redis_support::delete_prefix(&fleet.url, &fleet.prefix)).await;
    Ok(takeover)
}

/// With a shop that rotates token strings, the string B holds died at the
/// shop with A's mutation, and the string A got died with A. B's renewal is
/// rejected, B re-reads the store and finds the same version: the loss is
/// reported (`RenewalFailed` not transient, then `Rejected` for the token,
/// `renew_now` answers `Rejected`), the re-login hook logs the customer in
/// again (`LoggedInAgain`), and C adopts that login.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_rotation_lost_with_a_killed_replica_is_reported_and_logged_in_again() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_crash::rotation_lost",
    ))
    .await
    else {
        return Ok(());
    };
    let takeover = killed_after_the_mutation(true, url).await?;
    let error = takeover.answer.err().ok_or("B's renewal cannot succeed")?;
    assert_eq!(error.kind(), RenewalErrorKind::Rejected, "{error}");
    assert!(error.must_log_in_again());
    assert_eq!(takeover.logins, 1, "one re-login, by B");
    let b = &takeover.b_events;
    let rejected = b
        .iter()
        .position(|e| matches!(e, RenewalEvent::Rejected { id, .. } if id.as_str() == "ada"))
        .ok_or_else(|| format!("no Rejected event: {:?}", tally(b)))?;
    assert!(
        b.iter().any(|e| matches!(
            e,
            RenewalEvent::RenewalFailed {
                transient: false,
                ..
            }
        )),
        "{:?}",
        tally(b)
    );
    assert!(
        b[rejected..]
            .iter()
            .any(|e| matches!(e, RenewalEvent::LoggedInAgain { .. })),
        "then logged in again: {:?}",
        tally(b)
    );
    assert!(
        takeover
            .c_events
            .iter()
            .any(|e| matches!(e, RenewalEvent::AdoptedFromStore { .. })),
        "C adopted the new login: {:?}",
        tally(&takeover.c_events)
    );
    Ok(())
}

/// With a shop that does not rotate, B's takeover renews the same string
/// again: no loss, nothing rejected, nobody logged in again.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn without_rotation_the_takeover_renews_again_and_nothing_is_lost() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet_crash::no_rotation",
    ))
    .await
    else {
        return Ok(());
    };
    let takeover = killed_after_the_mutation(false, url).await?;
    takeover.answer?;
    assert_eq!(takeover.logins, 0);
    for events in [&takeover.b_events, &takeover.c_events] {
        assert!(
            !events.iter().any(|e| matches!(
                e,
                RenewalEvent::Rejected { .. }
                    | RenewalEvent::Expired { .. }
                    | RenewalEvent::LoggedInAgain { .. }
                    | RenewalEvent::RenewalFailed { .. }
            )),
            "{:?}",
            tally(events)
        );
    }
    assert!(takeover
        .b_events
        .iter()
        .any(|e| matches!(e, RenewalEvent::Renewed { .. })));
    Ok(())
}
