//! Which shop to talk to and with which storefront token, and the customer's
//! secrets: from the environment, stdin or a prompt, never from arguments.

use std::io::{BufRead, IsTerminal};

use storefront_token::{
    AccessToken, Password, PrivateToken, StorefrontClient, StorefrontClientBuilder,
};

use super::args::{Connection, TokenSource};
use super::{failure, usage, Failure};

/// A client for `connection` (see [`client_builder`]).
pub(crate) fn client_for(
    connection: &Connection,
    saved_endpoint: Option<&str>,
) -> Result<StorefrontClient, Failure> {
    Ok(client_builder(connection, saved_endpoint)?.build()?)
}

/// Refuses a storefront token typed as an argument, before anything else is
/// checked; the message says where it goes, and never repeats it.
pub(crate) fn refuse_storefront_token_arguments(connection: &Connection) -> Result<(), Failure> {
    if connection.public_token.is_some() || connection.private_token.is_some() {
        return Err(usage(
            "a storefront token is never taken as an argument (shell history, `ps`): \
             set STOREFRONT_PUBLIC_TOKEN or STOREFRONT_PRIVATE_TOKEN",
        ));
    }
    Ok(())
}

/// A client builder for `connection`, with the storefront token from the
/// environment. A typed `--shop` or `--endpoint` wins over the other's
/// environment variable; both typed, or neither typed and both variables set,
/// is a usage error. With neither, the saved session's endpoint if there is one.
pub(crate) fn client_builder(
    connection: &Connection,
    saved_endpoint: Option<&str>,
) -> Result<StorefrontClientBuilder, Failure> {
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
        (None, None) => match saved_endpoint {
            Some(endpoint) => builder.endpoint(endpoint),
            None => {
                return Err(usage(
                    "give --shop (or STOREFRONT_SHOP) or --endpoint (or STOREFRONT_ENDPOINT)",
                ))
            }
        },
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

pub(crate) fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The customer token given for this command (STOREFRONT_CUSTOMER_TOKEN or
/// `--token-stdin`); `None` if none was: the saved session's is used then. A
/// token typed as an argument is refused, never echoed.
pub(crate) fn explicit_token(source: &TokenSource) -> Result<Option<AccessToken>, Failure> {
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
        return Ok(Some(AccessToken::new(token)));
    }
    Ok(non_empty_env("STOREFRONT_CUSTOMER_TOKEN").map(AccessToken::new))
}

pub(crate) fn customer_password() -> Result<Password, Failure> {
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
