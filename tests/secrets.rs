//! Sentinel test: a customer token, a password and a storefront private token
//! never surface in logs (at TRACE, every crate), `Debug` of the client, tokens
//! and errors, or error messages and their sources; nor through the renewal
//! engine: its builder, engine, handle, keeper, statuses, errors and events
//! (`Display` and `Debug`), also for a credential that does not redact itself;
//! nor through the stores that write tokens at rest: the file store's file, the
//! Redis store's raw values (when `STOREFRONT_REDIS_URL` names a Redis), their
//! keys, `Debug`, and the errors of a wrong key and a corrupt value.
//!
//! One test in this binary, because it installs the global `tracing` subscriber.

mod common;

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Captured, EMAIL, NAME};
use storefront_token::mock::{Fault, MockStorefront};
use storefront_token::renewal::{
    EventReceiver, ReloginError, Renewable, RenewalEngine, RenewalEvent, StorefrontRenewer,
    TokenId, TokenKeeper,
};
use storefront_token::{
    AccessToken, CustomerAccessToken, ErrorReport, Password, PrivateToken, RetryPolicy,
    StorefrontClient,
};

const PASSWORD_SENTINEL: &str = "PASSWORD-SENTINEL-51f0c2";
const PRIVATE_SENTINEL: &str = "PRIVATE-SENTINEL-93ab7e";
const TOKEN_SENTINEL: &str = "TOKEN-SENTINEL-c0ffee";

/// How long the engine's events may take to arrive.
const EVENTS_TIMEOUT: Duration = Duration::from_secs(10);

/// Every text an error offers: Display, Debug, the one-line report, and each
/// source's Display and Debug.
fn error_texts(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
        ErrorReport::new(error).to_string(),
    ];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

/// Every text an event offers: Display, Debug, and its error's texts.
fn event_texts(event: &RenewalEvent) -> Vec<String> {
    let mut texts = vec![
        event.to_string(),
        format!("{event:?}"),
        format!("{event:#?}"),
    ];
    if let Some(error) = event.error() {
        texts.extend(error_texts(error));
    }
    texts
}

/// Receives events, keeping their texts and variants, until a `wanted` one has
/// been seen.
async fn wait_for(
    events: &mut EventReceiver,
    wanted: &str,
    seen: &mut BTreeSet<String>,
    texts: &mut Vec<String>,
) -> Result<(), String> {
    let received = tokio::time::timeout(EVENTS_TIMEOUT, async {
        while !seen.contains(wanted) {
            let event = events.recv().await.map_err(|error| error.to_string())?;
            seen.insert(variant(&event));
            texts.extend(event_texts(&event));
        }
        Ok(())
    })
    .await;
    match received {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no {wanted} event within {EVENTS_TIMEOUT:?}; seen: {seen:?}"
        )),
    }
}

