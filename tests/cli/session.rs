//! The CLI's saved session, end to end against the mock: `login` saves it,
//! `whoami`, `renew`, `watch` and `logout` use it without a token, its files are
//! private and never hold a token or the password in clear, and a wrong key, a
//! corrupt file or another shop fail with what to do.

use std::path::{Path, PathBuf};
use std::process::Output;

use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
use storefront_token::mock::MockStorefront;
use storefront_token::renewal::{FileStore, StoredToken, TokenId, TokenStore};
use storefront_token::{CustomerAccessToken, Operation};
use tokio::process::Command;

use super::{cli, run, text, EMAIL};

/// The password: never in a file, never printed.
const SENTINEL_PASSWORD: &str = "SENTINEL-pw-4f1d2c-never-printed";

struct Setup {
    shop: MockStorefront,
    _dir: tempfile::TempDir,
    session: PathBuf,
    /// Everything the CLI printed, searched for secrets at the end.
    printed: String,
}

impl Setup {
    async fn new() -> Self {
        let shop = MockStorefront::builder()
            .renew_rotates_token(true)
            .build()
            .await
            .expect("mock starts");
        shop.add_customer(EMAIL, SENTINEL_PASSWORD, "Ada Lovelace");
        let dir = tempfile::tempdir().expect("tempdir");
        let session = dir.path().join("state").join("session");
        Setup {
            shop,
            _dir: dir,
            session,
            printed: String::new(),
        }
    }

    /// The CLI on this session, with the storefront token from the environment.
    fn command(&self, args: &[&str]) -> Command {
        let session = self.session.to_str().expect("utf-8 path");
        let mut all = args.to_vec();
        all.extend(["--session-file", session]);
        let mut command = cli(&all);
        command.env("STOREFRONT_PUBLIC_TOKEN", self.shop.public_token());
        command
    }

    async fn run(&mut self, command: &mut Command) -> Output {
        let output = run(command).await;
        self.printed.push_str(&text(&output.stdout));
        self.printed.push_str(&text(&output.stderr));
        output
    }

    async fn login(&mut self) -> Output {
        let endpoint = self.shop.endpoint();
        let mut command = self.command(&["login", "--endpoint", &endpoint, "--email", EMAIL]);
        command.env("STOREFRONT_CUSTOMER_PASSWORD", SENTINEL_PASSWORD);
        let output = self.run(&mut command).await;
        assert!(output.status.success(), "{}", text(&output.stderr));
        output
    }

    fn key_file(&self) -> PathBuf {
        self.session.with_file_name("session.key")
    }

    /// What the session holds, opened as the crate documents it: a FileStore
    /// sealed with the key file's keys, the endpoint as the id.
    async fn saved(&self) -> Vec<(TokenId, StoredToken<CustomerAccessToken>)> {
        let keys = std::fs::read_to_string(self.key_file()).expect("key file");
        let keys = Keyring::parse(&keys).expect("a key");
        FileStore::new(&self.session, Sealer::new(keys))
            .load_all()
            .await
            .expect("opens")
    }

    async fn saved_token(&self) -> (String, u64) {
        let saved = self.saved().await;
        assert_eq!(saved.len(), 1, "one session");
        let (id, stored) = &saved[0];
        assert_eq!(id.as_str(), self.shop.endpoint(), "saved for its shop");
        let token = stored.credential.access_token().expose_secret().to_owned();
        (token, stored.version)
    }

    /// No file and no output holds a secret.
    fn assert_no_secret_anywhere(&self, tokens: &[String]) {
        let mut files = vec![self.session.clone(), self.key_file()];
        files.push(self.session.with_file_name("session.lock"));
        for secret in tokens.iter().map(String::as_str).chain([SENTINEL_PASSWORD]) {
            assert!(!self.printed.contains(secret), "printed a secret");
            for file in files.iter().filter(|f| f.exists()) {
                let bytes = std::fs::read(file).expect("reads");
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "a secret in {}", file.display());
            }
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn login_saves_a_session_that_whoami_renew_and_logout_use_without_a_token() {
    let mut setup = Setup::new().await;
    let login = setup.login().await;
    assert!(
        text(&login.stdout).contains("session saved in"),
        "{}",
        text(&login.stdout)
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&setup.session), 0o600, "the session file");
        assert_eq!(mode(&setup.key_file()), 0o600, "the key file");
    }
    let (first, first_version) = setup.saved_token().await;
    assert!(
        setup.shop.token_expires_at(&first).is_some(),
        "the live token is saved"
    );

