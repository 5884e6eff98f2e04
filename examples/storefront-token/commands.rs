//! `login`, `renew`, `logout` and `whoami`: one request each, on the token
//! given or the saved session's.

use serde_json::json;
use storefront_token::{AccessToken, StorefrontClient, StorefrontClientBuilder};

use super::args::{Connection, TokenSource};
use super::connection::{client_builder, client_for, customer_password, explicit_token};
use super::output::Output;
use super::session::{Saved, Session, SessionPlace};
use super::{Failure, EXIT_USAGE};

/// The token a command works on: given for this command (it wins, and the
/// session is left alone), or the saved session's.
pub(crate) enum Subject {
    Given(AccessToken),
    Saved { session: Session, saved: Saved },
}

impl Subject {
    pub(crate) fn token(&self) -> &AccessToken {
        match self {
            Subject::Given(token) => token,
            Subject::Saved { saved, .. } => saved.token.access_token(),
        }
    }

    fn saved_endpoint(&self) -> Option<&str> {
        match self {
            Subject::Given(_) => None,
            Subject::Saved { saved, .. } => Some(&saved.endpoint),
        }
    }
}

/// The token given, else the saved session's; neither is a usage error that
/// says how to log in.
pub(crate) async fn subject(
    place: &SessionPlace,
    source: &TokenSource,
) -> Result<Subject, Failure> {
    if let Some(token) = explicit_token(source)? {
        return Ok(Subject::Given(token));
    }
    let no_session = |path: &std::path::Path| Failure {
        code: EXIT_USAGE,
        error: format!(
            "no saved session in {}: log in first (login), or give the token in \
             STOREFRONT_CUSTOMER_TOKEN or on stdin with --token-stdin",
            path.display()
        )
        .into(),
    };
    let Some(session) = place.existing()? else {
        return Err(no_session(&place.path()?));
    };
    let Some(saved) = session.load().await? else {
        return Err(no_session(session.path()));
    };
    Ok(Subject::Saved { session, saved })
}

/// The client for `subject`'s shop: the one asked for, or the saved session's.
/// A session saved for another shop than the one asked for is an error.
pub(crate) fn subject_client(
    connection: &Connection,
    subject: &Subject,
    adjust: impl FnOnce(StorefrontClientBuilder) -> StorefrontClientBuilder,
) -> Result<StorefrontClient, Failure> {
    let saved = subject.saved_endpoint();
    let client = adjust(client_builder(connection, saved)?).build()?;
    match saved {
        Some(saved) if saved != client.endpoint() => Err(Failure {
            code: EXIT_USAGE,
            error: format!(
                "the saved session is for {saved}, not {}: log in to that shop first, or \
                 leave out --shop/--endpoint (and STOREFRONT_SHOP/STOREFRONT_ENDPOINT) \
                 to use the saved session",
                client.endpoint()
            )
            .into(),
        }),
        _ => Ok(client),
    }
}

pub(crate) async fn login(
    out: &Output,
    place: &SessionPlace,
    connection: &Connection,
    email: &str,
    show: bool,
) -> Result<(), Failure> {
    let client = client_for(connection, None)?;
    let password = customer_password()?;
    let session = place.for_login()?;
    // A session file that cannot be written fails before a token is made.
    session.check_writable().await?;
    let token = client.create_token(email, &password).await?;
    if let Err(failure) = session.replace(client.endpoint(), &token).await {
        // No live token that nobody holds.
        let _ = client.delete_token(token.access_token()).await;
        return Err(failure);
    }
    out.token("logged in", &token, show);
    let path = session.path().display().to_string();
    out.event(
        format!("session saved in {path}"),
        json!({ "event": "session saved", "path": path }),
    );
    Ok(())
}

pub(crate) async fn renew(
    out: &Output,
    place: &SessionPlace,
    connection: &Connection,
    source: &TokenSource,
    show: bool,
) -> Result<(), Failure> {
    let subject = subject(place, source).await?;
    let client = subject_client(connection, &subject, |builder| builder)?;
    let renewed = client.renew_token(subject.token()).await?;
    out.token("renewed", &renewed, show);
    if let Subject::Saved { session, saved } = &subject {
        let stored = session
            .update(&saved.endpoint, saved.version, &renewed)
            .await?;
        if stored.is_none() {
            out.event(
                "the session changed meanwhile (another login or a logout): the renewed \
                 token was not saved"
                    .to_owned(),
                json!({ "event": "session not saved", "reason": "changed meanwhile" }),
            );
        }
    }
    Ok(())
}

pub(crate) async fn logout(
    out: &Output,
    place: &SessionPlace,
    connection: &Connection,
    source: &TokenSource,
) -> Result<(), Failure> {
    let subject = subject(place, source).await?;
    let client = subject_client(connection, &subject, |builder| builder)?;
    let token = subject.token();
    let fingerprint = token.fingerprint().to_string();
    match client.delete_token(token).await {
        Ok(()) => out.event(
            format!("logged out: token {fingerprint} revoked"),
            json!({ "event": "logged out", "fingerprint": fingerprint }),
        ),
        // Logging out of a dead session is what was asked for.
        Err(error) if error.must_log_in_again() => out.event(
            format!("already logged out: token {fingerprint} was already revoked or expired"),
            json!({ "event": "logged out", "already": true, "fingerprint": fingerprint }),
        ),
        // The session stays, to try again.
        Err(error) => return Err(error.into()),
    }
    if let Subject::Saved { session, saved } = &subject {
        session.remove(&saved.endpoint).await?;
        let path = session.path().display().to_string();
        out.event(
            format!("session deleted from {path}"),
            json!({ "event": "session deleted", "path": path }),
        );
    }
    Ok(())
}

pub(crate) async fn whoami(
    out: &Output,
    place: &SessionPlace,
    connection: &Connection,
    source: &TokenSource,
) -> Result<(), Failure> {
    let subject = subject(place, source).await?;
    let client = subject_client(connection, &subject, |builder| builder)?;
    let customer = client.customer(subject.token()).await?;
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
