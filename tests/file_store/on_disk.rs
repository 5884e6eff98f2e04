//! What a `FileStore` leaves on disk and how it fails: mode 0600 and no token
//! in the bytes, a file open to others refused, typed errors for a wrong or
//! unknown key, a corrupt file and a newer format (never a panic, never
//! overwritten), and a re-seal pass after key rotation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use storefront_token::at_rest::{Keyring, Sealer};
use storefront_token::mock::SimulatedClock;
use storefront_token::renewal::{
    FileStore, FileStoreErrorKind, LeaseOutcome, ReplicaId, StoreError, StoredToken, TokenId,
    TokenStore,
};

#[cfg(unix)]
use super::mode;
use super::{at, get, key, kind, sealer, secret, temp, token, Token, KEY_BYTES, SENTINEL};

#[cfg(unix)]
#[tokio::test]
async fn the_file_is_private_and_holds_no_token() -> Result<(), StoreError> {
    let (dir, path) = temp();
    let store = FileStore::new(&path, sealer());
    let id = TokenId::new("customer-1");
    store.put(&id, &token(SENTINEL), at(), None).await?;
    TokenStore::<Token>::try_lease(&store, &id, ReplicaId::new(1), Duration::from_secs(9), 1)
        .await?;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&path.with_file_name("tokens.lock")), 0o600);
    assert_eq!(
        mode(path.parent().expect("dir")),
        0o700,
        "a created directory"
    );
    let mut seen = 0;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("reads");
        assert!(
            !bytes
                .windows(SENTINEL.len())
                .any(|w| w == SENTINEL.as_bytes()),
            "the token is in {}",
            entry.display()
        );
        seen += 1;
    }
    assert!(seen >= 2, "the file and its lock file were searched");
    let text = std::fs::read_to_string(&path).expect("text");
    assert!(
        text.starts_with("storefront-token store v1 sha256="),
        "{text}"
    );
    assert!(text.contains("\"customer-1\""), "ids are plaintext");
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("lists").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_open_to_others_is_refused_not_used() -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp();
    let store = FileStore::new(&path, sealer());
    let id = TokenId::new("a");
    store.put(&id, &token("one"), at(), None).await?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let error = get(&store, &id).await.expect_err("refused");
    assert_eq!(kind(&error), FileStoreErrorKind::Permissions);
    let message = storefront_token::ErrorReport::new(&error).to_string();
    assert!(
        message.contains("0644") && message.contains("chmod 600"),
        "{message}"
    );
    let write = store.put(&id, &token("two"), at(), None).await;
    assert_eq!(
        kind(&write.expect_err("refused")),
        FileStoreErrorKind::Permissions
    );
    assert_eq!(mode(&path), 0o644, "left for the user to decide");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(get(&store, &id).await?.map(|t| t.version), Some(1));
    Ok(())
}

#[tokio::test]
async fn a_wrong_key_is_a_typed_error_and_an_unknown_one_too() -> Result<(), StoreError> {
    let (_dir, path) = temp();
    let id = TokenId::new("a");
    FileStore::new(&path, sealer())
        .put(&id, &token(SENTINEL), at(), None)
        .await?;
    let wrong = FileStore::new(&path, Sealer::new(Keyring::new(key("k1", [8; 32]))));
    let error = get(&wrong, &id).await.expect_err("does not open");
    assert_eq!(kind(&error), FileStoreErrorKind::WrongKey);
    let all: Result<Vec<(TokenId, StoredToken<Token>)>, _> = wrong.load_all().await;
    assert_eq!(
        kind(&all.expect_err("does not open")),
        FileStoreErrorKind::WrongKey
    );
    let message = storefront_token::ErrorReport::new(&error).to_string();
    assert!(message.contains("wrong key"), "{message}");
    assert!(!message.contains(SENTINEL), "{message}");
    // Versions need no key.
    assert_eq!(FileStore::versions(&wrong).await?, vec![(id.clone(), 1)]);
    let unknown = FileStore::new(&path, Sealer::new(Keyring::new(key("k2", KEY_BYTES))));
    let error = get(&unknown, &id).await.expect_err("unknown key");
    assert_eq!(kind(&error), FileStoreErrorKind::UnknownKey);
    Ok(())
}

