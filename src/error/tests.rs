//! The table of what is transient, and the secret-free `Display` of each kind.

use std::error::Error as _;
use std::time::Duration;

use super::*;

fn http(status: u16) -> Error {
    Error::new(
        ErrorKind::Http(HttpError::new(status, None, None)),
        Some(Operation::Renew),
    )
}

fn graphql(codes: &[Option<&str>]) -> Error {
    let errors = codes
        .iter()
        .map(|code| GraphqlError::new("message".into(), code.map(GraphqlErrorCode::parse), vec![]))
        .collect();
    Error::new(
        ErrorKind::Graphql(GraphqlErrors::new(errors, None)),
        Some(Operation::Renew),
    )
}

fn transport(kind: TransportErrorKind) -> Error {
    Error::new(
        ErrorKind::Transport(TransportError::new(kind, None)),
        Some(Operation::Renew),
    )
}

/// A transport failure whose source chain reads like reqwest's for `message`
/// (three levels deep, as hyper-util and rustls nest them).
fn transport_caused_by(kind: TransportErrorKind, message: &str) -> Error {
    #[derive(Debug)]
    struct Layer(String, Option<Box<dyn std::error::Error + Send + Sync>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static))
        }
    }
    let inner = std::io::Error::other(message.to_owned());
    let middle = Layer("client error (Connect)".into(), Some(Box::new(inner)));
    let outer = Layer("error sending request".into(), Some(Box::new(middle)));
    Error::new(
        ErrorKind::Transport(TransportError::new(kind, Some(Box::new(outer)))),
        Some(Operation::Renew),
    )
}

fn malformed(kind: MalformedKind) -> Error {
    Error::new(
        ErrorKind::MalformedResponse(MalformedResponse::new(kind, None)),
        Some(Operation::Renew),
    )
}

#[test]
fn transient_table() {
    let cases: Vec<(&str, Error, bool)> = vec![
        ("connect", transport(TransportErrorKind::Connect), true),
        (
            "interrupted",
            transport(TransportErrorKind::Interrupted),
            true,
        ),
        ("timeout", transport(TransportErrorKind::Timeout), true),
        ("body cut", transport(TransportErrorKind::Body), true),
        (
            "request build",
            transport(TransportErrorKind::Request),
            false,
        ),
        (
            "invalid target",
            transport(TransportErrorKind::InvalidTarget),
            false,
        ),
        (
            "connect: invalid dns name",
            transport_caused_by(TransportErrorKind::Connect, "invalid dns name"),
            false,
        ),
        (
            "connect: invalid peer certificate",
            transport_caused_by(
                TransportErrorKind::Connect,
                "invalid peer certificate: UnknownIssuer",
            ),
            false,
        ),
        (
            "connect: tls config",
            transport_caused_by(
                TransportErrorKind::Connect,
                "no process-level CryptoProvider available",
            ),
            false,
        ),
        (
            "connect: refused (heals)",
            transport_caused_by(
                TransportErrorKind::Connect,
                "Connection refused (os error 111)",
            ),
            true,
        ),
        (
            "connect: dns lookup failed (heals)",
            transport_caused_by(
                TransportErrorKind::Connect,
                "failed to lookup address information: Temporary failure in name resolution",
            ),
            true,
        ),
        ("400", http(400), false),
        ("401 bad storefront token", http(401), false),
        ("402 frozen", http(402), false),
        ("403 forbidden", http(403), false),
        ("404", http(404), false),
        ("408", http(408), true),
        ("423 locked", http(423), false),
        ("429", http(429), true),
        ("430 security rejection", http(430), false),
        ("500", http(500), true),
        ("502", http(502), true),
        ("503", http(503), true),
        ("504", http(504), true),
        ("599", http(599), true),
        ("THROTTLED", graphql(&[Some("THROTTLED")]), true),
        (
            "INTERNAL_SERVER_ERROR",
            graphql(&[Some("INTERNAL_SERVER_ERROR")]),
            true,
        ),
        ("ACCESS_DENIED", graphql(&[Some("ACCESS_DENIED")]), false),
        ("SHOP_INACTIVE", graphql(&[Some("SHOP_INACTIVE")]), false),
        (
            "MAX_COMPLEXITY_EXCEEDED",
            graphql(&[Some("MAX_COMPLEXITY_EXCEEDED")]),
            false,
        ),
        ("unknown code", graphql(&[Some("SOMETHING_NEW")]), false),
        ("no code", graphql(&[None]), false),
        (
            "throttled + denied",
            graphql(&[Some("THROTTLED"), Some("ACCESS_DENIED")]),
            false,
        ),
        (
            "throttled twice",
            graphql(&[Some("THROTTLED"), Some("THROTTLED")]),
            true,
        ),
        (
            "token rejected",
            Error::new(
                ErrorKind::TokenRejected(TokenRejected::new(vec![], None)),
                Some(Operation::Renew),
            ),
            false,
        ),
        (
            "login rejected",
            Error::new(
                ErrorKind::LoginRejected(LoginRejected::new(vec![], None)),
                Some(Operation::Create),
            ),
            false,
        ),
        ("not json", malformed(MalformedKind::NotJson), false),
        (
            "too large",
            malformed(MalformedKind::BodyTooLarge { limit: 1 }),
            false,
        ),
        (
            "config",
            ConfigError::new(ConfigErrorKind::InvalidShop, "invalid shop").into(),
            false,
        ),
    ];
    for (name, error, transient) in cases {
        assert_eq!(error.is_transient(), transient, "{name}");
        assert_eq!(
            error.must_log_in_again(),
            name == "token rejected",
            "{name}"
        );
    }
}