/// The name of an event's variant, to check which ones were seen.
fn variant(event: &RenewalEvent) -> String {
    let debug = format!("{event:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A credential that does not redact itself (a plain `String`), renewed as is:
/// the keeper and the engine must not print it either.
struct PlainRenewer {
    expires_at: DateTime<Utc>,
}

impl Renewable for PlainRenewer {
    type Credential = String;
    type Error = std::io::Error;

    fn expires_at(&self, _credential: &String) -> DateTime<Utc> {
        self.expires_at
    }

    async fn renew(&self, credential: &String) -> Result<String, std::io::Error> {
        Ok(credential.clone())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_logs_debug_or_errors() -> Result<(), Box<dyn std::error::Error>> {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    // The mock echoes the token it was sent in its userErrors message, to prove the
    // client scrubs echoes.
    let shop = MockStorefront::builder()
        .private_token(PRIVATE_SENTINEL)
        .demo_customer(EMAIL, PASSWORD_SENTINEL, NAME)
        .invalid_token_message(format!("token {TOKEN_SENTINEL} is invalid"))
        .renew_rotates_token(true)
        .build()
        .await?;
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .private_token(PrivateToken::new(PRIVATE_SENTINEL))
        .buyer_ip("203.0.113.9".parse()?)
        .clock(common::RecordingClock::default())
        .retry_policy(RetryPolicy::default().with_max_attempts(2))
        .timeout(Duration::from_millis(200))
        .build()?;

    let mut texts = vec![
        format!("{client:?}"),
        format!("{:?}", PrivateToken::new(PRIVATE_SENTINEL)),
    ];
    let mut real_tokens = Vec::new();

    // Every operation, succeeding.
    let token = client
        .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
        .await?;
    real_tokens.push(token.access_token().expose_secret().to_owned());
    texts.push(format!("{token:?}"));
    let renewed = client.renew_token(token.access_token()).await?;
    real_tokens.push(renewed.access_token().expose_secret().to_owned());
    texts.push(format!("{renewed:#?}"));
    texts.push(format!(
        "{:?}",
        client.customer(renewed.access_token()).await?
    ));
    client.delete_token(renewed.access_token()).await?;

    // The renewal engine: its keeper, status and events print no token either.
    let kept = client
        .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
        .await?;
    real_tokens.push(kept.access_token().expose_secret().to_owned());
    let keeper = TokenKeeper::start(StorefrontRenewer::new(client.clone()), kept).await?;
    let mut keeper_events = keeper.events();
    let renewed = keeper.renew_now().await;
    if let Ok(token) = &renewed {
        real_tokens.push(token.access_token().expose_secret().to_owned());
    }
    texts.push(format!("{renewed:?}"));
    texts.push(format!("{keeper:?}"));
    texts.push(format!("{:?}", keeper.status().await));
    while let Ok(Some(event)) = keeper_events.try_recv() {
        texts.extend(event_texts(&event));
    }
    keeper.shutdown().await;

    // A keeper of a credential that prints itself in `Debug` still does not.
    let plain = format!("{TOKEN_SENTINEL}-plain");
    let plain_renewer = PlainRenewer {
        expires_at: Utc::now() + TimeDelta::hours(1),
    };
    let plain_engine = RenewalEngine::builder(plain_renewer).build();
    texts.push(format!("{plain_engine:?}"));
    let plain_keeper = TokenKeeper::start_with(plain_engine, plain.clone()).await?;
    assert_eq!(plain_keeper.current().as_deref(), Some(plain.as_str()));
    texts.push(format!("{plain_keeper:?}"));
    texts.push(format!("{plain_keeper:#?}"));
    texts.push(format!("{:?}", plain_keeper.status().await));
    plain_keeper.shutdown().await;

    // The renewal engine, failing every way a renewal can: a token the server
    // rejects (its message echoes the token sent), a re-login refused (a wrong
    // password, through `?` on `create_token`), a transient failure, and the shop
    // refusing every token. Its builder, engine, handle, statuses, snapshot,
    // errors and events print none of the secrets involved.
    let relogin_client = client.clone();
    let builder = RenewalEngine::builder(StorefrontRenewer::new(client.clone())).relogin(
        move |_id: TokenId| {
            let client = relogin_client.clone();
            async move {
                let wrong = Password::new(format!("{PASSWORD_SENTINEL}-wrong"));
                Ok(client.create_token(EMAIL, &wrong).await?)
            }
        },
    );
    texts.push(format!("{builder:?}"));
    let engine = builder.build();
    texts.push(format!("{engine:?}"));
    let mut engine_events = engine.events();
    let renewals = engine.start().await?;
    texts.push(format!("{renewals:?}"));

    let rejected = TokenId::new("rejected");
    let failing = TokenId::new("failing");
    let paused = TokenId::new("paused");
    let sent = CustomerAccessToken::new(
        AccessToken::new(TOKEN_SENTINEL),
        Utc::now() + TimeDelta::hours(1),
    );
    renewals.add(rejected.clone(), sent, None).await?;
    for id in [&failing, &paused] {
        let token = client
            .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
            .await?;
        real_tokens.push(token.access_token().expose_secret().to_owned());
        renewals.add(id.clone(), token, None).await?;
    }
    texts.push(format!("{:?}", renewals.status(&failing).await));
    texts.push(format!("{:#?}", renewals.snapshot().await));

    // Each failure is awaited to its last event before the next: a re-login
    // waits while the shop is paused.
    let mut engine_errors = vec![renewals.renew_now(&rejected).await.err()];
    let mut seen = BTreeSet::new();
    for wanted in ["Rejected", "NotLoggedInAgain"] {
        wait_for(&mut engine_events, wanted, &mut seen, &mut texts).await?;
    }
    shop.inject(
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        2,
    );
    engine_errors.push(renewals.renew_now(&failing).await.err());
    shop.clear_faults();
    wait_for(&mut engine_events, "RenewalFailed", &mut seen, &mut texts).await?;
    shop.set_customer_scope_denied(true);
    engine_errors.push(renewals.renew_now(&paused).await.err());
    shop.set_customer_scope_denied(false);
    wait_for(&mut engine_events, "ShopPaused", &mut seen, &mut texts).await?;
    for error in engine_errors {
        let error = error.ok_or("a renewal that should fail succeeded")?;
        texts.push(format!("{error:#?}"));
        texts.extend(error_texts(&error));
    }
    texts.push(format!("{:#?}", renewals.snapshot().await));
    renewals.shutdown().await;

    // Every operation, failing in each layer, with the sentinel token sent.
    let sentinel = AccessToken::new(TOKEN_SENTINEL);
    let mut errors = vec![
        client.renew_token(&sentinel).await.err(),
        client.delete_token(&sentinel).await.err(),
        client.customer(&sentinel).await.err(),
        client
            .create_token(EMAIL, &Password::new(format!("{PASSWORD_SENTINEL}-wrong")))
            .await
            .err(),
    ];
    for fault in [
        Fault::Status {
            status: 503,
            retry_after: Some("1".into()),
        },
        Fault::Throttled,
        Fault::HtmlBody { status: 200 },
        Fault::TruncatedJson,
        Fault::DropConnection,
        Fault::Delay(Duration::from_secs(2)),
    ] {
        shop.inject(fault, 2);
        errors.push(client.renew_token(&sentinel).await.err());
        shop.clear_faults();
    }
    shop.set_customer_scope_denied(true);
    errors.push(client.renew_token(&sentinel).await.err());
    errors.push(
        client
            .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
            .await
            .err(),
    );

    for error in errors {
        let error = error.ok_or("an operation that should fail succeeded")?;
        texts.extend(error_texts(&error));
    }
    // A refused login as `?` in a re-login hook converts it: given up, not retried.
    let refused = client
        .create_token(EMAIL, &Password::new(format!("{PASSWORD_SENTINEL}-wrong")))
        .await
        .err()
        .ok_or("a wrong password was accepted")?;
    let relogin = ReloginError::from(refused);
    assert!(!relogin.will_retry(), "a refused login is not retried");
    texts.push(format!("{relogin:?}"));
    texts.extend(error_texts(&relogin));

    // Tokens at rest: the stores, their keys, their errors and what they write.
    shop.set_customer_scope_denied(false);
    let key_texts = stores_at_rest(&client, &mut texts, &mut real_tokens).await?;

    let logs = captured.text();
    assert!(
        logs.contains("storefront_request"),
        "spans were captured at TRACE"
    );
    assert!(
        logs.len() > 1000,
        "logs were captured: {} bytes",
        logs.len()
    );
    texts.push(logs);

    let secrets: Vec<&str> = [PASSWORD_SENTINEL, PRIVATE_SENTINEL, TOKEN_SENTINEL]
        .into_iter()
        .chain(real_tokens.iter().map(String::as_str))
        .chain(key_texts.iter().map(String::as_str))
        .collect();
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret), "a secret leaked into:\n{text}");
        }
    }
    Ok(())
}

