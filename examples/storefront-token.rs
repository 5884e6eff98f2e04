//! `storefront-token`: an example CLI over the crate.
//!
//! ```text
//! cargo run --example storefront-token -- demo
//! cargo run --example storefront-token -- mock --port 4000
//! STOREFRONT_SHOP=my-shop STOREFRONT_PUBLIC_TOKEN=... \
//!   cargo run --example storefront-token -- login --email ada@example.com
//! ```
//!
//! Secrets are never taken as arguments: the storefront token, the customer's
//! token and password come from the environment, stdin or a no-echo prompt.
//! Exit codes: 0 ok, 2 usage, 3 token rejected (log in again), 4 transient failure
//! that outlasted retries, 1 anything else.

use std::error::Error as StdError;
use std::io::{BufRead, IsTerminal};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use storefront_token::mock::MockStorefront;
use storefront_token::{
    AccessToken, CustomerAccessToken, Password, PrivateToken, StorefrontClient,
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
    Login {
        /// The customer's email.
        #[arg(long)]
        email: String,
        /// Print the new token itself (it is secret).
        #[arg(long)]
        show_token: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Renew a customer token.
    Renew {
        #[command(flatten)]
        token: TokenSource,
        /// Print the renewed token itself (it is secret).
        #[arg(long)]
        show_token: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Revoke a customer token.
    Logout {
        #[command(flatten)]
        token: TokenSource,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show the customer a token belongs to.
    Whoami {
        #[command(flatten)]
        token: TokenSource,
        #[command(flatten)]
        connection: Connection,
    },
    /// Run the mock Storefront on loopback until interrupted.
    Mock {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

/// Where to send requests. Storefront tokens come from STOREFRONT_PUBLIC_TOKEN or
/// STOREFRONT_PRIVATE_TOKEN, never from arguments.
#[derive(Args)]
struct Connection {
    /// Shop name or domain, such as `my-shop` or `my-shop.myshopify.com`.
    #[arg(long, env = "STOREFRONT_SHOP", conflicts_with = "endpoint")]
    shop: Option<String>,
    /// Full GraphQL endpoint URL (http only on loopback).
    #[arg(long, env = "STOREFRONT_ENDPOINT")]
    endpoint: Option<String>,
    /// Storefront API version.
    #[arg(long, env = "STOREFRONT_API_VERSION", default_value = storefront_token::DEFAULT_API_VERSION)]
    api_version: String,
    /// The buyer's IP, sent with a private token.
    #[arg(long)]
    buyer_ip: Option<IpAddr>,
}

/// The customer token comes from STOREFRONT_CUSTOMER_TOKEN, or stdin with
/// `--token-stdin`.
#[derive(Args)]
struct TokenSource {
    /// Read the customer token from the first line of stdin.
    #[arg(long)]
    token_stdin: bool,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = Output { json: cli.json };
    let result = match cli.command {
        Command::Demo => demo(&out).await,
        Command::Login {
            email,
            show_token,
            connection,
        } => login(&out, &connection, &email, show_token).await,
        Command::Renew {
            token,
            show_token,
            connection,
        } => renew(&out, &connection, &token, show_token).await,
        Command::Logout { token, connection } => logout(&out, &connection, &token).await,
        Command::Whoami { token, connection } => whoami(&out, &connection, &token).await,
        Command::Mock { port } => run_mock(&out, port).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.error(failure.error.as_ref());
            ExitCode::from(failure.code)
        }
    }
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
            "{step}: token {fingerprint} valid until {} ({:.1} days left)",
            token.expires_at().to_rfc3339(),
            token.time_left().as_secs_f64() / 86_400.0
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

    fn error(&self, error: &dyn StdError) {
        let mut chain = vec![error.to_string()];
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        if self.json {
            eprintln!(
                "{}",
                json!({ "event": "error", "error": chain[0], "causes": &chain[1..] })
            );
        } else {
            eprintln!("error: {}", chain[0]);
            for cause in &chain[1..] {
                eprintln!("  caused by: {cause}");
            }
        }
    }
}

fn client_for(connection: &Connection) -> Result<StorefrontClient, Failure> {
    let mut builder = StorefrontClient::builder().api_version(&connection.api_version);
    builder = match (&connection.shop, &connection.endpoint) {
        (Some(shop), _) => builder.shop(shop),
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
    Ok(builder.build()?)
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn customer_token(source: &TokenSource) -> Result<AccessToken, Failure> {
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
    let client = client_for(connection)?;
    let token = customer_token(source)?;
    let renewed = client.renew_token(&token).await?;
    out.token("renewed", &renewed, show);
    Ok(())
}

async fn logout(
    out: &Output,
    connection: &Connection,
    source: &TokenSource,
) -> Result<(), Failure> {
    let client = client_for(connection)?;
    let token = customer_token(source)?;
    client.delete_token(&token).await?;
    out.event(
        format!("logged out: token {} revoked", token.fingerprint()),
        json!({ "event": "logged out", "fingerprint": token.fingerprint().to_string() }),
    );
    Ok(())
}

async fn whoami(
    out: &Output,
    connection: &Connection,
    source: &TokenSource,
) -> Result<(), Failure> {
    let client = client_for(connection)?;
    let token = customer_token(source)?;
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

async fn start_mock(port: u16) -> Result<MockStorefront, Failure> {
    MockStorefront::builder()
        .port(port)
        .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME)
        .build()
        .await
        .map_err(failure)
}

async fn demo(out: &Output) -> Result<(), Failure> {
    let shop = start_mock(0).await?;
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
            let detail = error.source().map(ToString::to_string).unwrap_or_default();
            out.event(
                format!("renewing the revoked token fails as it should: {error} ({detail})"),
                json!({ "event": "renew refused", "must_log_in_again": true, "error": error.to_string() }),
            );
            Ok(())
        }
        Err(error) => Err(error.into()),
        Ok(_) => Err(failure("the mock renewed a revoked token")),
    }
}

async fn run_mock(out: &Output, port: u16) -> Result<(), Failure> {
    let shop = start_mock(port).await?;
    out.event(
        format!(
            "mock storefront listening (ctrl-c to stop)\n\
             endpoint:         {}\n\
             storefront token: {}   (X-Shopify-Storefront-Access-Token)\n\
             demo customer:    {DEMO_EMAIL} / {DEMO_PASSWORD}\n\n\
             try: STOREFRONT_ENDPOINT={} STOREFRONT_PUBLIC_TOKEN={} STOREFRONT_CUSTOMER_PASSWORD='{DEMO_PASSWORD}' \\\n\
             \x20    cargo run --example storefront-token -- login --email {DEMO_EMAIL}",
            shop.endpoint(),
            shop.public_token(),
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
