//! `RedisStore` against a real Redis: the `TokenStore` protocol call by call,
//! leases on an injected clock, what is (not) in Redis, values that do not
//! open, the re-seal pass, round trips, and Redis going away and coming back.
//!
//! Runs against `STOREFRONT_REDIS_URL`; each test prints `SKIPPED …` and
//! passes without it (see tests/redis_support).

mod redis_support;

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use redis_support::{
    contains, delete_prefix, fresh_key, fresh_sealer, raw_connection, raw_entries,
    redis_url_or_skip, unique_prefix, ManualClock, OwnRedis,
};
use storefront_token::at_rest::{Keyring, SealError, Sealer};
use storefront_token::chrono::{DateTime, TimeDelta, Utc};
use storefront_token::renewal::{
    LeaseOutcome, PutOutcome, RedisStore, ReplicaId, StoreError, TokenId, TokenStore,
};
use storefront_token::{AccessToken, CustomerAccessToken};

type Token = CustomerAccessToken;
type TestResult = Result<(), Box<dyn StdError>>;

/// Runs the test against the configured Redis, or returns (skipped) without one.
macro_rules! redis_or_skip {
    ($test:literal) => {
        match redis_url_or_skip($test).await {
            Some(url) => url,
            None => return Ok(()),
        }
    };
}

fn issued() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time")
}

fn token(secret: &str) -> Token {
    CustomerAccessToken::new(AccessToken::new(secret), issued() + TimeDelta::days(30))
}

/// The store seen as a store of customer tokens (it is one for every credential).
fn tokens(store: &RedisStore) -> &(impl TokenStore<Token> + '_) {
    store
}

async fn store_with(url: &str, prefix: &str, sealer: Sealer) -> Result<RedisStore, StoreError> {
    RedisStore::builder(url, sealer)
        .prefix(prefix)
        .build()
        .await
}

fn stored_version(outcome: &PutOutcome<Token>) -> u64 {
    match outcome {
        PutOutcome::Stored { version } => *version,
        other => panic!("expected Stored, got {other:?}"),
    }
}

/// The seal error behind a store error.
fn seal_error(error: &StoreError) -> &SealError {
    error
        .source()
        .and_then(|source| source.downcast_ref::<SealError>())
        .unwrap_or_else(|| panic!("no SealError behind {error:?}"))
}

async fn hset(url: &str, key: &str, field: &str, value: &[u8]) {
    let mut connection = raw_connection(url).await.expect("Redis answers");
    let _: i64 = redis::cmd("HSET")
        .arg(key)
        .arg(field)
        .arg(value)
        .query_async(&mut connection)
        .await
        .expect("HSET works");
}

async fn hget(url: &str, key: &str, field: &str) -> Option<Vec<u8>> {
    let mut connection = raw_connection(url).await.expect("Redis answers");
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query_async(&mut connection)
        .await
        .expect("HGET works")
}

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

