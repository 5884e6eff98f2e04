//! The response path of every operation: a made-up status, headers and body go
//! through the client's retries, body cap, `Retry-After` and `Date` handling,
//! decoding and error mapping. The first line of the input is
//! `<create|renew|delete|customer> <status> [chunked] [broken] [x<repeat>]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storefront_token::__fuzz::{self, Call, CannedResponse};
use storefront_token::ErrorReport;

/// The largest body sent (the body times its repeat): past the 1 MiB cap, no more.
const MAX_TOTAL: usize = 2 * 1024 * 1024 + 1;

fuzz_target!(|data: &[u8]| {
    let message = storefront_token_fuzz::parse(data);
    let mut words = message.first_line.iter();
    let operation = match words.next().copied() {
        Some(b"create") => Call::Create,
        Some(b"renew") => Call::Renew,
        Some(b"delete") => Call::Delete,
        Some(b"customer") => Call::Customer,
        other => match other.and_then(|word| word.first()).copied().unwrap_or(0) % 4 {
            0 => Call::Create,
            1 => Call::Renew,
            2 => Call::Delete,
            _ => Call::Customer,
        },
    };
    let status = words
        .next()
        .and_then(|word| std::str::from_utf8(word).ok())
        .and_then(|word| word.parse().ok())
        .unwrap_or(200);
    let mut response = CannedResponse {
        status,
        headers: message.headers,
        body: message.body.to_vec(),
        repeat: 1,
        ..CannedResponse::default()
    };
    for word in words {
        match *word {
            b"chunked" => response.chunked = true,
            b"broken" => response.broken = true,
            [b'x', count @ ..] => {
                let count: usize = std::str::from_utf8(count)
                    .ok()
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                response.repeat = count.clamp(1, MAX_TOTAL / response.body.len().max(1));
            }
            _ => {}
        }
    }

    match __fuzz::call(operation, response) {
        Ok(_) => {}
        Err(error) => {
            // Every accessor answers, and no secret we sent is ever printed.
            let _ = (
                error.is_transient(),
                error.must_log_in_again(),
                error.failure_scope(),
                error.retry_after(),
                error.status(),
                error.request_id(),
                error.kind(),
            );
            // (Only the secret the operation sent: the others are just text here.)
            let sent = match operation {
                Call::Create => __fuzz::PASSWORD,
                Call::Renew | Call::Delete | Call::Customer => __fuzz::TOKEN,
            };
            for printed in [error.to_string(), ErrorReport::new(&error).to_string()] {
                assert!(!printed.contains(sent), "a secret is printed: {printed}");
            }
        }
    }
});
