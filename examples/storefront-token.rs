//! `storefront-token`: an example CLI over the crate.
//!
//! ```text
//! cargo run --example storefront-token -- demo
//! cargo run --example storefront-token -- mock --port 4000 --token-lifetime 30
//! STOREFRONT_SHOP=my-shop STOREFRONT_PUBLIC_TOKEN=... \
//!   cargo run --example storefront-token -- login --email ada@example.com
//! STOREFRONT_SHOP=my-shop STOREFRONT_PUBLIC_TOKEN=... STOREFRONT_CUSTOMER_TOKEN=... \
//!   cargo run --example storefront-token -- watch
//! ```
//!
//! Secrets are never taken as arguments: the storefront token, the customer's
//! token and password come from the environment, stdin or a no-echo prompt (a
//! secret typed as an argument is refused with where it goes instead, and never
//! echoed). A flag wins over its environment variable. Colour only on a terminal,
//! and never with `NO_COLOR` set.
//! Exit codes: 0 ok, 2 usage or configuration, 3 token rejected or expired (log in
//! again), 4 transient failure that outlasted retries, 1 anything else.

use std::error::Error as StdError;
use std::io::Write;
use std::io::{BufRead, IsTerminal};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Local, TimeDelta, Utc};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::json;
use storefront_token::mock::MockStorefront;
use storefront_token::renewal::{
    EventError, EventReceiver, RenewalEngine, RenewalError, RenewalErrorKind, RenewalEvent,
    RenewalPolicy, StorefrontRenewer, TokenKeeper, TokenState,
};
use storefront_token::{
    AccessToken, CustomerAccessToken, ErrorReport, Password, PrivateToken, RetryPolicy,
    StorefrontClient, StorefrontClientBuilder,
};

const EXIT_FAILURE: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_LOG_IN_AGAIN: u8 = 3;
const EXIT_TRANSIENT: u8 = 4;

/// Demo customer of the embedded mock.
const DEMO_EMAIL: &str = "ada@example.com";
const DEMO_PASSWORD: &str = "correct horse battery staple";
const DEMO_NAME: &str = "Ada Lovelace";
/// How far the demo moves the mock's clock before renewing, so the new expiry
/// visibly moves.
const DEMO_CLOCK_JUMP: Duration = Duration::from_secs(30 * 24 * 3600);
/// Token lifetime of the demo's auto-renew segment: short, so renewals are seen
/// within seconds.
const DEMO_SHORT_LIFETIME: Duration = Duration::from_secs(6);
/// Renewals the auto-renew segment waits for.
const DEMO_RENEWALS: u32 = 2;
/// A safety net: the auto-renew segment fails if its renewals take longer than
/// this (they take about 8 s).
const DEMO_RENEWALS_TIMEOUT: Duration = Duration::from_secs(20);
/// How often `watch` redraws its status line.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// Erases the terminal line the cursor is on and returns to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// The environment every command that talks to a shop reads, for `--help`.
macro_rules! connection_env {
    () => {
        "  STOREFRONT_SHOP               shop name or domain (--shop wins over it)\n\
           \x20 STOREFRONT_ENDPOINT           full GraphQL endpoint URL (--endpoint wins over it)\n\
           \x20 STOREFRONT_API_VERSION        API version (--api-version wins over it)\n\
           \x20 STOREFRONT_PUBLIC_TOKEN       public storefront access token, or\n\
           \x20 STOREFRONT_PRIVATE_TOKEN      private storefront access token (server side)\n\n\
         Secrets are never arguments: they come from these variables, stdin or a\n\
         no-echo prompt."
    };
}
const LOGIN_ENV: &str = concat!(
    "Environment:\n  STOREFRONT_CUSTOMER_PASSWORD  the customer's password (else a no-echo prompt)\n",
    connection_env!()
);
const TOKEN_ENV: &str = concat!(
    "Environment:\n  STOREFRONT_CUSTOMER_TOKEN     the customer access token (or pipe it to --token-stdin)\n",
    connection_env!()
);

