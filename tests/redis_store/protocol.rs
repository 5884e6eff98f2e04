//! Each outcome of each call, versions, and leases (injected clock and Redis's own).

use std::sync::Arc;
use std::time::Duration;

use super::*;

#[tokio::test]
async fn put_creates_overwrites_and_compares_and_swaps() -> TestResult {
    let url = redis_or_skip!("put_creates_overwrites_and_compares_and_swaps");
    let prefix = unique_prefix("put");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    let id = TokenId::new("customer-1");

    assert_eq!(ts.get(&id).await?, None);
    assert_eq!(
        ts.put(&id, &token("a"), issued(), Some(1)).await?,
        PutOutcome::Missing
    );
    assert_eq!(ts.get(&id).await?, None, "a compare-and-swap never creates");

    let v1 = stored_version(&ts.put(&id, &token("a"), issued(), None).await?);
    let v2 = stored_version(&ts.put(&id, &token("b"), issued(), Some(v1)).await?);
    assert!(v2 > v1);
    let later = issued() + TimeDelta::hours(1);
    let v3 = stored_version(&ts.put(&id, &token("c"), later, None).await?);
    assert!(v3 > v2, "put(None) overwrites with a new version");
    let stored = ts.get(&id).await?.expect("stored");
    assert_eq!(
        (stored.credential, stored.issued_at, stored.version),
        (token("c"), later, v3)
    );

    match ts.put(&id, &token("stale"), issued(), Some(v2)).await? {
        PutOutcome::Conflict { current } => {
            assert_eq!((current.credential, current.version), (token("c"), v3));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(ts.get(&id).await?.map(|t| t.credential), Some(token("c")));

    ts.delete(&id, Some(v2)).await?; // another version: kept
    assert!(ts.get(&id).await?.is_some());
    ts.delete(&id, Some(v3)).await?;
    assert_eq!(ts.get(&id).await?, None);
    assert_eq!(
        ts.put(&id, &token("d"), issued(), Some(v3)).await?,
        PutOutcome::Missing
    );
    ts.put(&id, &token("e"), issued(), None).await?;
    ts.delete(&id, None).await?;
    assert_eq!(
        ts.get(&id).await?,
        None,
        "delete(None) deletes whatever is stored"
    );
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn versions_never_repeat_across_delete_and_re_add() -> TestResult {
    let url = redis_or_skip!("versions_never_repeat_across_delete_and_re_add");
    let prefix = unique_prefix("versions");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    let id = TokenId::new("a");
    let other = TokenId::new("b");

    let first = stored_version(&ts.put(&id, &token("1"), issued(), None).await?);
    ts.delete(&id, None).await?;
    let second = stored_version(&ts.put(&id, &token("2"), issued(), None).await?);
    assert!(second > first, "{second} after {first}");
    // A renewal of the first login cannot overwrite the second.
    let stale = ts.put(&id, &token("9"), issued(), Some(first)).await?;
    assert!(matches!(stale, PutOutcome::Conflict { .. }), "{stale:?}");
    // One counter for the whole store: another id's write moves it too.
    let b = stored_version(&ts.put(&other, &token("b"), issued(), None).await?);
    assert!(b > second);

    // A second replica (another connection) shares the counter.
    let replica = store_with(&url, &prefix, fresh_sealer()).await?;
    let third = stored_version(
        &tokens(&replica)
            .put(&id, &token("3"), issued(), None)
            .await?,
    );
    assert!(third > b);

    let mut versions = tokens(&store).versions().await?;
    versions.sort();
    assert_eq!(versions, vec![(id, third), (other, b)]);
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn leases_on_an_injected_clock_are_held_renewed_lapse_and_release() -> TestResult {
    let url = redis_or_skip!("leases_on_an_injected_clock_are_held_renewed_lapse_and_release");
    let prefix = unique_prefix("lease");
    let clock = ManualClock::new(issued());
    let store = RedisStore::builder(url.as_str(), fresh_sealer())
        .prefix(&prefix)
        .lease_clock(Arc::new(clock.clone()))
        .build()
        .await?;
    let ts = tokens(&store);
    let id = TokenId::new("a");
    let (a, b) = (ReplicaId::new(1), ReplicaId::new(u128::MAX));
    let minute = Duration::from_secs(60);

    assert_eq!(
        ts.try_lease(&id, a, minute, 1).await?,
        LeaseOutcome::Missing
    );
    let v1 = stored_version(&ts.put(&id, &token("1"), issued(), None).await?);
    assert_eq!(
        ts.try_lease(&id, a, minute, v1).await?,
        LeaseOutcome::Acquired
    );
    assert_eq!(
        ts.try_lease(&id, b, minute, v1).await?,
        LeaseOutcome::Held { remaining: minute }
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        ts.try_lease(&id, b, minute, v1).await?,
        LeaseOutcome::Held {
            remaining: Duration::from_secs(40)
        }
    );
    // A's own live lease is renewed: a full minute again from now.
    assert_eq!(
        ts.try_lease(&id, a, minute, v1).await?,
        LeaseOutcome::Acquired
    );
    assert_eq!(
        ts.try_lease(&id, b, minute, v1).await?,
        LeaseOutcome::Held { remaining: minute }
    );

    // A writes: the lease goes with the old version; B holding it adopts the new one.
    let v2 = stored_version(&ts.put(&id, &token("2"), issued(), Some(v1)).await?);
    match ts.try_lease(&id, b, minute, v1).await? {
        LeaseOutcome::Changed { current } => {
            assert_eq!((current.credential, current.version), (token("2"), v2));
        }
        other => panic!("expected Changed, got {other:?}"),
    }
    assert_eq!(
        ts.try_lease(&id, b, minute, v2).await?,
        LeaseOutcome::Acquired
    );

    ts.release_lease(&id, a, v2).await?; // not A's: kept
    assert!(matches!(
        ts.try_lease(&id, a, minute, v2).await?,
        LeaseOutcome::Held { .. }
    ));
    ts.release_lease(&id, b, v1).await?; // another version's: kept
    assert!(matches!(
        ts.try_lease(&id, a, minute, v2).await?,
        LeaseOutcome::Held { .. }
    ));
    ts.release_lease(&id, b, v2).await?;
    assert_eq!(
        ts.try_lease(&id, a, minute, v2).await?,
        LeaseOutcome::Acquired
    );

    // A dies: one millisecond short of a minute it still holds; then B takes over.
    clock.advance(minute - Duration::from_millis(1));
    assert_eq!(
        ts.try_lease(&id, b, minute, v2).await?,
        LeaseOutcome::Held {
            remaining: Duration::from_millis(1)
        }
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        ts.try_lease(&id, b, minute, v2).await?,
        LeaseOutcome::Acquired
    );

    // put(None) releases B's lease too.
    let v3 = stored_version(&ts.put(&id, &token("3"), issued(), None).await?);
    assert_eq!(
        ts.try_lease(&id, a, minute, v3).await?,
        LeaseOutcome::Acquired
    );

    ts.delete(&id, None).await?;
    assert_eq!(
        ts.try_lease(&id, b, minute, v3).await?,
        LeaseOutcome::Missing
    );
    assert!(
        raw_entries(&url, &format!("{prefix}:l:")).await.is_empty(),
        "delete takes the lease with it"
    );
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn leases_run_on_redis_time_by_default() -> TestResult {
    let url = redis_or_skip!("leases_run_on_redis_time_by_default");
    let prefix = unique_prefix("redis-time");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    let id = TokenId::new("a");
    let hour = Duration::from_secs(3600);
    let v = stored_version(&ts.put(&id, &token("1"), issued(), None).await?);
    assert_eq!(
        ts.try_lease(&id, ReplicaId::new(1), hour, v).await?,
        LeaseOutcome::Acquired
    );
    let LeaseOutcome::Held { remaining } = ts.try_lease(&id, ReplicaId::new(2), hour, v).await?
    else {
        panic!("another replica's lease is held");
    };
    assert!(
        remaining <= hour && remaining > hour - Duration::from_secs(10),
        "{remaining:?}"
    );

    // The lease key expires on Redis's clock with the lease itself.
    let mut connection = raw_connection(&url).await?;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}:l:a"))
        .query_async(&mut connection)
        .await?;
    assert!(pttl > 0 && pttl <= 3_600_000, "PTTL {pttl}");
    let value: String = redis::cmd("GET")
        .arg(format!("{prefix}:l:a"))
        .query_async(&mut connection)
        .await?;
    assert!(value.starts_with(&format!("{:032x}:", 1)), "{value}");
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn replicas_racing_for_a_lease_get_exactly_one() -> TestResult {
    let url = redis_or_skip!("replicas_racing_for_a_lease_get_exactly_one");
    let prefix = unique_prefix("race");
    let id = TokenId::new("a");
    let first = store_with(&url, &prefix, fresh_sealer()).await?;
    let v = stored_version(&tokens(&first).put(&id, &token("1"), issued(), None).await?);
    let mut replicas = Vec::new();
    for n in 0..16_u128 {
        let store = store_with(&url, &prefix, fresh_sealer()).await?;
        let id = id.clone();
        replicas.push(tokio::spawn(async move {
            tokens(&store)
                .try_lease(&id, ReplicaId::new(n), Duration::from_secs(60), v)
                .await
        }));
    }
    let mut acquired = 0;
    for replica in replicas {
        match replica.await?? {
            LeaseOutcome::Acquired => acquired += 1,
            LeaseOutcome::Held { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acquired, 1);
    delete_prefix(&url, &prefix).await;
    Ok(())
}
