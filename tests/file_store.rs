//! `FileStore`: the `TokenStore` protocol in one sealed file — its semantics,
//! two stores (as two processes) on one path, a writer killed with SIGKILL
//! mid-write, the file's mode, no token in its bytes, and typed errors for a
//! wrong key, a corrupt file, a newer format and open permissions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
use storefront_token::chrono::{DateTime, TimeDelta, Utc};
use storefront_token::mock::SimulatedClock;
use storefront_token::renewal::{
    FileStore, FileStoreError, FileStoreErrorKind, LeaseOutcome, PutOutcome, ReplicaId, StoreError,
    StoredToken, TokenId, TokenStore,
};
use storefront_token::{AccessToken, CustomerAccessToken};

type Token = CustomerAccessToken;

const SENTINEL: &str = "SENTINEL-shpat-7f3c9a1e-never-on-disk";
const KEY_BYTES: [u8; 32] = [7; 32];
/// Selects the child-process writer loop (see `child_writer_loop`).
const CHILD_ENV: &str = "FILE_STORE_TEST_CHILD_FILE";

// What is on disk: the file's mode, no token in it, and typed errors for a
// wrong key, a corrupt or newer file and open permissions; re-sealing.
#[path = "file_store/on_disk.rs"]
mod on_disk;

fn key(id: &str, bytes: [u8; 32]) -> EncryptionKey {
    EncryptionKey::new(id, bytes).expect("valid key")
}

fn sealer() -> Sealer {
    Sealer::new(Keyring::new(key("k1", KEY_BYTES)))
}

fn token(secret: &str) -> Token {
    CustomerAccessToken::new(AccessToken::new(secret), at() + TimeDelta::days(30))
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("valid time")
}

fn secret(token: &StoredToken<Token>) -> &str {
    token.credential.access_token().expose_secret()
}

fn kind(error: &StoreError) -> FileStoreErrorKind {
    FileStoreError::of(error)
        .unwrap_or_else(|| panic!("a file store error: {error}"))
        .kind()
}

