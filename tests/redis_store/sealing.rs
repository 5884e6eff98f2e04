//! What is in Redis (no token), values that do not open, and the re-seal pass.

use std::time::Duration;

use super::*;

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
    let script = redis::Script::new(include_str!("../../src/renewal/redis_store/lua/reseal.lua"));
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