#[derive(Parser)]
#[command(
    name = "storefront-token",
    version,
    about = "Keep Shopify Storefront customer access tokens alive"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in, renew, check and log out against an embedded mock Storefront.
    Demo,
    /// Log a customer in (password from STOREFRONT_CUSTOMER_PASSWORD or a prompt).
    #[command(after_help = LOGIN_ENV)]
    Login {
        /// The customer's email.
        #[arg(long)]
        email: String,
        /// Not accepted: a password on the command line ends up in shell history.
        #[arg(long, hide = true, num_args = 0..=1, allow_hyphen_values = true)]
        password: Option<Option<String>>,
        /// Print the new token itself (it is secret).
        #[arg(long)]
        show_token: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Renew a customer token.
    #[command(after_help = TOKEN_ENV)]
    Renew {
        #[command(flatten)]
        token: TokenSource,
        /// Print the renewed token itself (it is secret).
        #[arg(long)]
        show_token: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Revoke a customer token (exits 0 if it was already revoked or expired).
    #[command(after_help = TOKEN_ENV)]
    Logout {
        #[command(flatten)]
        token: TokenSource,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show the customer a token belongs to.
    #[command(after_help = TOKEN_ENV)]
    Whoami {
        #[command(flatten)]
        token: TokenSource,
        #[command(flatten)]
        connection: Connection,
    },
    /// Keep a customer token alive, renewing it ahead of expiry, until Ctrl-C.
    ///
    /// The token comes from STOREFRONT_CUSTOMER_TOKEN or stdin (--token-stdin).
    /// The Storefront API has no query for a token's expiry, so watch renews the
    /// token once at start to learn it (this also checks the token: a dead one
    /// exits with 3 at once), then renews it at 55-70% of each lifetime, retrying
    /// transient failures until it expires. On a terminal it shows a live status
    /// line; with --json it prints one JSON object per renewal event.
    ///
    /// If the shop rotates tokens on renewal, only the newest token stays valid:
    /// use --show-token to see each one. Exits 0 on Ctrl-C, 3 when the token
    /// expires or is rejected (log in again).
    #[command(after_help = TOKEN_ENV)]
    Watch {
        #[command(flatten)]
        token: TokenSource,
        /// Print each renewed token itself (it is secret).
        #[arg(long)]
        show_token: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Run the mock Storefront on loopback until interrupted.
    Mock {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Lifetime of the mock's customer tokens in seconds (default 42 days);
        /// a short one (30, say) lets `watch` be seen renewing. `watch` keeps the
        /// default policy (10 s between attempts): a few seconds are too short.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        token_lifetime: Option<u64>,
    },
}

/// Where to send requests. Storefront tokens come from STOREFRONT_PUBLIC_TOKEN or
/// STOREFRONT_PRIVATE_TOKEN, never from arguments.
#[derive(Args)]
struct Connection {
    /// Shop name or domain, such as `my-shop` or `my-shop.myshopify.com`.
    #[arg(long, env = "STOREFRONT_SHOP")]
    shop: Option<String>,
    /// Full GraphQL endpoint URL, `https://{domain}/api/{version}/graphql.json`
    /// (http only on loopback).
    #[arg(long, env = "STOREFRONT_ENDPOINT")]
    endpoint: Option<String>,
    /// Storefront API version [default: 2026-04]. With an endpoint that names
    /// another version in its path, the command refuses (exit 2).
    #[arg(long, env = "STOREFRONT_API_VERSION")]
    api_version: Option<String>,
    /// The buyer's IP, sent with a private token.
    #[arg(long)]
    buyer_ip: Option<IpAddr>,
    /// Not accepted: storefront tokens come from the environment.
    #[arg(long, hide = true, num_args = 0..=1, allow_hyphen_values = true)]
    public_token: Option<Option<String>>,
    /// Not accepted: storefront tokens come from the environment.
    #[arg(long, hide = true, num_args = 0..=1, allow_hyphen_values = true)]
    private_token: Option<Option<String>>,
    /// Which of `--shop` and `--endpoint` were typed (rather than read from the
    /// environment): filled in after parsing.
    #[arg(skip)]
    typed: Typed,
}

/// Which connection flags were typed on the command line.
#[derive(Default, Clone, Copy)]
struct Typed {
    shop: bool,
    endpoint: bool,
}

/// The customer token comes from STOREFRONT_CUSTOMER_TOKEN, or stdin with
/// `--token-stdin`.
#[derive(Args)]
struct TokenSource {
    /// Read the customer token from the first line of stdin (instead of
    /// STOREFRONT_CUSTOMER_TOKEN).
    #[arg(long)]
    token_stdin: bool,
    /// Not accepted: a token on the command line ends up in shell history.
    #[arg(hide = true, allow_hyphen_values = true)]
    token_argument: Option<String>,
    /// Not accepted: a token on the command line ends up in shell history.
    #[arg(long = "token", hide = true, num_args = 0..=1, allow_hyphen_values = true)]
    token_flag: Option<Option<String>>,
}

impl Command {
    fn connection_mut(&mut self) -> Option<&mut Connection> {
        match self {
            Command::Login { connection, .. }
            | Command::Renew { connection, .. }
            | Command::Logout { connection, .. }
            | Command::Whoami { connection, .. }
            | Command::Watch { connection, .. } => Some(connection),
            Command::Demo | Command::Mock { .. } => None,
        }
    }
}

/// A failure the CLI reports: a message, its exit code, and the error chain.
struct Failure {
    code: u8,
    error: Box<dyn StdError>,
}

impl From<storefront_token::Error> for Failure {
    fn from(error: storefront_token::Error) -> Self {
        let code = if error.must_log_in_again() {
            EXIT_LOG_IN_AGAIN
        } else if error.is_transient() {
            EXIT_TRANSIENT
        } else if error.is_config() {
            EXIT_USAGE
        } else {
            EXIT_FAILURE
        };
        Failure {
            code,
            error: Box::new(error),
        }
    }
}

/// A renewal-engine error: log in again (3), a failure that may pass (4), or
/// anything else (1).
fn renewal_failure(error: RenewalError) -> Failure {
    let code = if error.must_log_in_again() {
        EXIT_LOG_IN_AGAIN
    } else if error.kind() == RenewalErrorKind::Failed {
        EXIT_TRANSIENT
    } else {
        EXIT_FAILURE
    };
    Failure {
        code,
        error: Box::new(error),
    }
}

fn usage(message: &str) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: message.into(),
    }
}

fn failure(error: impl Into<Box<dyn StdError>>) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        error: error.into(),
    }
}

/// Parses the command line, noting which connection flags were typed: a typed
/// flag wins over an environment variable.
fn parse() -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches()?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Some((_, sub)), Some(connection)) = (matches.subcommand(), cli.command.connection_mut())
    {
        let typed = |id: &str| {
            matches!(
                sub.value_source(id),
                Some(clap::parser::ValueSource::CommandLine)
            )
        };
        connection.typed = Typed {
            shop: typed("shop"),
            endpoint: typed("endpoint"),
        };
    }
    Ok(cli)
}