async fn get(store: &FileStore, id: &TokenId) -> Result<Option<StoredToken<Token>>, StoreError> {
    TokenStore::<Token>::get(store, id).await
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state").join("tokens");
    (dir, path)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn puts_are_compare_and_swap_and_versions_never_repeat() -> Result<(), StoreError> {
    let (_dir, path) = temp();
    let store = FileStore::new(&path, sealer());
    let id = TokenId::new("a");
    assert!(get(&store, &id).await?.is_none());
    assert!(!path.exists(), "a read creates nothing");
    assert_eq!(
        store.put(&id, &token("one"), at(), None).await?,
        PutOutcome::Stored { version: 1 }
    );
    assert_eq!(
        store.put(&id, &token("two"), at(), Some(1)).await?,
        PutOutcome::Stored { version: 2 }
    );
    let stale = store.put(&id, &token("three"), at(), Some(1)).await?;
    assert!(
        matches!(&stale, PutOutcome::Conflict { current } if current.version == 2 && secret(current) == "two"),
        "{stale:?}"
    );
    store.delete(&id, Some(1)).await?; // not the stored version: kept
    assert_eq!(get(&store, &id).await?.map(|t| t.version), Some(2));
    store.delete(&id, None).await?;
    assert_eq!(
        store.put(&id, &token("four"), at(), Some(2)).await?,
        PutOutcome::Missing
    );
    assert!(get(&store, &id).await?.is_none(), "never recreated");
    // A new login after the delete gets a version never given out before.
    assert_eq!(
        store.put(&id, &token("five"), at(), None).await?,
        PutOutcome::Stored { version: 3 }
    );
    let stored = get(&store, &id).await?.expect("stored");
    assert_eq!((secret(&stored), stored.issued_at), ("five", at()));
    // A second store on the file (another process) sees the same.
    let other = FileStore::new(&path, sealer());
    let all: Vec<(TokenId, StoredToken<Token>)> = other.load_all().await?;
    assert_eq!(all.len(), 1);
    assert_eq!(FileStore::versions(&other).await?, vec![(id, 3)]);
    Ok(())
}

/// Paused tokio time: the simulated clock moves only when told to.
#[tokio::test(start_paused = true)]
async fn one_lease_at_a_time_on_the_wall_clock() -> Result<(), StoreError> {
    let (_dir, path) = temp();
    let clock = SimulatedClock::new(at());
    let a_store = FileStore::new(&path, sealer()).with_clock(clock.clone());
    let b_store = FileStore::new(&path, sealer()).with_clock(clock.clone());
    let id = TokenId::new("a");
    let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
    let minute = Duration::from_secs(60);
    a_store.put(&id, &token("one"), at(), None).await?;
    let lease = |store: &FileStore, owner, version| {
        let (store, id) = (store.clone(), id.clone());
        async move { TokenStore::<Token>::try_lease(&store, &id, owner, minute, version).await }
    };
    assert_eq!(lease(&a_store, a, 1).await?, LeaseOutcome::Acquired);
    assert_eq!(
        lease(&b_store, b, 1).await?,
        LeaseOutcome::Held { remaining: minute }
    );
    clock.jump(TimeDelta::seconds(20));
    assert_eq!(
        lease(&a_store, a, 1).await?,
        LeaseOutcome::Acquired,
        "an owner's own lease is renewed"
    );
    assert_eq!(
        lease(&b_store, b, 1).await?,
        LeaseOutcome::Held { remaining: minute }
    );
    // A writes: the lease goes; B holding version 1 adopts version 2.
    a_store.put(&id, &token("two"), at(), Some(1)).await?;
    let changed = lease(&b_store, b, 1).await?;
    assert!(
        matches!(&changed, LeaseOutcome::Changed { current } if current.version == 2 && secret(current) == "two"),
        "{changed:?}"
    );
    assert_eq!(lease(&b_store, b, 2).await?, LeaseOutcome::Acquired);
    FileStore::release_lease(&a_store, &id, a, 2).await?; // not A's
    assert!(matches!(
        lease(&a_store, a, 2).await?,
        LeaseOutcome::Held { .. }
    ));
    FileStore::release_lease(&b_store, &id, b, 1).await?; // another version's
    assert!(matches!(
        lease(&a_store, a, 2).await?,
        LeaseOutcome::Held { .. }
    ));
    FileStore::release_lease(&b_store, &id, b, 2).await?;
    assert_eq!(lease(&a_store, a, 2).await?, LeaseOutcome::Acquired);
    // A dies: its lease lapses on the wall clock and B takes over.
    clock.jump(TimeDelta::seconds(59));
    assert!(
        matches!(lease(&b_store, b, 2).await?, LeaseOutcome::Held { remaining } if remaining == Duration::from_secs(1))
    );
    clock.jump(TimeDelta::seconds(2));
    assert_eq!(lease(&b_store, b, 2).await?, LeaseOutcome::Acquired);
    FileStore::delete(&a_store, &id, Some(2)).await?;
    assert_eq!(lease(&a_store, a, 2).await?, LeaseOutcome::Missing);
    Ok(())
}

/// Two stores on one path (two processes' worth: separate lock handles) each
/// make 200 compare-and-swap writes, retrying on conflict: every write lands on
/// the version the previous one produced, so none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_path_never_lose_a_write() -> Result<(), StoreError> {
    const WRITES: usize = 200;
    let (_dir, path) = temp();
    let id = TokenId::new("shared");
    FileStore::new(&path, sealer())
        .put(&id, &token("start"), at(), None)
        .await?;
    let writer = |name: &'static str| {
        let (store, id) = (FileStore::new(&path, sealer()), id.clone());
        tokio::spawn(async move {
            let mut writes = Vec::new(); // (expected, stored)
            let mut conflicts = 0;
            let mut expected = get(&store, &id).await?.expect("stored").version;
            while writes.len() < WRITES {
                let credential = token(&format!("{name}-{}", writes.len()));
                match store.put(&id, &credential, at(), Some(expected)).await? {
                    PutOutcome::Stored { version } => {
                        writes.push((expected, version));
                        expected = version;
                    }
                    PutOutcome::Conflict { current } => {
                        conflicts += 1;
                        expected = current.version;
                    }
                    other => panic!("{other:?}"),
                }
            }
            Ok::<_, StoreError>((writes, conflicts))
        })
    };
    let (a, b) = (writer("a"), writer("b"));
    let (a, a_conflicts) = a.await.expect("joins")?;
    let (b, b_conflicts) = b.await.expect("joins")?;
    let mut all: Vec<(u64, u64)> = a.iter().chain(&b).copied().collect();
    all.sort_by_key(|&(_, stored)| stored);
    assert_eq!(all.len(), 2 * WRITES);
    let mut previous = 1;
    for (expected, stored) in &all {
        assert_eq!(*expected, previous, "a write on a stale version landed");
        assert_eq!(*stored, previous + 1, "versions go up one by one");
        previous = *stored;
    }
    for own in [&a, &b] {
        assert!(
            own.windows(2).all(|w| w[0].1 < w[1].1),
            "strictly increasing"
        );
    }
    let last = get(&FileStore::new(&path, sealer()), &id)
        .await?
        .expect("stored");
    assert_eq!(last.version, 1 + 2 * WRITES as u64);
    let name = if a.last().map(|w| w.1) == Some(last.version) {
        "a"
    } else {
        "b"
    };
    assert_eq!(secret(&last), format!("{name}-{}", WRITES - 1));
    println!("conflicts retried: a {a_conflicts}, b {b_conflicts}");
    Ok(())
}

