//! The command line: commands, flags, and the environment and files each reads
//! (shown by `--help`).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::session::SESSION_FILE_ENV;

/// The saved session and its key, for `--help`.
macro_rules! session_help {
    () => {
        "Session (saved by login; renew, watch, whoami and logout use it when no token is given):\n\
         \x20 --session-file, STOREFRONT_SESSION_FILE\n\
         \x20                               the session file; default\n\
         \x20                               <state dir>/storefront-token/session: on Linux\n\
         \x20                               $XDG_STATE_HOME or ~/.local/state, elsewhere the\n\
         \x20                               local data directory\n\
         \x20 STOREFRONT_TOKEN_KEYS         the key that encrypts the session: base64 of 32\n\
         \x20                               bytes, or id:base64,id:base64 (current key first)\n\
         \x20 <session file>.key            the key when STOREFRONT_TOKEN_KEYS is unset\n\n\
         On first use (the first login without STOREFRONT_TOKEN_KEYS) a random key is\n\
         written to <session file>.key, mode 0600. The session file (mode 0600) keeps\n\
         the shop's endpoint in plain text and the customer token encrypted; logout\n\
         removes the token. A token from STOREFRONT_CUSTOMER_TOKEN or --token-stdin\n\
         wins over the session, which it leaves alone. Wrong key: log in again (it\n\
         replaces the session). Corrupt file: delete it and log in again."
    };
}

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
    connection_env!(),
    "\n\n",
    session_help!()
);
const TOKEN_ENV: &str = concat!(
    "Environment:\n  STOREFRONT_CUSTOMER_TOKEN     the customer access token (or pipe it to\n\
     \x20                               --token-stdin); else the saved session's\n",
    connection_env!(),
    "\n\n",
    session_help!()
);

#[derive(Parser)]
#[command(
    name = "storefront-token",
    version,
    about = "Keep Shopify Storefront customer access tokens alive",
    after_help = session_help!()
)]
pub(crate) struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// The saved session's file [default: <state dir>/storefront-token/session].
    #[arg(long, global = true, env = SESSION_FILE_ENV, value_name = "PATH")]
    pub(crate) session_file: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Log in, renew, check and log out against an embedded mock Storefront.
    Demo,
    /// Log a customer in (password from STOREFRONT_CUSTOMER_PASSWORD or a prompt)
    /// and save the session (token and shop) for the other commands.
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
    /// Renew a customer token (the saved session's, saving the renewed one).
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
    /// Revoke a customer token (exits 0 if it was already revoked or expired);
    /// with the saved session's token, delete the session too.
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
    /// The token comes from STOREFRONT_CUSTOMER_TOKEN or stdin (--token-stdin),
    /// else from the saved session, which then gets every renewed token.
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
pub(crate) struct Connection {
    /// Shop name or domain, such as `my-shop` or `my-shop.myshopify.com`.
    #[arg(long, env = "STOREFRONT_SHOP")]
    pub(crate) shop: Option<String>,
    /// Full GraphQL endpoint URL, `https://{domain}/api/{version}/graphql.json`
    /// (http only on loopback).
    #[arg(long, env = "STOREFRONT_ENDPOINT")]
    pub(crate) endpoint: Option<String>,
    /// Storefront API version [default: 2026-04]. With an endpoint that names
    /// another version in its path, the command refuses (exit 2).
    #[arg(long, env = "STOREFRONT_API_VERSION")]
    pub(crate) api_version: Option<String>,
    /// The buyer's IP, sent with a private token.
    #[arg(long)]
    pub(crate) buyer_ip: Option<IpAddr>,
    /// Not accepted: storefront tokens come from the environment.
    #[arg(long, hide = true, num_args = 0..=1, allow_hyphen_values = true)]
    pub(crate) public_token: Option<Option<String>>,
    /// Not accepted: storefront tokens come from the environment.
    #[arg(long, hide = true, num_args = 0..=1, allow_hyphen_values = true)]
    pub(crate) private_token: Option<Option<String>>,
    /// Which of `--shop` and `--endpoint` were typed (rather than read from the
    /// environment): filled in after parsing.
    #[arg(skip)]
    pub(crate) typed: Typed,
}

/// Which connection flags were typed on the command line.
#[derive(Default, Clone, Copy)]
pub(crate) struct Typed {
    pub(crate) shop: bool,
    pub(crate) endpoint: bool,
}

/// The customer token comes from STOREFRONT_CUSTOMER_TOKEN, or stdin with
/// `--token-stdin`, else from the saved session.
#[derive(Args)]
pub(crate) struct TokenSource {
    /// Read the customer token from the first line of stdin (instead of
    /// STOREFRONT_CUSTOMER_TOKEN).
    #[arg(long)]
    pub(crate) token_stdin: bool,
    /// Not accepted: a token on the command line ends up in shell history.
    #[arg(hide = true, allow_hyphen_values = true)]
    pub(crate) token_argument: Option<String>,
    /// Not accepted: a token on the command line ends up in shell history.
    #[arg(long = "token", hide = true, num_args = 0..=1, allow_hyphen_values = true)]
    pub(crate) token_flag: Option<Option<String>>,
}

impl Command {
    pub(crate) fn connection_mut(&mut self) -> Option<&mut Connection> {
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