/// Whether to colour stderr: only on a terminal, and never with `NO_COLOR` set
/// (<https://no-color.org>).
fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(error) => return command_line_error(&error),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(colour_stderr())
        .with_writer(std::io::stderr)
        .init();
    let out = Output { json: cli.json };
    let mut cli = cli;
    if let Some(connection) = cli.command.connection_mut() {
        if let Err(failure) = refuse_storefront_token_arguments(connection) {
            out.error(failure.error.as_ref());
            return ExitCode::from(failure.code);
        }
    }
    let result = match cli.command {
        Command::Demo => demo(&out).await,
        Command::Login {
            email,
            password,
            show_token,
            connection,
        } => match password {
            Some(_) => Err(usage(
                "a password is never taken as an argument (shell history, `ps`): \
                 set STOREFRONT_CUSTOMER_PASSWORD, or leave it unset to be prompted",
            )),
            None => login(&out, &connection, &email, show_token).await,
        },
        Command::Renew {
            token,
            show_token,
            connection,
        } => renew(&out, &connection, &token, show_token).await,
        Command::Logout { token, connection } => logout(&out, &connection, &token).await,
        Command::Whoami { token, connection } => whoami(&out, &connection, &token).await,
        Command::Watch {
            token,
            show_token,
            connection,
        } => watch(&out, &connection, &token, show_token).await,
        Command::Mock {
            port,
            token_lifetime,
        } => run_mock(&out, port, token_lifetime.map(Duration::from_secs)).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.error(failure.error.as_ref());
            ExitCode::from(failure.code)
        }
    }
}

/// A command line clap could not parse: as clap prints it, or with `--json` as
/// one JSON object on stderr like every other error. Help and version are not
/// errors and print as usual.
fn command_line_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let json = std::env::args_os().any(|arg| arg == "--json");
    if informational || !json {
        let _ = error.print();
        return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE));
    }
    let rendered = error.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    eprintln!(
        "{}",
        json!({ "event": "error", "error": message, "usage": rendered.trim_end() })
    );
    ExitCode::from(EXIT_USAGE)
}

/// Prints results as text or as one JSON object per line.
struct Output {
    json: bool,
}

impl Output {
    fn event(&self, text: String, value: serde_json::Value) {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }

    fn token(&self, step: &str, token: &CustomerAccessToken, show: bool) {
        let fingerprint = token.access_token().fingerprint().to_string();
        let mut value = json!({
            "event": step,
            "expires_at": token.expires_at().to_rfc3339(),
            "fingerprint": fingerprint,
        });
        let mut text = format!(
            "{step}: token {fingerprint} valid until {} ({} left)",
            token.expires_at().to_rfc3339(),
            short_duration(token.expires_at() - Utc::now())
        );
        if show {
            value["access_token"] = json!(token.access_token().expose_secret());
            text.push_str(&format!(
                "\naccess token: {}",
                token.access_token().expose_secret()
            ));
        }
        self.event(text, value);
    }

    /// An error and its whole source chain, on one line ([`ErrorReport`]).
    fn error(&self, error: &(dyn StdError + 'static)) {
        let report = ErrorReport::new(error);
        if self.json {
            eprintln!(
                "{}",
                json!({ "event": "error", "error": error.to_string(), "message": report.to_string() })
            );
        } else {
            eprintln!("error: {report}");
        }
    }
}

fn client_for(connection: &Connection) -> Result<StorefrontClient, Failure> {
    Ok(client_builder(connection)?.build()?)
}

/// A client builder for `connection`, with the storefront token from the
/// environment. A typed `--shop` or `--endpoint` wins over the other's
/// environment variable; both typed, or neither typed and both variables set,
/// is a usage error.
/// Refuses a storefront token typed as an argument, before anything else is
/// checked; the message says where it goes, and never repeats it.
fn refuse_storefront_token_arguments(connection: &Connection) -> Result<(), Failure> {
    if connection.public_token.is_some() || connection.private_token.is_some() {
        return Err(usage(
            "a storefront token is never taken as an argument (shell history, `ps`): \
             set STOREFRONT_PUBLIC_TOKEN or STOREFRONT_PRIVATE_TOKEN",
        ));
    }
    Ok(())
}

fn client_builder(connection: &Connection) -> Result<StorefrontClientBuilder, Failure> {
    let mut builder = StorefrontClient::builder();
    if let Some(version) = &connection.api_version {
        builder = builder.api_version(version);
    }
    let typed = connection.typed;
    builder = match (&connection.shop, &connection.endpoint) {
        _ if typed.shop && typed.endpoint => {
            return Err(usage("give --shop or --endpoint, not both"))
        }
        (Some(shop), _) if typed.shop => builder.shop(shop),
        (_, Some(endpoint)) if typed.endpoint => builder.endpoint(endpoint),
        (Some(_), Some(_)) => {
            return Err(usage(
                "STOREFRONT_SHOP and STOREFRONT_ENDPOINT are both set: unset one, \
                 or choose with --shop or --endpoint",
            ))
        }
        (Some(shop), None) => builder.shop(shop),
        (None, Some(endpoint)) => builder.endpoint(endpoint),
        (None, None) => {
            return Err(usage(
                "give --shop (or STOREFRONT_SHOP) or --endpoint (or STOREFRONT_ENDPOINT)",
            ))
        }
    };
    if let Some(private) = non_empty_env("STOREFRONT_PRIVATE_TOKEN") {
        builder = builder.private_token(PrivateToken::new(private));
        if let Some(ip) = connection.buyer_ip {
            builder = builder.buyer_ip(ip);
        }
    } else if let Some(public) = non_empty_env("STOREFRONT_PUBLIC_TOKEN") {
        if connection.buyer_ip.is_some() {
            return Err(usage("--buyer-ip goes with STOREFRONT_PRIVATE_TOKEN"));
        }
        builder = builder.public_token(public);
    } else {
        return Err(usage(
            "set STOREFRONT_PUBLIC_TOKEN or STOREFRONT_PRIVATE_TOKEN",
        ));
    }
    Ok(builder)
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn customer_token(source: &TokenSource) -> Result<AccessToken, Failure> {
    if source.token_argument.is_some() || source.token_flag.is_some() {
        // Never echoed: the message only says where the token goes.
        return Err(usage(
            "a customer token is never taken as an argument (shell history, `ps`): \
             set STOREFRONT_CUSTOMER_TOKEN, or pipe it to --token-stdin",
        ));
    }
    if source.token_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|error| failure(format!("could not read the token from stdin: {error}")))?;
        let token = line.trim();
        if token.is_empty() {
            return Err(usage("stdin held no customer token"));
        }
        return Ok(AccessToken::new(token));
    }
    non_empty_env("STOREFRONT_CUSTOMER_TOKEN")
        .map(AccessToken::new)
        .ok_or_else(|| usage("set STOREFRONT_CUSTOMER_TOKEN or pass --token-stdin"))
}

