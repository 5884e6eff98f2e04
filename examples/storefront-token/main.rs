//! `storefront-token`: an example CLI over the crate.
//!
//! ```text
//! cargo run --example storefront-token -- demo
//! cargo run --example storefront-token -- mock --port 4000 --token-lifetime 30
//! STOREFRONT_SHOP=my-shop STOREFRONT_PUBLIC_TOKEN=... \
//!   cargo run --example storefront-token -- login --email ada@example.com
//! STOREFRONT_SHOP=my-shop STOREFRONT_PUBLIC_TOKEN=... \
//!   cargo run --example storefront-token -- watch   # the saved session's token
//! ```
//!
//! Secrets are never taken as arguments: the storefront token, the customer's
//! token and password come from the environment, stdin or a no-echo prompt (a
//! secret typed as an argument is refused with where it goes instead, and never
//! echoed). A flag wins over its environment variable. Colour only on a terminal,
//! and never with `NO_COLOR` set.
//! Exit codes: 0 ok, 2 usage or configuration, 3 token rejected or expired (log in
//! again), 4 transient failure that outlasted retries, 1 anything else.
//!
//! `login` saves the session (the customer token, encrypted, and the shop's
//! endpoint) in a [`FileStore`](storefront_token::renewal::FileStore) file, so
//! `renew`, `watch`, `whoami` and `logout` need no token; see [`session`].
//!
//! The modules, by subject: [`args`] (the command line and its help),
//! [`connection`] (the client and the secrets it reads), [`session`] (the saved
//! session), [`key_file`] (its key), [`commands`] (login, renew, logout, whoami), [`watch`]
//! with [`status_line`] and [`events`], [`demo`] (the demo and the mock), and
//! [`output`] (text or JSON).

mod args;
mod commands;
mod connection;
mod demo;
mod events;
mod key_file;
mod output;
mod session;
mod status_line;
mod watch;

use std::error::Error as StdError;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use serde_json::json;
use storefront_token::renewal::{RenewalError, RenewalErrorKind};

use self::args::{Cli, Command, Typed};
use self::commands::{login, logout, renew, whoami};
use self::connection::refuse_storefront_token_arguments;
use self::demo::{demo, run_mock};
use self::output::Output;
use self::session::SessionPlace;
use self::watch::watch;

pub(crate) const EXIT_FAILURE: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;
pub(crate) const EXIT_LOG_IN_AGAIN: u8 = 3;
pub(crate) const EXIT_TRANSIENT: u8 = 4;

/// A failure the CLI reports: a message, its exit code, and the error chain.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: Box<dyn StdError>,
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
pub(crate) fn renewal_failure(error: RenewalError) -> Failure {
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

pub(crate) fn usage(message: &str) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: message.into(),
    }
}

pub(crate) fn failure(error: impl Into<Box<dyn StdError>>) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        error: error.into(),
    }
}

/// A failure that says what to do about it, with its cause (or none, when the
/// message says it all).
pub(crate) fn explained(code: u8, message: String, source: Option<Box<dyn StdError>>) -> Failure {
    Failure {
        code,
        error: Box::new(Explained { message, source }),
    }
}

/// What went wrong and what to do, and the cause.
#[derive(Debug)]
struct Explained {
    message: String,
    source: Option<Box<dyn StdError>>,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Explained {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref()
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
    let session = SessionPlace::new(cli.session_file.take());
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
            None => login(&out, &session, &connection, &email, show_token).await,
        },
        Command::Renew {
            token,
            show_token,
            connection,
        } => renew(&out, &session, &connection, &token, show_token).await,
        Command::Logout { token, connection } => logout(&out, &session, &connection, &token).await,
        Command::Whoami { token, connection } => whoami(&out, &session, &connection, &token).await,
        Command::Watch {
            token,
            show_token,
            connection,
        } => watch(&out, &session, &connection, &token, show_token).await,
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