#[test]
fn status_kinds() {
    for (status, kind) in [
        (400, HttpStatusKind::BadRequest),
        (401, HttpStatusKind::Unauthorized),
        (402, HttpStatusKind::ShopFrozen),
        (403, HttpStatusKind::Forbidden),
        (404, HttpStatusKind::NotFound),
        (408, HttpStatusKind::RequestTimeout),
        (423, HttpStatusKind::ShopLocked),
        (429, HttpStatusKind::Throttled),
        (430, HttpStatusKind::SecurityRejection),
        (503, HttpStatusKind::ServerError),
        (418, HttpStatusKind::Other),
    ] {
        assert_eq!(HttpStatusKind::of(status), kind, "{status}");
    }
}

#[test]
fn customer_error_codes_round_trip_and_keep_unknown_values() {
    assert_eq!(CustomerErrorCode::KNOWN.len(), 15);
    for (code, name) in CustomerErrorCode::KNOWN {
        assert_eq!(&CustomerErrorCode::parse(name), code);
        assert_eq!(code.as_str(), *name);
    }
    let unknown = CustomerErrorCode::parse("BRAND_NEW");
    assert_eq!(unknown, CustomerErrorCode::Unknown("BRAND_NEW".into()));
    assert_eq!(unknown.to_string(), "BRAND_NEW");
}

#[test]
fn display_is_one_lowercase_phrase_and_source_has_the_details() {
    let error = Error::new(
        ErrorKind::Http(HttpError::new(
            429,
            Some(Duration::from_secs(2)),
            Some("req-1".into()),
        )),
        Some(Operation::Renew),
    );
    assert_eq!(
        error.to_string(),
        "customerAccessTokenRenew: storefront answered with an error status"
    );
    assert_eq!(
        error.source().map(ToString::to_string).as_deref(),
        Some("http 429: throttled")
    );
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(error.request_id(), Some("req-1"));

    let rejected = Error::new(
        ErrorKind::TokenRejected(TokenRejected::new(
            vec![UserError::new(
                vec!["customerAccessToken".into()],
                "Customer access token is invalid.".into(),
            )],
            None,
        )),
        Some(Operation::Renew),
    );
    assert!(rejected.to_string().contains("must log in again"));
    assert_eq!(
        rejected.source().map(ToString::to_string).as_deref(),
        Some("customerAccessToken: Customer access token is invalid.")
    );
    let config: Error =
        ConfigError::new(ConfigErrorKind::InvalidShop, "invalid shop: it is empty").into();
    assert_eq!(config.to_string(), "invalid client configuration");
    assert!(config.is_config());
}

#[test]
fn errors_are_send_sync_and_small() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
    assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
}

