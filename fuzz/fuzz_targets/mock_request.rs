//! The mock Storefront's request handling: routing, auth, content type, the JSON
//! body, GraphQL parse, validation and execution, on a fresh mock per input.
//! The input is an HTTP/1 request as text: `METHOD /path`, header lines, an
//! empty line, the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront_token::__fuzz;

fuzz_target!(|data: &[u8]| {
    let message = storefront_token_fuzz::parse(data);
    let (Some(method), Some(path)) = (message.first_line.first(), message.first_line.get(1)) else {
        return;
    };
    let Some(response) = __fuzz::mock_request(method, path, &message.headers, message.body) else {
        return;
    };
    // The mock never fails on its own, and says what it sends.
    assert!(
        response.status < 500,
        "status {}: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    let json = response
        .headers
        .iter()
        .any(|(name, value)| name == "content-type" && value.starts_with(b"application/json"));
    if json {
        let body: serde_json::Value = match serde_json::from_slice(&response.body) {
            Ok(body) => body,
            Err(error) => panic!(
                "not JSON ({error}): {:?}",
                String::from_utf8_lossy(&response.body)
            ),
        };
        if response.status == 200 {
            assert!(
                body.get("data").is_some() || body.get("errors").is_some(),
                "neither data nor errors: {body}"
            );
        }
    }
});