fn customer_password() -> Result<Password, Failure> {
    if let Some(password) = non_empty_env("STOREFRONT_CUSTOMER_PASSWORD") {
        return Ok(Password::new(password));
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "set STOREFRONT_CUSTOMER_PASSWORD (no terminal to prompt on)",
        ));
    }
    rpassword::prompt_password("password: ")
        .map(Password::new)
        .map_err(|error| failure(format!("could not read the password: {error}")))
}

async fn login(
    out: &Output,
    connection: &Connection,
    email: &str,
    show: bool,
) -> Result<(), Failure> {
    let client = client_for(connection)?;
    let password = customer_password()?;
    let token = client.create_token(email, &password).await?;
    out.token("logged in", &token, show);
    Ok(())
}

async fn renew(
    out: &Output,
    connection: &Connection,
    source: &TokenSource,
    show: bool,
) -> Result<(), Failure> {
    let token = customer_token(source)?;
    let client = client_for(connection)?;
    let renewed = client.renew_token(&token).await?;
    out.token("renewed", &renewed, show);
    Ok(())
}

async fn logout(
    out: &Output,
    connection: &Connection,
    source: &TokenSource,
) -> Result<(), Failure> {
    let token = customer_token(source)?;
    let client = client_for(connection)?;
    let fingerprint = token.fingerprint().to_string();
    match client.delete_token(&token).await {
        Ok(()) => out.event(
            format!("logged out: token {fingerprint} revoked"),
            json!({ "event": "logged out", "fingerprint": fingerprint }),
        ),
        // Logging out of a dead session is what was asked for.
        Err(error) if error.must_log_in_again() => out.event(
            format!("already logged out: token {fingerprint} was already revoked or expired"),
            json!({ "event": "logged out", "already": true, "fingerprint": fingerprint }),
        ),
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

async fn whoami(
    out: &Output,
    connection: &Connection,
    source: &TokenSource,
) -> Result<(), Failure> {
    let token = customer_token(source)?;
    let client = client_for(connection)?;
    let customer = client.customer(&token).await?;
    out.event(
        format!(
            "customer: {} <{}> ({})",
            customer.display_name,
            customer.email.as_deref().unwrap_or("no email"),
            customer.id
        ),
        json!({
            "event": "customer",
            "id": customer.id,
            "email": customer.email,
            "display_name": customer.display_name,
        }),
    );
    Ok(())
}

async fn start_mock(port: u16, lifetime: Option<Duration>) -> Result<MockStorefront, Failure> {
    let mut builder =
        MockStorefront::builder()
            .port(port)
            .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME);
    if let Some(lifetime) = lifetime {
        builder = builder.token_lifetime(lifetime);
    }
    builder.build().await.map_err(failure)
}

async fn demo(out: &Output) -> Result<(), Failure> {
    let shop = start_mock(0, None).await?;
    out.event(
        format!("mock storefront listening at {}", shop.endpoint()),
        json!({ "event": "mock started", "endpoint": shop.endpoint() }),
    );
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .build()?;

    let token = client
        .create_token(DEMO_EMAIL, &Password::new(DEMO_PASSWORD))
        .await?;
    out.token("logged in", &token, false);

    shop.advance(DEMO_CLOCK_JUMP);
    out.event(
        format!(
            "moved the mock's clock {} days ahead",
            DEMO_CLOCK_JUMP.as_secs() / 86_400
        ),
        json!({ "event": "clock advanced", "seconds": DEMO_CLOCK_JUMP.as_secs() }),
    );
    let renewed = client.renew_token(token.access_token()).await?;
    out.token("renewed", &renewed, false);

    let customer = client.customer(renewed.access_token()).await?;
    out.event(
        format!(
            "customer: {} <{}>",
            customer.display_name,
            customer.email.as_deref().unwrap_or("no email")
        ),
        json!({ "event": "customer", "id": customer.id, "display_name": customer.display_name }),
    );

    client.delete_token(renewed.access_token()).await?;
    out.event(
        "logged out: token revoked".to_owned(),
        json!({ "event": "logged out", "fingerprint": renewed.access_token().fingerprint().to_string() }),
    );

    match client.renew_token(renewed.access_token()).await {
        Err(error) if error.must_log_in_again() => {
            let report = ErrorReport::new(&error);
            out.event(
                format!("renewing the revoked token fails as it should: {report}"),
                json!({
                    "event": "renew refused",
                    "must_log_in_again": true,
                    "error": error.to_string(),
                    "message": report.to_string(),
                }),
            );
        }
        Err(error) => return Err(error.into()),
        Ok(_) => return Err(failure("the mock renewed a revoked token")),
    }
    shop.shutdown().await;
    demo_auto_renew(out).await
}

/// The demo's last segment: a [`TokenKeeper`] renews a short-lived token on its
/// own, and we watch its events until it has renewed [`DEMO_RENEWALS`] times.
async fn demo_auto_renew(out: &Output) -> Result<(), Failure> {
    let shop = MockStorefront::builder()
        .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME)
        .token_lifetime(DEMO_SHORT_LIFETIME)
        .renew_rotates_token(true)
        .build()
        .await
        .map_err(failure)?;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .retry_policy(RetryPolicy::never()) // the keeper retries
        .build()?;
    let token = client
        .create_token(DEMO_EMAIL, &Password::new(DEMO_PASSWORD))
        .await?;
    out.event(
        format!(
            "auto-renew: a second mock issues {} s tokens that rotate on renewal; \
             logged in with token {} ({:.1} s left); waiting for {DEMO_RENEWALS} renewals",
            DEMO_SHORT_LIFETIME.as_secs(),
            token.access_token().fingerprint(),
            seconds_left(token.expires_at()),
        ),
        json!({
            "event": "auto-renew started",
            "token_lifetime_seconds": DEMO_SHORT_LIFETIME.as_secs(),
            "fingerprint": token.access_token().fingerprint().to_string(),
            "expires_at": token.expires_at().to_rfc3339(),
        }),
    );
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
        .policy(short_lifetime_policy())
        .build();
    let mut events = engine.events(); // before start: nothing is missed
    let keeper = TokenKeeper::start_with(engine, token)
        .await
        .map_err(renewal_failure)?;
    let watched = tokio::time::timeout(
        DEMO_RENEWALS_TIMEOUT,
        show_renewals(out, &keeper, &mut events),
    )
    .await;
    let outcome = match watched {
        Ok(Ok(())) => demo_use_kept_token(out, &client, &keeper).await,
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err(failure(format!(
            "the keeper did not renew {DEMO_RENEWALS} times within {} s",
            DEMO_RENEWALS_TIMEOUT.as_secs()
        ))),
    };
    keeper.shutdown().await;
    shop.shutdown().await;
    outcome
}