/// Not a test on its own: with `FILE_STORE_TEST_CHILD_FILE` set, writes
/// `child-<n>` at version n (a fresh file) forever, printing each version once
/// written. `a_writer_killed_mid_write_leaves_the_old_or_the_new_file` runs it.
#[tokio::test]
async fn child_writer_loop() -> Result<(), StoreError> {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return Ok(());
    };
    let store = FileStore::new(PathBuf::from(path), sealer());
    let id = TokenId::new("child");
    for n in 1.. {
        let outcome = store
            .put(&id, &token(&format!("child-{n}")), at(), None)
            .await?;
        assert_eq!(outcome, PutOutcome::Stored { version: n });
        println!("wrote {n}");
    }
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn a_writer_killed_mid_write_leaves_the_old_or_the_new_file() -> Result<(), StoreError> {
    use std::io::{BufRead, BufReader};
    let (rounds, mut torn_writes) = (20, 0);
    for round in 0..rounds {
        let (_dir, path) = temp();
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "child_writer_loop",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("piped");
        let kill_after = fastrand::u64(5..45);
        let mut announced = 0;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("reads");
            if let Some(n) = line.strip_prefix("wrote ") {
                announced = n.parse().expect("a number");
                if announced >= kill_after {
                    break;
                }
            }
        }
        // A random moment within the next write or two (not synchronisation: the
        // point is to land anywhere in it).
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..3000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        // Announcements written before the kill and not yet read.
        for line in lines {
            if let Some(n) = line.expect("reads").strip_prefix("wrote ") {
                announced = n.parse().expect("a number");
            }
        }
        let temp_file = path.with_file_name("tokens.tmp");
        torn_writes += u32::from(temp_file.exists());
        // The file opens and holds a whole write: the last announced or the next.
        let store = FileStore::new(&path, sealer());
        let stored = get(&store, &TokenId::new("child")).await?.expect("stored");
        assert!(
            stored.version == announced || stored.version == announced + 1,
            "round {round}: version {} after {announced} announced",
            stored.version
        );
        assert_eq!(secret(&stored), format!("child-{}", stored.version));
        // The lock is not stuck, and a leftover temporary file is dealt with.
        let (id, after) = (TokenId::new("child"), token("after"));
        let write = store.put(&id, &after, at(), None);
        let outcome = tokio::time::timeout(Duration::from_secs(10), write)
            .await
            .expect("the lock is free")?;
        assert_eq!(
            outcome,
            PutOutcome::Stored {
                version: stored.version + 1
            }
        );
        assert!(!temp_file.exists(), "the leftover is cleared");
    }
    // How often the kill fell inside a write (its temporary file left behind).
    println!("{torn_writes} of {rounds} kills interrupted a write");
    Ok(())
}

/// The engine on a FileStore: a renewal is written to the file, and an engine
/// started later on the same file (a restart) holds the renewed token.
#[tokio::test]
async fn the_engine_keeps_its_tokens_in_the_file_across_a_restart(
) -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::Arc;
    use storefront_token::mock::MockStorefront;
    use storefront_token::renewal::{RenewalEngine, StorefrontRenewer};
    use storefront_token::{Password, RetryPolicy, StorefrontClient};

    let shop = MockStorefront::builder()
        .demo_customer("ada@example.com", "pw", "Ada")
        .renew_rotates_token(true)
        .build()
        .await?;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .retry_policy(RetryPolicy::never())
        .build()?;
    let (_dir, path) = temp();
    let engine = |store: FileStore| {
        RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
            .store(Arc::new(store))
            .build()
    };
    let id = TokenId::new("customer-1");
    let first = engine(FileStore::new(&path, sealer())).start().await?;
    let login = client
        .create_token("ada@example.com", &Password::new("pw"))
        .await?;
    first.add(id.clone(), login, None).await?;
    shop.advance(Duration::from_secs(3600));
    let renewed = first.renew_now(&id).await?;
    first.shutdown().await;
    let stored = get(&FileStore::new(&path, sealer()), &id)
        .await?
        .expect("stored");
    assert_eq!(secret(&stored), renewed.access_token().expose_secret());
    assert_eq!(stored.version, 2, "the login, then the renewal");

    let second = engine(FileStore::new(&path, sealer())).start().await?;
    let held = second.status(&id).await.expect("loaded from the file");
    assert_eq!(
        held.credential().access_token().expose_secret(),
        renewed.access_token().expose_secret()
    );
    second.shutdown().await;
    assert_eq!(shop.requests(storefront_token::Operation::Renew), 1);
    Ok(())
}
