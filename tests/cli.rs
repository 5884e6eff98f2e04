//! Runs the `storefront-token` example CLI as a user would, against the mock
//! where a shop is needed: help names the environment, secrets typed as arguments
//! are refused without being echoed, flags win over the environment, bad shops
//! fail at once, the output suits redirection, and the saved session (login,
//! then whoami/renew/watch/logout without a token) is private, encrypted and
//! fails with what to do.

// The example's own unit tests (status line, durations) run with these.
#[allow(dead_code)]
#[path = "../examples/storefront-token/main.rs"]
mod example;

// The saved session: login, then the other commands without a token.
#[path = "cli/session.rs"]
mod session;

use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use storefront_token::mock::MockStorefront;
use tokio::process::Command;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// The example's binary, built once (a test target alone does not build it).
fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--example", "storefront-token"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the example builds");
        // target/<profile>/deps/cli-… → target/<profile>/examples/storefront-token
        let exe = std::env::current_exe().expect("test binary path");
        let profile = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>");
        profile
            .join("examples")
            .join(format!("storefront-token{}", std::env::consts::EXE_SUFFIX))
    })
}

/// The CLI with a clean environment: none of the user's STOREFRONT_* variables,
/// no colour forced either way, stdin closed, and a session file of its own
/// (never the user's; `--session-file` wins over it).
fn cli(args: &[&str]) -> Command {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let session = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!(
            "cli-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ))
        .join("session");
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_clear()
        .env("STOREFRONT_SESSION_FILE", session)
        .stdin(std::process::Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
}

async fn run(command: &mut Command) -> Output {
    command.output().await.expect("the cli runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn mock(lifetime: Option<Duration>) -> MockStorefront {
    let mut builder = MockStorefront::builder();
    if let Some(lifetime) = lifetime {
        builder = builder.token_lifetime(lifetime);
    }
    let shop = builder.build().await.expect("mock starts");
    shop.add_customer(EMAIL, PASSWORD, "Ada Lovelace");
    shop
}

#[tokio::test]
async fn help_of_each_command_names_the_environment_it_reads() {
    let common = [
        "STOREFRONT_SHOP",
        "STOREFRONT_ENDPOINT",
        "STOREFRONT_PUBLIC_TOKEN",
        "STOREFRONT_PRIVATE_TOKEN",
    ];
    for (command, own) in [
        ("login", "STOREFRONT_CUSTOMER_PASSWORD"),
        ("renew", "STOREFRONT_CUSTOMER_TOKEN"),
        ("whoami", "STOREFRONT_CUSTOMER_TOKEN"),
        ("logout", "STOREFRONT_CUSTOMER_TOKEN"),
        ("watch", "STOREFRONT_CUSTOMER_TOKEN"),
    ] {
        let output = run(&mut cli(&[command, "--help"])).await;
        assert!(output.status.success(), "{command} --help");
        let help = text(&output.stdout);
        for variable in common.iter().chain([&own]) {
            assert!(
                help.contains(variable),
                "{command} --help names {variable}:\n{help}"
            );
        }
    }
}

#[tokio::test]
async fn secrets_typed_as_arguments_are_refused_with_where_they_go_never_echoed() {
    let secret = "s3cret-value-42";
    for (args, goes_to) in [
        (vec!["whoami", secret], "STOREFRONT_CUSTOMER_TOKEN"),
        (
            vec!["renew", "--token", secret],
            "STOREFRONT_CUSTOMER_TOKEN",
        ),
        (vec!["logout", secret], "--token-stdin"),
        (
            vec!["login", "--email", EMAIL, "--password", secret],
            "STOREFRONT_CUSTOMER_PASSWORD",
        ),
        (
            vec!["login", "--email", EMAIL, "--password"],
            "STOREFRONT_CUSTOMER_PASSWORD",
        ),
        (
            vec!["whoami", "--public-token", secret, "--shop", "my-shop"],
            "STOREFRONT_PUBLIC_TOKEN",
        ),
    ] {
        let output = run(&mut cli(&args)).await;
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(goes_to), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("unexpected argument"),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{args:?} echoed the secret"
        );
    }
}

#[tokio::test]
async fn a_typed_shop_wins_over_the_endpoint_variable_and_a_bad_one_fails_at_once() {
    let started = Instant::now();
    let output = run(cli(&["login", "--shop", "-", "--email", EMAIL])
        .env(
            "STOREFRONT_ENDPOINT",
            "http://127.0.0.1:9/api/2026-04/graphql.json",
        )
        .env("STOREFRONT_PUBLIC_TOKEN", "public")
        .env("STOREFRONT_CUSTOMER_PASSWORD", PASSWORD))
    .await;
    let stderr = text(&output.stderr);
    // A configuration error (exit 2), not a conflict and not retried as a network
    // failure (exit 4 after ~5 s).
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid shop"), "{stderr}");
    assert!(!stderr.contains("cannot be used with"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(3), "no retries");
}

#[tokio::test]
async fn a_typed_endpoint_wins_over_the_shop_variable() {
    let shop = mock(None).await;
    let output = run(
        cli(&["login", "--endpoint", &shop.endpoint(), "--email", EMAIL])
            .env("STOREFRONT_SHOP", "-")
            .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
            .env("STOREFRONT_CUSTOMER_PASSWORD", PASSWORD),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("logged in"));

    // Both from the environment, neither typed: say which to choose.
    let output = run(cli(&["login", "--email", EMAIL])
        .env("STOREFRONT_SHOP", "my-shop")
        .env("STOREFRONT_ENDPOINT", shop.endpoint())
        .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
        .env("STOREFRONT_CUSTOMER_PASSWORD", PASSWORD))
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("both set"), "{stderr}");
    shop.shutdown().await;
}

#[tokio::test]
async fn an_api_version_that_disagrees_with_the_endpoint_is_refused() {
    let output = run(cli(&[
        "whoami",
        "--endpoint",
        "http://127.0.0.1:9/api/2026-04/graphql.json",
        "--api-version",
        "2025-01",
    ])
    .env("STOREFRONT_PUBLIC_TOKEN", "public")
    .env("STOREFRONT_CUSTOMER_TOKEN", "token"))
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("2026-04") && stderr.contains("2025-01"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_404_from_an_endpoint_of_another_form_shows_the_expected_form() {
    let shop = mock(None).await;
    let (token, _) = shop.issue_token(EMAIL).expect("token");
    let wrong = format!("http://{}/graphql", shop.addr());
    let output = run(cli(&["whoami", "--endpoint", &wrong])
        .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
        .env("STOREFRONT_CUSTOMER_TOKEN", &token))
    .await;
    let stderr = text(&output.stderr);
    assert!(stderr.contains("http 404"), "{stderr}");
    assert!(stderr.contains("/api/{version}/graphql.json"), "{stderr}");
    assert!(!stderr.contains(&token), "{stderr}");
    shop.shutdown().await;
}

#[tokio::test]
async fn logout_of_an_already_revoked_token_succeeds_and_says_so() {
    let shop = mock(None).await;
    let (token, _) = shop.issue_token(EMAIL).expect("token");
    let logout = || {
        let mut command = cli(&["logout", "--endpoint", &shop.endpoint()]);
        command
            .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
            .env("STOREFRONT_CUSTOMER_TOKEN", &token);
        command
    };
    let first = run(&mut logout()).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).starts_with("logged out"));
    let again = run(&mut logout()).await;
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("already logged out"),
        "{}",
        text(&again.stdout)
    );
    shop.shutdown().await;
}

#[tokio::test]
async fn short_lifetimes_print_a_human_duration() {
    let shop = mock(Some(Duration::from_secs(90))).await;
    let output = run(
        cli(&["login", "--endpoint", &shop.endpoint(), "--email", EMAIL])
            .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
            .env("STOREFRONT_CUSTOMER_PASSWORD", PASSWORD),
    )
    .await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!stdout.contains("days left"), "{stdout}");
    assert!(
        stdout.contains("1m 29s left") || stdout.contains("1m 30s left"),
        "{stdout}"
    );
    shop.shutdown().await;
}

#[tokio::test]
async fn redirected_stderr_carries_no_colour_codes() {
    let shop = mock(None).await;
    let wrong = format!("http://{}/graphql", shop.addr());
    for no_color in [None, Some("1")] {
        let mut command = cli(&["whoami", "--endpoint", &wrong]);
        command
            .env("RUST_LOG", "debug")
            .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
            .env("STOREFRONT_CUSTOMER_TOKEN", "token");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = run(&mut command).await;
        let stderr = text(&output.stderr);
        assert!(stderr.contains("DEBUG"), "logs were written: {stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "ANSI codes in a pipe: {stderr:?}"
        );
    }
    shop.shutdown().await;
}