/// Renew a token at 60-67% of its lifetime and at least 1 s (or a quarter of it)
/// before expiry; retry after 0.5-1 s. The default policy keeps at least 10 s of
/// margin, which a 6 s token does not have.
fn short_lifetime_policy() -> RenewalPolicy {
    RenewalPolicy::default()
        .with_lifetime_fractions(0.6, 0.67)
        .with_margin(Duration::from_secs(1), 0.25)
        .with_retry_backoff(Duration::from_millis(500), Duration::from_secs(1))
}

/// Prints each renewal until [`DEMO_RENEWALS`] have happened; fails if the token
/// dies first.
async fn show_renewals(
    out: &Output,
    keeper: &TokenKeeper<CustomerAccessToken>,
    events: &mut EventReceiver,
) -> Result<(), Failure> {
    let mut renewals = 0;
    while renewals < DEMO_RENEWALS {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(EventError::Lagged(_)) => continue,
            Err(error) => return Err(failure(error)),
        };
        if let Some(failure) = dead_token(&event) {
            return Err(failure);
        }
        let current = keeper.current();
        let text = event_text(&event, current.as_ref());
        let mut value = event_json(&event, current.as_ref());
        match &event {
            RenewalEvent::Renewed { expires_at, .. } => {
                renewals += 1;
                let left = seconds_left(*expires_at);
                value["renewal"] = json!(renewals);
                value["seconds_left"] = json!(left);
                out.event(
                    format!("auto-renew: renewal {renewals}: {text}, {left:.1} s left"),
                    value,
                );
            }
            _ => out.event(format!("auto-renew: {text}"), value),
        }
    }
    Ok(())
}

/// Reads the customer with the keeper's current token, then logs out.
async fn demo_use_kept_token(
    out: &Output,
    client: &StorefrontClient,
    keeper: &TokenKeeper<CustomerAccessToken>,
) -> Result<(), Failure> {
    let token = keeper.token().await.map_err(renewal_failure)?;
    let customer = client.customer(token.access_token()).await?;
    out.event(
        format!(
            "auto-renew: the kept token {} still reads the customer: {}",
            token.access_token().fingerprint(),
            customer.display_name
        ),
        json!({
            "event": "customer",
            "fingerprint": token.access_token().fingerprint().to_string(),
            "display_name": customer.display_name,
        }),
    );
    keeper.shutdown().await;
    client.delete_token(token.access_token()).await?;
    out.event(
        "auto-renew: stopped the keeper and logged out".to_owned(),
        json!({ "event": "auto-renew stopped" }),
    );
    Ok(())
}

/// Seconds from now until `at` (negative once past).
fn seconds_left(at: DateTime<Utc>) -> f64 {
    (at - Utc::now()).num_milliseconds() as f64 / 1000.0
}

