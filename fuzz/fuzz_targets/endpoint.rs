//! The shop and endpoint normalisation, directly and through the builder. The
//! input is `<shop or endpoint>\n<api version>` (the version is optional).
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront_token::__fuzz;
use storefront_token::StorefrontClient;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (target, version) = text.split_once('\n').unwrap_or((text, "2026-04"));
    let version_ok = __fuzz::checked_api_version(version);

    let shop = __fuzz::shop_endpoint(target, version);
    if version_ok {
        if let Ok(url) = &shop {
            // An https URL of the expected form, and normalising its host again
            // gives the same URL.
            let suffix = format!("/api/{version}/graphql.json");
            let host = url
                .strip_prefix("https://")
                .and_then(|rest| rest.strip_suffix(&suffix));
            let Some(host) = host else {
                panic!("{target:?} became {url:?}");
            };
            assert!(
                !host.is_empty() && !host.contains('/'),
                "{target:?} → {url:?}"
            );
            assert_eq!(
                __fuzz::shop_endpoint(host, version).ok().as_deref(),
                Some(url.as_str()),
                "{target:?} → {url:?} is not stable"
            );
        }
    }
    let endpoint = __fuzz::checked_endpoint(target);
    if let Ok(url) = &endpoint {
        assert!(
            url.starts_with("https://") || url.starts_with("http://"),
            "{target:?} → {url:?}"
        );
    }

    // The builder agrees with the functions it uses.
    let built = StorefrontClient::builder()
        .shop(target)
        .api_version(version)
        .public_token("token")
        .build();
    match (&built, version_ok, &shop) {
        (Ok(client), true, Ok(url)) => assert_eq!(client.endpoint(), url),
        (Err(_), true, Err(_)) | (Err(_), false, _) => {}
        _ => panic!("builder and shop_endpoint disagree on {target:?} {version:?}"),
    }
    let built = StorefrontClient::builder()
        .endpoint(target)
        .public_token("token")
        .build();
    match (&built, &endpoint) {
        (Ok(client), Ok(url)) => assert_eq!(client.endpoint(), url),
        (Err(_), Err(_)) => {}
        _ => panic!("builder and checked_endpoint disagree on {target:?}"),
    }
});