#[tokio::test]
async fn a_corrupt_file_is_a_typed_error_never_a_panic_nor_overwritten() -> Result<(), StoreError> {
    let (_dir, path) = temp();
    let store = FileStore::new(&path, sealer());
    let id = TokenId::new("a");
    store.put(&id, &token(SENTINEL), at(), None).await?;
    let good = std::fs::read(&path).expect("reads");
    let mut damaged: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        (
            "garbage".into(),
            b"\x00\xffnot a token file at all\n{}".to_vec(),
        ),
        (
            "json only".into(),
            br#"{"last_version":1,"tokens":{}}"#.to_vec(),
        ),
    ];
    for cut in [1, good.len() / 3, good.len() - 1] {
        damaged.push((format!("truncated to {cut}"), good[..cut].to_vec()));
    }
    for at in (0..good.len()).step_by(7) {
        let mut flipped = good.clone();
        flipped[at] ^= 0x20;
        damaged.push((format!("byte {at} flipped"), flipped));
    }
    for (what, bytes) in damaged {
        std::fs::write(&path, &bytes).expect("writes");
        let error = get(&store, &id).await.expect_err(&what);
        assert_eq!(kind(&error), FileStoreErrorKind::Corrupt, "{what}: {error}");
        let message = storefront_token::ErrorReport::new(&error).to_string();
        assert!(message.contains("corrupt"), "{what}: {message}");
        let write = store
            .put(
                &id,
                &token("new"),
                storefront_token::chrono::Utc::now(),
                None,
            )
            .await;
        assert_eq!(kind(&write.expect_err(&what)), FileStoreErrorKind::Corrupt);
        assert_eq!(
            std::fs::read(&path).expect("reads"),
            bytes,
            "{what}: overwritten"
        );
    }
    // A file from a newer version: named as such, and left alone.
    let newer = String::from_utf8(good.clone())
        .expect("utf-8")
        .replacen(" v1 ", " v2 ", 1);
    std::fs::write(&path, &newer).expect("writes");
    let error = get(&store, &id).await.expect_err("newer");
    assert_eq!(kind(&error), FileStoreErrorKind::NewerFormat);
    let write = store.put(&id, &token("new"), at(), None).await;
    assert_eq!(
        kind(&write.expect_err("newer")),
        FileStoreErrorKind::NewerFormat
    );
    assert_eq!(std::fs::read_to_string(&path).expect("reads"), newer);
    std::fs::write(&path, &good).expect("writes");
    assert_eq!(get(&store, &id).await?.map(|t| t.version), Some(1));
    Ok(())
}

#[tokio::test]
async fn reseal_moves_every_token_to_the_current_key() -> Result<(), StoreError> {
    let (_dir, path) = temp();
    let old = FileStore::new(&path, sealer());
    for n in 0..3 {
        old.put(
            &TokenId::new(format!("t{n}")),
            &token(&format!("s{n}")),
            at(),
            None,
        )
        .await?;
    }
    let clock = SimulatedClock::new(at());
    let rotated = Sealer::new(Keyring::new(key("k2", [9; 32])).with_previous(key("k1", KEY_BYTES)));
    let both = FileStore::new(&path, rotated).with_clock(clock);
    TokenStore::<Token>::try_lease(
        &both,
        &TokenId::new("t0"),
        ReplicaId::new(5),
        Duration::from_secs(60),
        1,
    )
    .await?;
    // A token written after the rotation is already sealed with the new key.
    both.put(&TokenId::new("t3"), &token("s3"), at(), None)
        .await?;
    assert_eq!(both.reseal().await?, 3);
    assert_eq!(both.reseal().await?, 0, "nothing left to re-seal");
    let only_new = FileStore::new(&path, Sealer::new(Keyring::new(key("k2", [9; 32]))));
    let mut all: Vec<(TokenId, StoredToken<Token>)> = only_new.load_all().await?;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let seen: Vec<(String, String, u64)> = all
        .iter()
        .map(|(id, t)| (id.to_string(), secret(t).to_owned(), t.version))
        .collect();
    assert_eq!(
        seen,
        [
            ("t0", "s0", 1),
            ("t1", "s1", 2),
            ("t2", "s2", 3),
            ("t3", "s3", 4)
        ]
        .map(|(i, s, v)| (i.to_owned(), s.to_owned(), v))
    );
    // Versions and leases survive the re-seal.
    let t0 = TokenId::new("t0");
    let held = TokenStore::<Token>::try_lease(
        &only_new,
        &t0,
        ReplicaId::new(6),
        Duration::from_secs(60),
        1,
    );
    assert!(matches!(held.await?, LeaseOutcome::Held { .. }));
    let error = get(&old, &TokenId::new("t1"))
        .await
        .expect_err("the old key alone");
    assert_eq!(kind(&error), FileStoreErrorKind::UnknownKey);
    Ok(())
}