#[tokio::test]
async fn nothing_in_redis_holds_the_token() -> TestResult {
    let url = redis_or_skip!("nothing_in_redis_holds_the_token");
    let prefix = unique_prefix("sentinel");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    let sentinel = "SENTINEL-customer-token-5f1c0a9e";
    let id = TokenId::new("customer-42");
    let v = stored_version(&ts.put(&id, &token(sentinel), issued(), None).await?);
    ts.try_lease(&id, ReplicaId::new(7), Duration::from_secs(60), v)
        .await?;
    ts.put(
        &TokenId::new("other"),
        &token(&format!("{sentinel}-2")),
        issued(),
        None,
    )
    .await?;

    let entries = raw_entries(&url, &prefix).await;
    assert_eq!(
        entries.len(),
        4,
        "two tokens, a lease and the counter: {entries:?}"
    );
    let mut saw_id = false;
    for (key, values) in &entries {
        assert!(!contains(key, sentinel.as_bytes()));
        for value in values {
            assert!(
                !contains(value, sentinel.as_bytes()),
                "the token is in {key:?}"
            );
            assert!(!contains(value, b"SENTINEL"));
        }
        // The search works: the id (plaintext, a key name) is found.
        saw_id |= contains(key, b"customer-42");
    }
    assert!(saw_id);
    // And the store still reads it back.
    assert_eq!(
        ts.get(&id).await?.map(|t| t.credential),
        Some(token(sentinel))
    );
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn a_value_copied_to_another_id_does_not_open() -> TestResult {
    let url = redis_or_skip!("a_value_copied_to_another_id_does_not_open");
    let prefix = unique_prefix("copied");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    let (alice, mallory) = (TokenId::new("alice"), TokenId::new("mallory"));
    ts.put(&alice, &token("alice-token"), issued(), None)
        .await?;
    let vm = stored_version(
        &ts.put(&mallory, &token("mallory-token"), issued(), None)
            .await?,
    );
    let sealed = hget(&url, &format!("{prefix}:t:alice"), "d")
        .await
        .expect("stored");
    hset(&url, &format!("{prefix}:t:mallory"), "d", &sealed).await;

    let error = ts
        .get(&mallory)
        .await
        .expect_err("alice's value does not open as mallory's");
    assert!(
        matches!(seal_error(&error), SealError::DoesNotOpen),
        "{error:?}"
    );
    assert!(error.to_string().contains("mallory"), "{error}");
    assert!(!format!("{error:?}").contains("alice-token"));
    // try_lease on a changed version and a conflicting put must open it too.
    let error = ts
        .try_lease(
            &mallory,
            ReplicaId::new(1),
            Duration::from_secs(60),
            vm + 1000,
        )
        .await
        .expect_err("Changed carries the value, which does not open");
    assert!(matches!(seal_error(&error), SealError::DoesNotOpen));
    let error = ts
        .put(&mallory, &token("x"), issued(), Some(vm + 1000))
        .await
        .expect_err("Conflict carries the value, which does not open");
    assert!(matches!(seal_error(&error), SealError::DoesNotOpen));
    assert!(
        ts.get(&alice).await?.is_some(),
        "alice's own entry still opens"
    );
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn a_store_with_other_keys_gets_a_typed_error() -> TestResult {
    let url = redis_or_skip!("a_store_with_other_keys_gets_a_typed_error");
    let prefix = unique_prefix("wrong-key");
    let writer = store_with(&url, &prefix, fresh_sealer()).await?;
    let id = TokenId::new("a");
    tokens(&writer)
        .put(&id, &token("secret"), issued(), None)
        .await?;

    // Another key with another id: unknown key.
    let other = store_with(&url, &prefix, Sealer::new(Keyring::new(fresh_key("other")))).await?;
    let error = tokens(&other)
        .get(&id)
        .await
        .expect_err("sealed with an unknown key");
    assert!(matches!(seal_error(&error), SealError::UnknownKey { key_id } if key_id == "test"));
    // Another key with the same id: does not open.
    let impostor = store_with(&url, &prefix, fresh_sealer()).await?;
    let error = tokens(&impostor).get(&id).await.expect_err("the wrong key");
    assert!(
        matches!(seal_error(&error), SealError::DoesNotOpen),
        "{error:?}"
    );
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn a_corrupt_value_is_an_error_and_load_all_skips_it() -> TestResult {
    let url = redis_or_skip!("a_corrupt_value_is_an_error_and_load_all_skips_it");
    let prefix = unique_prefix("corrupt");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let ts = tokens(&store);
    for name in ["a", "b", "c"] {
        ts.put(&TokenId::new(name), &token(name), issued(), None)
            .await?;
    }
    hset(&url, &format!("{prefix}:t:b"), "d", b"\x01garbage").await;
    // A version that is no number: malformed, skipped too.
    ts.put(&TokenId::new("d"), &token("d"), issued(), None)
        .await?;
    hset(&url, &format!("{prefix}:t:d"), "v", b"not-a-number").await;

    let error = ts.get(&TokenId::new("b")).await.expect_err("corrupt");
    assert!(
        matches!(seal_error(&error), SealError::Malformed),
        "{error:?}"
    );
    assert!(ts.get(&TokenId::new("d")).await.is_err());

    let before = store.skipped_on_load();
    let mut loaded = ts.load_all().await?;
    loaded.sort_by(|x, y| x.0.cmp(&y.0));
    let names: Vec<_> = loaded.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(loaded[1].1.credential, token("c"));
    assert_eq!(store.skipped_on_load() - before, 2);
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn reseal_after_rotation_lets_the_old_key_go() -> TestResult {
    let url = redis_or_skip!("reseal_after_rotation_lets_the_old_key_go");
    let prefix = unique_prefix("reseal");
    let old_config = Keyring::new(fresh_key("old")).to_config_string();
    let new_config = Keyring::new(fresh_key("new")).to_config_string();
    let before = store_with(&url, &prefix, Sealer::new(Keyring::parse(&old_config)?)).await?;
    // More than one SCAN batch, and ids with glob characters and colons.
    let ids: Vec<TokenId> = (0..2500)
        .map(|n| TokenId::new(format!("c:{n}*[x]?")))
        .collect();
    for id in &ids {
        tokens(&before)
            .put(id, &token(id.as_str()), issued(), None)
            .await?;
    }
    let mut versions_before = tokens(&before).versions().await?;
    versions_before.sort();
    assert_eq!(versions_before.len(), ids.len());
    hset(
        &url,
        &format!("{prefix}:t:{}", ids[7].as_str()),
        "d",
        b"corrupt",
    )
    .await;

    // Rotate: a new current key, the old one kept to open with.
    let rotated = Keyring::parse(&format!("{},{}", new_config.as_str(), old_config.as_str()))?;
    assert_eq!(rotated.current_id(), "new");
    let during = store_with(&url, &prefix, Sealer::new(rotated)).await?;
    let report = during.reseal().await?;
    assert_eq!(
        (report.resealed, report.already_current, report.skipped),
        (2499, 0, 1),
        "{report:?}"
    );
    assert_eq!(report.changed_meanwhile, 0);
    let again = during.reseal().await?;
    assert_eq!(
        (again.resealed, again.already_current, again.skipped),
        (0, 2499, 1),
        "{again:?}"
    );

    // The old key removed: everything but the corrupt entry still loads, with
    // the versions it had (re-sealing is not a write of a new credential).
    let after = store_with(&url, &prefix, Sealer::new(Keyring::parse(&new_config)?)).await?;
    let skipped = after.skipped_on_load();
    let loaded = tokens(&after).load_all().await?;
    assert_eq!(loaded.len(), 2499);
    assert_eq!(after.skipped_on_load() - skipped, 1);
    for (id, stored) in &loaded {
        assert_eq!(stored.credential, token(id.as_str()));
    }
    let mut versions_after = tokens(&after).versions().await?;
    versions_after.sort();
    assert_eq!(versions_after, versions_before);
    // The store with only the old key no longer opens them.
    assert!(tokens(&before).get(&ids[0]).await.is_err());
    delete_prefix(&url, &prefix).await;
    Ok(())
}

#[tokio::test]
async fn reseal_never_overwrites_a_concurrent_write() -> TestResult {
    let url = redis_or_skip!("reseal_never_overwrites_a_concurrent_write");
    let prefix = unique_prefix("reseal-race");
    let store = store_with(&url, &prefix, fresh_sealer()).await?;
    let id = TokenId::new("a");
    let key = format!("{prefix}:t:a");
    let v1 = stored_version(&tokens(&store).put(&id, &token("1"), issued(), None).await?);
    // A renewal lands between the pass reading v1 and writing its re-sealed
    // value: the pass's write (the script itself, run as the pass runs it)
    // changes nothing.
    let v2 = stored_version(
        &tokens(&store)
            .put(&id, &token("2"), issued(), Some(v1))
            .await?,
    );
    let d_v2 = hget(&url, &key, "d").await;
    let script = redis::Script::new(include_str!("../src/renewal/redis_store/lua/reseal.lua"));
    let mut connection = raw_connection(&url).await?;
    let written: i64 = script
        .key(&key)
        .arg(v1.to_string())
        .arg(b"resealed-v1".as_slice())
        .invoke_async(&mut connection)
        .await?;
    assert_eq!(written, 0);
    assert_eq!(hget(&url, &key, "d").await, d_v2);
    // With the version unchanged it writes, and keeps the version.
    let written: i64 = script
        .key(&key)
        .arg(v2.to_string())
        .arg(b"resealed-v2".as_slice())
        .invoke_async(&mut connection)
        .await?;
    assert_eq!(written, 1);
    assert_eq!(
        hget(&url, &key, "d").await.as_deref(),
        Some(b"resealed-v2".as_slice())
    );
    assert_eq!(
        hget(&url, &key, "v").await,
        Some(v2.to_string().into_bytes())
    );
    // Deleted meanwhile: nothing is recreated.
    tokens(&store).delete(&id, None).await?;
    let written: i64 = script
        .key(&key)
        .arg(v2.to_string())
        .arg(b"resealed".as_slice())
        .invoke_async(&mut connection)
        .await?;
    assert_eq!(written, 0);
    assert_eq!(hget(&url, &key, "d").await, None);
    delete_prefix(&url, &prefix).await;
    Ok(())
}

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
        assert!(call.is_err(), "Redis is down: {call:?}");
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