async fn watch(
    out: &Output,
    connection: &Connection,
    source: &TokenSource,
    show: bool,
) -> Result<(), Failure> {
    // One quick retry for the first renewal; after that the keeper retries,
    // spread over the time left before expiry.
    let token = customer_token(source)?;
    let client = client_builder(connection)?
        .retry_policy(RetryPolicy::default().with_max_attempts(2))
        .build()?;
    // The Storefront API cannot tell a token's expiry: renewing once learns it.
    let first = client.renew_token(&token).await?;
    drop(token);
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client)).build();
    let events = engine.events(); // before start: nothing is missed
    let keeper = TokenKeeper::start_with(engine, first.clone())
        .await
        .map_err(renewal_failure)?;
    let mut screen = Screen::new(out.json, show);
    screen.started(&first);
    let outcome = watch_until_stopped(&keeper, events, &mut screen).await;
    keeper.shutdown().await;
    outcome
}

/// Follows the keeper's events and redraws the status line until Ctrl-C (ok) or
/// until the token is dead (exit 3).
async fn watch_until_stopped(
    keeper: &TokenKeeper<CustomerAccessToken>,
    mut events: EventReceiver,
    screen: &mut Screen,
) -> Result<(), Failure> {
    let mut ticker = tokio::time::interval(STATUS_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            signal = &mut ctrl_c => {
                signal.map_err(|error| failure(format!("could not wait for ctrl-c: {error}")))?;
                screen.stopped();
                return Ok(());
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let current = keeper.current();
                    screen.event(&event, current.as_ref());
                    if let Some(failure) = dead_token(&event) {
                        screen.close();
                        return Err(failure);
                    }
                    // Redraw from the keeper's new schedule at once, not from
                    // the one the renewal just replaced.
                    if screen.live() {
                        if let Some(status) = keeper.status().await {
                            screen.draw(&StatusLine::from_status(&status));
                        }
                    }
                }
                Err(EventError::Lagged(missed)) => screen.lagged(missed),
                Err(error) => return Err(failure(error)),
            },
            _ = ticker.tick(), if screen.live() => {
                if let Some(status) = keeper.status().await {
                    screen.draw(&StatusLine::from_status(&status));
                }
            }
        }
    }
}

/// How `watch` shows what happens: a live status line on a terminal, one JSON
/// object per event with `--json`, or one text line per event otherwise.
struct Screen {
    mode: ScreenMode,
    show_token: bool,
    last_result: String,
    last_line: Option<StatusLine>,
    /// Set once stopped (or closed): the status line is never drawn again.
    done: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScreenMode {
    Live,
    Json,
    Lines,
}

impl Screen {
    fn new(json: bool, show_token: bool) -> Self {
        let mode = if json {
            ScreenMode::Json
        } else if std::io::stdout().is_terminal() {
            ScreenMode::Live
        } else {
            ScreenMode::Lines
        };
        Screen {
            mode,
            show_token,
            last_result: "started".to_owned(),
            last_line: None,
            done: false,
        }
    }

    fn live(&self) -> bool {
        self.mode == ScreenMode::Live && !self.done
    }

    fn started(&mut self, token: &CustomerAccessToken) {
        let fingerprint = token.access_token().fingerprint().to_string();
        let mut value = json!({
            "event": "watching",
            "fingerprint": fingerprint,
            "expires_at": token.expires_at().to_rfc3339(),
        });
        let mut text = format!(
            "watching token {fingerprint}: renewed once to learn its expiry, {} (ctrl-c to stop)",
            token.expires_at().to_rfc3339()
        );
        self.with_token(&mut text, &mut value, Some(token));
        self.last_result = format!("renewed at {}", Local::now().format("%H:%M:%S"));
        self.line(text, value);
        if self.live() {
            self.draw(&StatusLine::from_token(token));
        }
    }

    fn event(&mut self, event: &RenewalEvent, current: Option<&CustomerAccessToken>) {
        let now = Local::now().format("%H:%M:%S");
        match event {
            RenewalEvent::Renewed { .. } | RenewalEvent::LoggedInAgain { .. } => {
                self.last_result = format!("renewed at {now}");
            }
            RenewalEvent::RenewalFailed { error, .. } => {
                let report = ErrorReport::new(error).to_string();
                self.last_result = format!("failed at {now}: {}", truncated(&report, 60));
            }
            RenewalEvent::Expired { .. } => self.last_result = "expired".to_owned(),
            RenewalEvent::Rejected { .. } => self.last_result = "rejected".to_owned(),
            _ => {}
        }
        let mut text = event_text(event, current);
        let mut value = event_json(event, current);
        if renewed_fingerprint(event, current).is_some() {
            self.with_token(&mut text, &mut value, current);
        }
        self.line(text, value);
    }

    fn lagged(&mut self, missed: u64) {
        self.line(
            format!("missed {missed} events (the terminal was too slow)"),
            json!({ "event": "lagged", "missed": missed }),
        );
    }

    /// The last line: the status line is replaced by it, and never drawn again.
    fn stopped(&mut self) {
        self.last_line = None;
        self.line(
            "stopped (ctrl-c); the token is no longer renewed".to_owned(),
            json!({ "event": "stopped" }),
        );
        self.done = true;
    }

    /// Erases the status line for good, so an error message starts on a clean
    /// line.
    fn close(&mut self) {
        if self.live() {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{CLEAR_LINE}");
            let _ = stdout.flush();
            self.last_line = None;
        }
        self.done = true;
    }

    /// Adds the token itself, only with `--show-token`.
    fn with_token(
        &self,
        text: &mut String,
        value: &mut serde_json::Value,
        token: Option<&CustomerAccessToken>,
    ) {
        if let (true, Some(token)) = (self.show_token, token) {
            let secret = token.access_token().expose_secret();
            value["access_token"] = json!(secret);
            text.push_str(&format!("\naccess token: {secret}"));
        }
    }

