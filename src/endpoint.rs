//! Turning a shop name, domain or URL into the Storefront GraphQL endpoint.

use std::net::IpAddr;

use reqwest::Url;

use crate::error::{ConfigError, ConfigErrorKind};

/// The API version the crate is written against.
pub const DEFAULT_API_VERSION: &str = "2026-04";

/// Builds `https://{domain}/api/{version}/graphql.json` from a shop handle
/// (`my-shop`), a myshopify domain (`my-shop.myshopify.com`), a custom domain, or
/// any of those written as an `https://` URL with an optional trailing slash.
pub(crate) fn shop_endpoint(shop: &str, api_version: &str) -> Result<Url, ConfigError> {
    let invalid =
        |why: &str| ConfigError::new(ConfigErrorKind::InvalidShop, format!("invalid shop: {why}"));
    let trimmed = shop.trim();
    let without_scheme = match trimmed.split_once("://") {
        Some(("https", rest)) => rest,
        Some(("http", _)) => {
            return Err(ConfigError::new(
                ConfigErrorKind::InsecureEndpoint,
                "a shop must be reached over https; use `endpoint` for a local http server",
            ))
        }
        Some(_) => return Err(invalid("only https:// is supported")),
        None => trimmed,
    };
    let host = without_scheme.trim_end_matches('/');
    if host.is_empty() {
        return Err(invalid("it is empty"));
    }
    // A URL parser reads `\` as `/` in an https URL: `a\.` would become host `a`.
    if host.contains(['/', '\\', '?', '#', '@', ':']) || host.chars().any(char::is_whitespace) {
        return Err(invalid(
            "give a shop name or domain, without a path or port",
        ));
    }
    let host = host.to_ascii_lowercase();
    let domain = if host.contains('.') {
        host
    } else if is_dns_label(&host, false) {
        format!("{host}.myshopify.com")
    } else {
        return Err(invalid(
            "a shop name holds only letters, digits and hyphens, starts and ends with a letter or digit, and is at most 63 characters",
        ));
    };
    let url = format!("https://{domain}/api/{api_version}/graphql.json");
    let url = Url::parse(&url).map_err(|error| invalid("not a valid domain").with_source(error))?;
    // `Url` accepts hosts no TLS library or resolver will (`-.example.com`): refuse
    // them here, where the mistake is made, rather than retry them as network
    // failures.
    match url.host() {
        Some(url::Host::Domain(domain)) if is_dns_name(domain, false) => Ok(url),
        _ => Err(invalid(
            "not a valid domain: each dot-separated part holds letters, digits and inner hyphens",
        )),
    }
}

/// A DNS label: 1 to 63 letters, digits and hyphens (and underscores when
/// `underscore`), not starting or ending with a hyphen.
fn is_dns_label(label: &str, underscore: bool) -> bool {
    (1..=63).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || (underscore && b == b'_'))
}

/// A host name made of DNS labels (a trailing dot allowed), at most 253 bytes.
fn is_dns_name(host: &str, underscore: bool) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.len() <= 253 && host.split('.').all(|label| is_dns_label(label, underscore))
}