    // No --endpoint, no token: both come from the session.
    let whoami = setup.run(&mut setup.command(&["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    assert!(text(&whoami.stdout).contains("Ada Lovelace"));
    assert_eq!(setup.shop.requests(Operation::Customer), 1);

    // The shop rotates tokens: renew must save the new one.
    let renew = setup.run(&mut setup.command(&["renew"])).await;
    assert!(renew.status.success(), "{}", text(&renew.stderr));
    let (second, second_version) = setup.saved_token().await;
    assert_ne!(first, second, "the renewed token is saved");
    assert!(second_version > first_version);
    assert_eq!(setup.shop.requests(Operation::Renew), 1);
    let whoami = setup.run(&mut setup.command(&["whoami"])).await;
    assert!(
        whoami.status.success(),
        "the renewed token works: {}",
        text(&whoami.stderr)
    );

    let logout = setup.run(&mut setup.command(&["logout"])).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    let stdout = text(&logout.stdout);
    assert!(
        stdout.contains("logged out") && stdout.contains("session deleted"),
        "{stdout}"
    );
    assert!(
        setup.shop.token_expires_at(&second).is_none(),
        "revoked at the shop"
    );
    assert!(setup.saved().await.is_empty(), "the session is gone");

    let after = setup.run(&mut setup.command(&["whoami"])).await;
    let stderr = text(&after.stderr);
    assert_eq!(after.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no saved session") && stderr.contains("log in first"),
        "{stderr}"
    );
    setup.assert_no_secret_anywhere(&[first, second]);
}

#[tokio::test]
async fn an_explicit_token_wins_over_the_session_and_leaves_it_alone() {
    let mut setup = Setup::new().await;
    setup.login().await;
    let (saved, version) = setup.saved_token().await;
    let (other, _) = setup.shop.issue_token(EMAIL).expect("a token");
    let endpoint = setup.shop.endpoint();
    let mut logout = setup.command(&["logout", "--endpoint", &endpoint]);
    logout.env("STOREFRONT_CUSTOMER_TOKEN", &other);
    let output = setup.run(&mut logout).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stdout).contains("session deleted"));
    assert!(
        setup.shop.token_expires_at(&other).is_none(),
        "the given token is revoked"
    );
    assert!(
        setup.shop.token_expires_at(&saved).is_some(),
        "the session's is not"
    );
    assert_eq!(
        setup.saved_token().await,
        (saved.clone(), version),
        "untouched"
    );
    setup.assert_no_secret_anywhere(&[saved]);
}

#[tokio::test]
async fn a_session_for_another_shop_is_refused() {
    let mut setup = Setup::new().await;
    setup.login().await;
    let elsewhere = MockStorefront::builder()
        .build()
        .await
        .expect("mock starts");
    let endpoint = elsewhere.endpoint();
    let output = setup
        .run(&mut setup.command(&["whoami", "--endpoint", &endpoint]))
        .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("saved session is for"), "{stderr}");
    assert!(
        stderr.contains(&setup.shop.endpoint()) && stderr.contains(&endpoint),
        "{stderr}"
    );
    assert_eq!(
        elsewhere.total_requests(),
        0,
        "nothing sent to the other shop"
    );
}