    /// Prints a permanent line (above the status line on a terminal).
    fn line(&mut self, text: String, value: serde_json::Value) {
        match self.mode {
            ScreenMode::Json => println!("{value}"),
            ScreenMode::Lines => println!("{text}"),
            ScreenMode::Live => {
                println!("{CLEAR_LINE}{text}");
                if let Some(line) = self.last_line.take() {
                    self.draw(&line);
                }
            }
        }
    }

    /// Rewrites the status line in place (never once stopped).
    fn draw(&mut self, line: &StatusLine) {
        if !self.live() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{CLEAR_LINE}{}", line.render(&self.last_result));
        let _ = stdout.flush();
        self.last_line = Some(line.clone());
    }
}

/// What the status line shows, besides the last result.
#[derive(Clone)]
struct StatusLine {
    fingerprint: String,
    state: &'static str,
    expires_at: DateTime<Utc>,
    next_renewal_at: Option<DateTime<Utc>>,
}

impl StatusLine {
    fn from_token(token: &CustomerAccessToken) -> Self {
        StatusLine {
            fingerprint: token.access_token().fingerprint().to_string(),
            state: "scheduled",
            expires_at: token.expires_at(),
            next_renewal_at: None,
        }
    }

    fn from_status(status: &storefront_token::renewal::TokenStatus<CustomerAccessToken>) -> Self {
        StatusLine {
            fingerprint: status.credential().access_token().fingerprint().to_string(),
            state: match status.state() {
                TokenState::Scheduled => "scheduled",
                TokenState::Renewing => "renewing",
                TokenState::Expired => "expired",
                TokenState::Rejected => "rejected",
                _ => "unknown",
            },
            expires_at: status.expires_at(),
            next_renewal_at: status.next_renewal_at(),
        }
    }