#[test]
fn failure_scope_table() {
    use FailureScope::{Shop, Token, Transient};
    let token_rejected = |user_errors| {
        Error::new(
            ErrorKind::TokenRejected(TokenRejected::new(user_errors, None)),
            Some(Operation::Renew),
        )
    };
    let cases: Vec<(&str, Error, FailureScope)> = vec![
        // The token is dead.
        ("token rejected: no customer", token_rejected(vec![]), Token),
        (
            "token rejected: user errors",
            token_rejected(vec![UserError::new(
                vec!["customerAccessToken".into()],
                "Customer access token is invalid.".into(),
            )]),
            Token,
        ),
        // The shop refuses every token.
        ("301 redirect", http(301), Shop),
        ("302 redirect", http(302), Shop),
        ("308 redirect", http(308), Shop),
        ("401 bad storefront token", http(401), Shop),
        ("402 frozen", http(402), Shop),
        ("403 forbidden", http(403), Shop),
        ("404 wrong endpoint or version", http(404), Shop),
        ("423 locked", http(423), Shop),
        ("430 security rejection", http(430), Shop),
        (
            "invalid dns name",
            transport_caused_by(TransportErrorKind::Connect, "invalid dns name"),
            Shop,
        ),
        ("ACCESS_DENIED", graphql(&[Some("ACCESS_DENIED")]), Shop),
        ("SHOP_INACTIVE", graphql(&[Some("SHOP_INACTIVE")]), Shop),
        (
            "throttled + denied",
            graphql(&[Some("THROTTLED"), Some("ACCESS_DENIED")]),
            Shop,
        ),
        (
            "unknown + inactive",
            graphql(&[Some("SOMETHING_NEW"), Some("SHOP_INACTIVE")]),
            Shop,
        ),
        // Worth retrying later.
        ("connect", transport(TransportErrorKind::Connect), Transient),
        (
            "interrupted",
            transport(TransportErrorKind::Interrupted),
            Transient,
        ),
        ("timeout", transport(TransportErrorKind::Timeout), Transient),
        ("body cut", transport(TransportErrorKind::Body), Transient),
        (
            "request build",
            transport(TransportErrorKind::Request),
            Transient,
        ),
        (
            "connect refused",
            transport_caused_by(TransportErrorKind::Connect, "Connection refused"),
            Transient,
        ),
        ("400", http(400), Transient),
        ("408", http(408), Transient),
        ("418 other", http(418), Transient),
        ("429", http(429), Transient),
        ("500", http(500), Transient),
        ("502", http(502), Transient),
        ("503", http(503), Transient),
        ("504", http(504), Transient),
        ("599", http(599), Transient),
        ("THROTTLED", graphql(&[Some("THROTTLED")]), Transient),
        (
            "INTERNAL_SERVER_ERROR",
            graphql(&[Some("INTERNAL_SERVER_ERROR")]),
            Transient,
        ),
        (
            "MAX_COMPLEXITY_EXCEEDED",
            graphql(&[Some("MAX_COMPLEXITY_EXCEEDED")]),
            Transient,
        ),
        ("unknown code", graphql(&[Some("SOMETHING_NEW")]), Transient),
        ("no code", graphql(&[None]), Transient),
        ("no errors", graphql(&[]), Transient),
        (
            "throttled + unknown",
            graphql(&[Some("THROTTLED"), Some("SOMETHING_NEW")]),
            Transient,
        ),
        (
            "login rejected",
            Error::new(
                ErrorKind::LoginRejected(LoginRejected::new(vec![], None)),
                Some(Operation::Create),
            ),
            Transient,
        ),
        ("not json", malformed(MalformedKind::NotJson), Transient),
        (
            "unexpected shape",
            malformed(MalformedKind::UnexpectedShape {
                path: "data".into(),
            }),
            Transient,
        ),
        (
            "missing data",
            malformed(MalformedKind::MissingData),
            Transient,
        ),
        (
            "missing payload",
            malformed(MalformedKind::MissingPayload),
            Transient,
        ),
        (
            "missing token",
            malformed(MalformedKind::MissingToken),
            Transient,
        ),
        (
            "too large",
            malformed(MalformedKind::BodyTooLarge { limit: 1 }),
            Transient,
        ),
        (
            "expiry not in future",
            malformed(MalformedKind::ExpiryNotInFuture {
                expires_at: chrono::DateTime::UNIX_EPOCH,
            }),
            Transient,
        ),
    ];
    let configs = [
        ConfigErrorKind::MissingEndpoint,
        ConfigErrorKind::ConflictingEndpoint,
        ConfigErrorKind::InvalidShop,
        ConfigErrorKind::InvalidEndpoint,
        ConfigErrorKind::InsecureEndpoint,
        ConfigErrorKind::InvalidApiVersion,
        ConfigErrorKind::MissingStorefrontToken,
        ConfigErrorKind::InvalidHeaderValue,
        ConfigErrorKind::BuyerIpWithoutPrivateToken,
        ConfigErrorKind::HttpClient,
    ]
    .into_iter()
    .map(|kind| ("config", ConfigError::new(kind, "wrong").into(), Shop));
    for (name, error, scope) in cases.into_iter().chain(configs) {
        assert_eq!(error.failure_scope(), scope, "{name}: {error:?}");
        // The scope agrees with the other two questions.
        if error.must_log_in_again() {
            assert_eq!(scope, Token, "{name}");
        }
        if error.is_transient() {
            assert_eq!(scope, Transient, "{name}");
        }
    }
}

#[test]
fn failure_scope_keeps_retry_after() {
    let error = Error::new(
        ErrorKind::Http(HttpError::new(429, Some(Duration::from_secs(7)), None)),
        Some(Operation::Renew),
    );
    assert_eq!(error.failure_scope(), FailureScope::Transient);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
}