#[tokio::test]
async fn a_wrong_key_or_a_corrupt_session_says_what_to_do() {
    let mut setup = Setup::new().await;
    setup.login().await;
    let (token, _) = setup.saved_token().await;
    let other_key = || {
        Keyring::new(EncryptionKey::generate("cli").expect("a key"))
            .to_config_string()
            .to_string()
    };

    // Another key in the environment: it wins over the key file, and fails.
    let mut command = setup.command(&["whoami"]);
    command.env("STOREFRONT_TOKEN_KEYS", other_key());
    let output = setup.run(&mut command).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "log in again: {stderr}");
    assert!(
        stderr.contains("does not open with the key in STOREFRONT_TOKEN_KEYS"),
        "{stderr}"
    );
    assert!(stderr.contains("log in again"), "{stderr}");

    // Another key file: the same, naming the file.
    std::fs::write(setup.key_file(), other_key()).expect("writes");
    let output = setup.run(&mut setup.command(&["renew"])).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("does not open with the key file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(setup.shop.requests(Operation::Renew), 0, "nothing sent");

    // Logging in again replaces the session under the key there is now.
    setup.login().await;
    let whoami = setup.run(&mut setup.command(&["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    let (replaced, _) = setup.saved_token().await;

    // A corrupt file: delete it and log in again, with the path to delete.
    let bytes = std::fs::read(&setup.session).expect("reads");
    std::fs::write(&setup.session, &bytes[..bytes.len() / 2]).expect("truncates");
    let output = setup.run(&mut setup.command(&["whoami"])).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is corrupt") && stderr.contains("delete it"),
        "{stderr}"
    );
    assert!(
        stderr.contains(setup.session.to_str().expect("utf-8")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    setup.assert_no_secret_anywhere(&[token, replaced]);
}

#[cfg(unix)]
#[tokio::test]
async fn watch_saves_each_renewed_token_in_the_session() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut setup = Setup::new().await;
    setup.login().await;
    let (first, version) = setup.saved_token().await;
    let mut child = setup
        .command(&["watch", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first_line = lines.next_line().await.expect("reads").expect("a line");
    assert!(first_line.contains("\"watching\""), "{first_line}");
    // Watch renews once at start (the shop rotates): the session has the new one.
    let (renewed, renewed_version) = setup.saved_token().await;
    assert_ne!(renewed, first);
    assert!(renewed_version > version);
    assert!(setup.shop.token_expires_at(&renewed).is_some());
    let pid = child.id().expect("running").to_string();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let output = child.wait_with_output().await.expect("exits");
    assert!(output.status.success(), "ctrl-c exits 0");
    setup.printed.push_str(&first_line);
    setup.printed.push_str(&text(&output.stdout));
    setup.printed.push_str(&text(&output.stderr));
    setup.assert_no_secret_anywhere(&[first, renewed]);
}

#[tokio::test]
async fn help_says_where_the_session_and_its_key_live() {
    for command in ["login", "whoami", "renew", "logout", "watch"] {
        let output = run(&mut cli(&[command, "--help"])).await;
        let help = text(&output.stdout);
        for needle in [
            "--session-file",
            "STOREFRONT_SESSION_FILE",
            "STOREFRONT_TOKEN_KEYS",
            "<session file>.key",
            "first use",
            "0600",
        ] {
            assert!(
                help.contains(needle),
                "{command} --help names {needle}:\n{help}"
            );
        }
    }
}

/// The README's main job keeps working and writes nothing to the state
/// directory (here a fresh HOME and XDG_STATE_HOME).
#[tokio::test]
async fn the_demo_keeps_no_session() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = run(cli(&["demo"])
        .env_remove("STOREFRONT_SESSION_FILE")
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("XDG_DATA_HOME", home.path().join("data")))
    .await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains("renewing the revoked token fails as it should"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("auto-renew: stopped the keeper and logged out"),
        "{stdout}"
    );
    let written: Vec<_> = std::fs::read_dir(home.path()).expect("lists").collect();
    assert!(written.is_empty(), "the demo wrote {written:?}");
}

/// Without `--session-file` or `STOREFRONT_SESSION_FILE`, the session lives in
/// the state directory (`$XDG_STATE_HOME` on Linux), in a private directory.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_default_session_lives_in_the_state_directory() {
    let setup = Setup::new().await;
    let home = tempfile::tempdir().expect("tempdir");
    let state = home.path().join("state");
    let endpoint = setup.shop.endpoint();
    let with_home = |args: &[&str]| {
        let mut command = cli(args);
        command
            .env_remove("STOREFRONT_SESSION_FILE")
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", &state)
            .env("STOREFRONT_PUBLIC_TOKEN", setup.shop.public_token())
            .env("STOREFRONT_CUSTOMER_PASSWORD", SENTINEL_PASSWORD);
        command
    };
    let login = run(&mut with_home(&[
        "login",
        "--endpoint",
        &endpoint,
        "--email",
        EMAIL,
    ]))
    .await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let session = state.join("storefront-token").join("session");
    assert!(text(&login.stdout).contains(session.to_str().expect("utf-8")));
    assert_eq!(mode(&session), 0o600);
    assert_eq!(mode(&session.with_file_name("session.key")), 0o600);
    assert_eq!(mode(session.parent().expect("dir")), 0o700);
    let whoami = run(&mut with_home(&["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
}