    fn render(&self, last_result: &str) -> String {
        let now = Utc::now();
        let next = match self.next_renewal_at {
            // A renewal due now or overdue is under way: "in 0s" would read as
            // stuck.
            Some(at) if at <= now + TimeDelta::seconds(1) => "renewing now".to_owned(),
            Some(at) => format!(
                "next renewal {} (in {})",
                at.with_timezone(&Local).format("%H:%M:%S"),
                short_duration(at - now)
            ),
            None => self.state.to_owned(),
        };
        format!(
            "token {} | {} left | {next} | last: {last_result}",
            self.fingerprint,
            short_duration(self.expires_at - now),
        )
    }
}

/// `text`, cut to `max` characters with an ellipsis.
fn truncated(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `41d 23h`, `3h 05m`, `4m 07s`, `12s`; zero for the past.
fn short_duration(delta: TimeDelta) -> String {
    let seconds = delta.num_seconds().max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d {hours:02}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m {secs:02}s")
    } else {
        format!("{secs}s")
    }
}

/// The token's fingerprint after an event that gave it a new credential.
fn renewed_fingerprint(
    event: &RenewalEvent,
    current: Option<&CustomerAccessToken>,
) -> Option<String> {
    let renewed = matches!(
        event,
        RenewalEvent::Renewed { .. } | RenewalEvent::LoggedInAgain { .. }
    );
    current
        .filter(|_| renewed)
        .map(|token| token.access_token().fingerprint().to_string())
}

/// An event as one line of text: its `Display` (with the whole error chain), and
/// after a renewal the new token's fingerprint (never the token itself).
fn event_text(event: &RenewalEvent, current: Option<&CustomerAccessToken>) -> String {
    match renewed_fingerprint(event, current) {
        Some(fingerprint) => format!("{event} (token {fingerprint})"),
        None => event.to_string(),
    }
}

/// An event as a JSON object: its kind (`event`), `id` and fields, `message` (the
/// same line as [`event_text`]), `error` (the error chain) and, from a Storefront
/// error, its HTTP `status` and `request_id`. Never a token.
fn event_json(event: &RenewalEvent, current: Option<&CustomerAccessToken>) -> serde_json::Value {
    let at = |time: &DateTime<Utc>| json!(time.to_rfc3339());
    let next = |time: &Option<DateTime<Utc>>| json!(time.map(|time| time.to_rfc3339()));
    let mut value = match event {
        RenewalEvent::Renewed { expires_at, .. } => {
            json!({ "event": "renewed", "expires_at": at(expires_at) })
        }
        RenewalEvent::LoggedInAgain { expires_at, .. } => {
            json!({ "event": "logged in again", "expires_at": at(expires_at) })
        }
        RenewalEvent::AdoptedFromStore { expires_at, .. } => {
            json!({ "event": "adopted from store", "expires_at": at(expires_at) })
        }
        RenewalEvent::RenewalFailed {
            attempt,
            next_attempt_at,
            transient,
            ..
        } => json!({
            "event": "renewal failed",
            "attempt": attempt,
            "next_attempt_at": next(next_attempt_at),
            "transient": transient,
        }),
        RenewalEvent::Expired { .. } => json!({ "event": "expired" }),
        RenewalEvent::Rejected { .. } => json!({ "event": "rejected" }),
        RenewalEvent::ReloginFailed {
            attempt,
            next_attempt_at,
            ..
        } => json!({
            "event": "re-login failed",
            "attempt": attempt,
            "next_attempt_at": next(next_attempt_at),
        }),
        RenewalEvent::NotLoggedInAgain { .. } => json!({ "event": "not logged in again" }),
        RenewalEvent::Removed { .. } => json!({ "event": "removed" }),
        RenewalEvent::StoreFailed { will_retry, .. } => {
            json!({ "event": "store failed", "will_retry": will_retry })
        }
        RenewalEvent::Persisted { .. } => json!({ "event": "persisted" }),
        RenewalEvent::ShopPaused { until, .. } => {
            json!({ "event": "shop paused", "until": at(until) })
        }
        RenewalEvent::ShopResumed => json!({ "event": "shop resumed" }),
        RenewalEvent::ClockJump { jump } => {
            json!({ "event": "clock jump", "jump_ms": jump.num_milliseconds() })
        }
        RenewalEvent::ClockSkew { offset } => {
            json!({ "event": "clock skew", "offset_ms": offset.num_milliseconds() })
        }
        _ => json!({ "event": "other" }),
    };
    value["message"] = json!(event_text(event, current));
    if let Some(id) = event.id() {
        value["id"] = json!(id.as_str());
    }
    if let Some(error) = event.error() {
        value["error"] = json!(ErrorReport::new(error).to_string());
        let storefront = error.source_as::<storefront_token::Error>();
        if let Some(status) = storefront.and_then(storefront_token::Error::status) {
            value["status"] = json!(status);
        }
        if let Some(request_id) = storefront.and_then(storefront_token::Error::request_id) {
            value["request_id"] = json!(request_id);
        }
    }
    if let Some(fingerprint) = renewed_fingerprint(event, current) {
        value["fingerprint"] = json!(fingerprint);
    }
    value
}

/// The failure (exit 3) an event means for a token that has no re-login: it
/// expired or was rejected.
fn dead_token(event: &RenewalEvent) -> Option<Failure> {
    let error: Box<dyn StdError> = match event {
        RenewalEvent::Rejected { error, .. } => Box::new(error.clone()),
        RenewalEvent::Expired { .. } => {
            "the token expired before it could be renewed; log in again".into()
        }
        _ => return None,
    };
    Some(Failure {
        code: EXIT_LOG_IN_AGAIN,
        error,
    })
}

async fn run_mock(out: &Output, port: u16, lifetime: Option<Duration>) -> Result<(), Failure> {
    let shop = start_mock(port, lifetime).await?;
    out.event(
        format!(
            "mock storefront listening (ctrl-c to stop)\n\
             endpoint:         {}\n\
             storefront token: {}   (X-Shopify-Storefront-Access-Token)\n\
             private token:    {}   (Shopify-Storefront-Private-Token, with Shopify-Storefront-Buyer-IP)\n\
             demo customer:    {DEMO_EMAIL} / {DEMO_PASSWORD}\n\n\
             try: STOREFRONT_ENDPOINT={} STOREFRONT_PUBLIC_TOKEN={} STOREFRONT_CUSTOMER_PASSWORD='{DEMO_PASSWORD}' \\\n\
             \x20    cargo run --example storefront-token -- login --email {DEMO_EMAIL}",
            shop.endpoint(),
            shop.public_token(),
            shop.private_token(),
            shop.endpoint(),
            shop.public_token(),
        ),
        json!({
            "event": "mock started",
            "endpoint": shop.endpoint(),
            "public_token": shop.public_token(),
            "private_token": shop.private_token(),
            "customer": { "email": DEMO_EMAIL, "password": DEMO_PASSWORD },
        }),
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| failure(format!("could not wait for ctrl-c: {error}")))?;
    shop.shutdown().await;
    Ok(())
}

/// Run by `tests/cli.rs`, which includes this file as a module.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(short_duration(TimeDelta::seconds(29)), "29s");
        assert_eq!(short_duration(TimeDelta::seconds(89)), "1m 29s");
        assert_eq!(
            short_duration(TimeDelta::hours(3) + TimeDelta::minutes(5)),
            "3h 05m"
        );
        assert_eq!(
            short_duration(TimeDelta::days(41) + TimeDelta::hours(23)),
            "41d 23h"
        );
        assert_eq!(short_duration(TimeDelta::seconds(-5)), "0s");
    }

    fn status_line(next_renewal_in: TimeDelta) -> StatusLine {
        let now = Utc::now();
        StatusLine {
            fingerprint: "3e418e211f49".to_owned(),
            state: "scheduled",
            expires_at: now + TimeDelta::seconds(60),
            next_renewal_at: Some(now + next_renewal_in),
        }
    }

    #[test]
    fn a_due_renewal_reads_renewing_now_never_in_0s() {
        for due in [TimeDelta::milliseconds(-200), TimeDelta::milliseconds(500)] {
            let text = status_line(due).render("renewed at 10:00:00");
            assert!(
                text.contains("renewing now") && !text.contains("in 0s"),
                "{text}"
            );
        }
        let text = status_line(TimeDelta::seconds(30)).render("renewed at 10:00:00");
        assert!(
            text.contains("(in 29s)") || text.contains("(in 30s)"),
            "{text}"
        );
    }

    #[test]
    fn the_status_line_is_never_drawn_once_stopped() {
        let mut screen = Screen {
            mode: ScreenMode::Live,
            show_token: false,
            last_result: "renewed".to_owned(),
            last_line: Some(status_line(TimeDelta::seconds(30))),
            done: false,
        };
        screen.stopped();
        assert!(!screen.live());
        assert!(screen.last_line.is_none(), "nothing left to redraw");
        screen.draw(&status_line(TimeDelta::seconds(30)));
        assert!(screen.last_line.is_none(), "drawn after stopped");
    }
}