/// Checks a full endpoint URL: `https`, or `http` on a loopback host only.
pub(crate) fn checked_endpoint(endpoint: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(endpoint.trim()).map_err(|error| {
        ConfigError::new(
            ConfigErrorKind::InvalidEndpoint,
            "the endpoint is not a valid url",
        )
        .with_source(error)
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            ConfigErrorKind::InvalidEndpoint,
            "the endpoint must not carry credentials",
        ));
    }
    if let Some(url::Host::Domain(domain)) = url.host() {
        if !is_dns_name(domain, true) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidEndpoint,
                "the endpoint's host is not a valid domain name",
            ));
        }
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::new(
            ConfigErrorKind::InsecureEndpoint,
            "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https",
        )),
        _ => Err(ConfigError::new(
            ConfigErrorKind::InvalidEndpoint,
            "the endpoint must be an http(s) url",
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Checks an API version: `YYYY-MM` or `unstable`.
pub(crate) fn checked_api_version(version: &str) -> Result<&str, ConfigError> {
    let bytes = version.as_bytes();
    let dated = bytes.len() == 7
        && bytes[4] == b'-'
        && bytes[..4].iter().chain(&bytes[5..]).all(u8::is_ascii_digit);
    if dated || version == "unstable" {
        Ok(version)
    } else {
        Err(ConfigError::new(
            ConfigErrorKind::InvalidApiVersion,
            "the api version must look like 2026-04 or be `unstable`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANT: &str = "https://my-shop.myshopify.com/api/2026-04/graphql.json";

    #[test]
    fn shop_forms_normalise_to_one_endpoint() {
        for shop in [
            "my-shop",
            "My-Shop",
            "my-shop.myshopify.com",
            "https://my-shop.myshopify.com",
            "https://my-shop.myshopify.com/",
            "  my-shop.myshopify.com/ ",
        ] {
            assert_eq!(
                shop_endpoint(shop, "2026-04")
                    .map(|u| u.to_string())
                    .ok()
                    .as_deref(),
                Some(WANT),
                "{shop}"
            );
        }
    }

    #[test]
    fn custom_domains_are_allowed() {
        let url = shop_endpoint("shop.example.com", "2026-01").map(|u| u.to_string());
        assert_eq!(
            url.ok().as_deref(),
            Some("https://shop.example.com/api/2026-01/graphql.json")
        );
    }

    #[test]
    fn bad_shops_are_refused_with_a_kind() {
        let long = "a".repeat(64);
        let cases = [
            ("", ConfigErrorKind::InvalidShop),
            ("my shop", ConfigErrorKind::InvalidShop),
            ("my_shop!", ConfigErrorKind::InvalidShop),
            ("my-shop.myshopify.com/admin", ConfigErrorKind::InvalidShop),
            ("-", ConfigErrorKind::InvalidShop),
            ("-shop", ConfigErrorKind::InvalidShop),
            ("shop-", ConfigErrorKind::InvalidShop),
            ("-.myshopify.com", ConfigErrorKind::InvalidShop),
            ("shop..example.com", ConfigErrorKind::InvalidShop),
            ("shop_1.example.com", ConfigErrorKind::InvalidShop),
            (long.as_str(), ConfigErrorKind::InvalidShop),
            ("ftp://my-shop", ConfigErrorKind::InvalidShop),
            // Found by fuzzing: a backslash reads as `/` in a URL, so these became
            // `https://a/api/…` and `https://my-shop/.evil.com/api/…`.
            ("A\\.", ConfigErrorKind::InvalidShop),
            ("\u{7f4}\\..", ConfigErrorKind::InvalidShop),
            ("my-shop\\.evil.com", ConfigErrorKind::InvalidShop),
            (
                "http://my-shop.myshopify.com",
                ConfigErrorKind::InsecureEndpoint,
            ),
        ];
        for (shop, kind) in cases {
            assert_eq!(
                shop_endpoint(shop, "2026-04").map_err(|e| e.kind()).err(),
                Some(kind),
                "{shop:?}"
            );
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080/api/2026-04/graphql.json",
            "http://127.1.2.3/graphql.json",
            "http://[::1]:9/graphql.json",
            "http://localhost:1/x",
            "https://shop.example.com/api/2026-04/graphql.json",
        ] {
            assert!(checked_endpoint(ok).is_ok(), "{ok}");
        }
        for (bad, kind) in [
            (
                "http://example.com/graphql.json",
                ConfigErrorKind::InsecureEndpoint,
            ),
            (
                "http://10.0.0.1/graphql.json",
                ConfigErrorKind::InsecureEndpoint,
            ),
            ("not a url", ConfigErrorKind::InvalidEndpoint),
            ("ftp://127.0.0.1/x", ConfigErrorKind::InvalidEndpoint),
            (
                "https://user:pw@shop.example.com/",
                ConfigErrorKind::InvalidEndpoint,
            ),
            (
                "https://-.myshopify.com/api/2026-04/graphql.json",
                ConfigErrorKind::InvalidEndpoint,
            ),
            (
                "https://shop-.example.com/graphql.json",
                ConfigErrorKind::InvalidEndpoint,
            ),
        ] {
            assert_eq!(
                checked_endpoint(bad).map_err(|e| e.kind()).err(),
                Some(kind),
                "{bad}"
            );
        }
    }

    #[test]
    fn api_versions() {
        for ok in ["2026-04", "2025-01", "unstable"] {
            assert!(checked_api_version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "2026-4", "latest", "2026/04", "2026-04/../x"] {
            assert!(checked_api_version(bad).is_err(), "{bad}");
        }
    }
}