/// Keeps tokens in a `FileStore` (and a `RedisStore` when a Redis is given) through
/// an engine, then reads them with the wrong key and from a corrupt file. Collects
/// every text and every byte written; returns the key material, which must not
/// appear anywhere either.
async fn stores_at_rest(
    client: &StorefrontClient,
    texts: &mut Vec<String>,
    real_tokens: &mut Vec<String>,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
    use storefront_token::renewal::{FileStore, RedisStore, StoreError, TokenStore};

    let key = EncryptionKey::generate("sentinel-key")?;
    let key_text = key.to_base64().to_string();
    let keys = Keyring::new(key);
    let wrong = Sealer::new(Keyring::new(EncryptionKey::generate("sentinel-key")?));
    let sealer = Sealer::new(keys.clone());
    texts.push(format!("{keys:?} {sealer:?}"));
    let token = client
        .create_token(EMAIL, &Password::new(PASSWORD_SENTINEL))
        .await?;
    real_tokens.push(token.access_token().expose_secret().to_owned());
    let id = TokenId::new("customer-at-rest");
    let mut store_errors: Vec<StoreError> = Vec::new();

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tokens");
    let file = std::sync::Arc::new(FileStore::new(&path, sealer.clone()));
    texts.push(format!("{file:?}"));
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
        .store(std::sync::Arc::clone(&file))
        .build();
    let renewals = engine.start().await?;
    renewals.add(id.clone(), token.clone(), None).await?;
    let renewed = renewals.renew_now(&id).await?;
    real_tokens.push(renewed.access_token().expose_secret().to_owned());
    texts.push(format!("{:#?}", renewals.snapshot().await));
    renewals.shutdown().await;
    texts.push(String::from_utf8_lossy(&std::fs::read(&path)?).into_owned());
    let wrong_file = FileStore::new(&path, wrong.clone());
    texts.push(format!("{wrong_file:?}"));
    store_errors.extend(
        TokenStore::<CustomerAccessToken>::get(&wrong_file, &id)
            .await
            .err(),
    );
    let mut bytes = std::fs::read(&path)?;
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(&path, &bytes)?;
    store_errors.extend(
        TokenStore::<CustomerAccessToken>::get(&*file, &id)
            .await
            .err(),
    );

    match std::env::var("STOREFRONT_REDIS_URL") {
        Ok(url) => {
            let prefix = format!("secrets-{}", std::process::id());
            let redis = RedisStore::builder(url.as_str(), sealer)
                .prefix(&prefix)
                .build()
                .await?;
            texts.push(format!("{redis:?}"));
            redis.put(&id, &renewed, Utc::now(), None).await?;
            let wrong_redis = RedisStore::builder(url.as_str(), wrong)
                .prefix(&prefix)
                .build()
                .await?;
            store_errors.extend(
                TokenStore::<CustomerAccessToken>::get(&wrong_redis, &id)
                    .await
                    .err(),
            );
            let client = redis::Client::open(url.as_str())?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            let raw: std::collections::HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
                .arg(format!("{prefix}:t:{id}"))
                .query_async(&mut connection)
                .await?;
            assert!(!raw.is_empty(), "the token was written to Redis");
            for value in raw.values() {
                texts.push(String::from_utf8_lossy(value).into_owned());
            }
            TokenStore::<CustomerAccessToken>::delete(&redis, &id, None).await?;
        }
        Err(_) => {
            // Straight to stderr: test output capture would hide an `eprintln!`.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED the Redis part of no_secret_reaches_logs_debug_or_errors: no Redis \
                 (set STOREFRONT_REDIS_URL=redis://127.0.0.1:PORT to run it)"
            );
        }
    }
    assert!(
        store_errors.len() >= 2,
        "a wrong key and a corrupt file failed"
    );
    for error in &store_errors {
        texts.extend(error_texts(error));
    }
    Ok(vec![key_text])
}
