//! Request-path benchmark: our client's `renew_token` against a hand-written
//! reqwest + serde_json POST of the same mutation, both hitting the same local
//! server in the same run.
//!
//! Reports throughput at 32 requests in flight, p50 latency at 1 in flight, and
//! the client's CPU time per request (the client runs on one thread, whose CPU
//! time comes from `/proc/thread-self/schedstat`; the server runs on another).
//!
//! Run: `cargo bench --bench request_path`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use storefront_token::{AccessToken, RetryPolicy, StorefrontClient};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const PUBLIC_TOKEN: &str = "bench-public-token";
const CUSTOMER_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const RENEW_RESPONSE: &str = r#"{"data":{"customerAccessTokenRenew":{"customerAccessToken":{"accessToken":"0123456789abcdef0123456789abcdef","expiresAt":"2099-01-01T00:00:00Z"},"userErrors":[]}}}"#;
const RENEW_MUTATION: &str = include_str!("../graphql/customer_access_token_renew.graphql");

/// Requests in flight for the throughput figure.
const IN_FLIGHT: usize = 32;
/// Requests per throughput round.
const THROUGHPUT_REQUESTS: usize = 20_000;
const _: () = assert!(
    THROUGHPUT_REQUESTS % IN_FLIGHT == 0,
    "each task takes an equal share"
);
/// Requests per latency round.
const LATENCY_REQUESTS: usize = 4_000;
/// Rounds; each measures both contenders back to back (alternating which goes
/// first), and ratios are taken within a round, so drift in machine speed cancels.
/// The median round is reported.
const ROUNDS: usize = 9;

/// A fixed-response Storefront on its own thread and runtime, so its CPU time is
/// not counted as the client's.
fn start_server() -> SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            sender
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_request: Request<hyper::body::Incoming>| async {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .header("x-request-id", "bench")
                                .header("x-shopify-api-version", "2026-04")
                                .body(Full::new(Bytes::from_static(RENEW_RESPONSE.as_bytes())))
                                .expect("response"),
                        )
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    receiver.recv().expect("server address")
}

/// The hand-written floor: build the JSON body, POST it, check the status, decode.
#[derive(Clone)]
struct HandWritten {
    http: reqwest::Client,
    url: reqwest::Url,
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}
#[derive(Deserialize)]
struct Data {
    #[serde(rename = "customerAccessTokenRenew")]
    renew: Payload,
}
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "customerAccessToken")]
    token: Option<Token>,
    #[serde(rename = "userErrors")]
    user_errors: Vec<serde_json::Value>,
}
#[derive(Deserialize)]
struct Token {
    #[serde(rename = "accessToken")]
    access_token: String,
    #[serde(rename = "expiresAt")]
    expires_at: String,
}

impl HandWritten {
    async fn renew(&self, token: &str) -> (String, String) {
        let body = serde_json::to_vec(&serde_json::json!({
            "query": RENEW_MUTATION,
            "operationName": "CustomerAccessTokenRenew",
            "variables": { "customerAccessToken": token },
        }))
        .expect("encode");
        let response = self
            .http
            .post(self.url.clone())
            .body(body)
            .send()
            .await
            .expect("send");
        assert!(response.status().is_success());
        let bytes = response.bytes().await.expect("body");
        let envelope: Envelope = serde_json::from_slice(&bytes).expect("decode");
        assert!(envelope.data.renew.user_errors.is_empty());
        let token = envelope.data.renew.token.expect("token");
        (token.access_token, token.expires_at)
    }
}

#[derive(Clone)]
enum Contender {
    Ours(StorefrontClient, AccessToken),
    HandWritten(HandWritten),
}

impl Contender {
    fn name(&self) -> &'static str {
        match self {
            Contender::Ours(..) => "storefront-token",
            Contender::HandWritten(_) => "hand-written reqwest+serde_json",
        }
    }

    async fn renew_once(&self) {
        match self {
            Contender::Ours(client, token) => {
                let renewed = client.renew_token(token).await.expect("renew");
                std::hint::black_box(renewed);
            }
            Contender::HandWritten(client) => {
                std::hint::black_box(client.renew(CUSTOMER_TOKEN).await);
            }
        }
    }
}

/// CPU time this thread has run, from the scheduler's own accounting.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

struct Round {
    requests_per_second: f64,
    cpu_per_request: Duration,
}

async fn throughput(contender: &Contender) -> Round {
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let contender = contender.clone();
        tasks.spawn(async move {
            for _ in 0..THROUGHPUT_REQUESTS / IN_FLIGHT {
                contender.renew_once().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let cpu = thread_cpu() - cpu_before;
    Round {
        requests_per_second: THROUGHPUT_REQUESTS as f64 / elapsed.as_secs_f64(),
        cpu_per_request: cpu / THROUGHPUT_REQUESTS as u32,
    }
}

async fn p50_latency(contender: &Contender) -> Duration {
    let mut samples = Vec::with_capacity(LATENCY_REQUESTS);
    for _ in 0..LATENCY_REQUESTS {
        let started = Instant::now();
        contender.renew_once().await;
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` asks benches to list their tests.
    }
    let addr = start_server();
    let url = format!("http://{addr}/api/2026-04/graphql.json");
    // The client side runs on this one thread, so its CPU time is the client's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let ours = Contender::Ours(
            StorefrontClient::builder()
                .endpoint(&url)
                .public_token(PUBLIC_TOKEN)
                .retry_policy(RetryPolicy::never())
                .build()
                .expect("client"),
            AccessToken::new(CUSTOMER_TOKEN),
        );
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", reqwest::header::HeaderValue::from_static("application/json"));
        headers.insert("x-shopify-storefront-access-token", reqwest::header::HeaderValue::from_static(PUBLIC_TOKEN));
        let floor = Contender::HandWritten(HandWritten {
            http: reqwest::Client::builder().default_headers(headers).build().expect("reqwest client"),
            url: reqwest::Url::parse(&url).expect("url"),
        });
        let contenders = [floor, ours];
        // For profiling one contender alone: STOREFRONT_BENCH_PROFILE=0 (floor) or 1 (ours).
        if let Some(index) = std::env::var("STOREFRONT_BENCH_PROFILE").ok().and_then(|v| v.parse::<usize>().ok()) {
            let contender = &contenders[index.min(1)];
            for _ in 0..2_000 {
                contender.renew_once().await;
            }
            return;
        }
        for contender in &contenders {
            for _ in 0..500 {
                contender.renew_once().await; // warm up connections and caches
            }
        }
        let mut rounds: Vec<Vec<Round>> = vec![Vec::new(), Vec::new()];
        let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(), Vec::new()];
        for round in 0..ROUNDS {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                rounds[index].push(throughput(&contenders[index]).await);
                latencies[index].push(p50_latency(&contenders[index]).await);
            }
        }
        let ratio = |per_round: &dyn Fn(usize, usize) -> f64| {
            median((0..ROUNDS).map(|round| per_round(1, round) / per_round(0, round)).collect())
        };
        let throughput_ratio = ratio(&|index, round| rounds[index][round].requests_per_second);
        let latency_ratio = ratio(&|index, round| latencies[index][round].as_secs_f64());
        let cpu_ratio = ratio(&|index, round| rounds[index][round].cpu_per_request.as_secs_f64());

        println!(
            "request path: renew, {IN_FLIGHT} in flight for throughput, 1 in flight for p50; \
             {ROUNDS} paired rounds, medians"
        );
        println!("{:<34} {:>12} {:>12} {:>16}", "client", "req/s @32", "p50 @1", "client CPU/req");
        for (index, contender) in contenders.iter().enumerate() {
            let rps = median(rounds[index].iter().map(|r| r.requests_per_second).collect());
            let p50 = median(latencies[index].clone());
            let cpu = median(rounds[index].iter().map(|r| r.cpu_per_request).collect());
            println!(
                "{:<34} {:>12.0} {:>10.1}µs {:>14.2}µs",
                contender.name(),
                rps,
                p50.as_secs_f64() * 1e6,
                cpu.as_secs_f64() * 1e6
            );
        }
        println!(
            "ratios (ours / hand-written, median of per-round ratios): throughput {throughput_ratio:.3}x, \
             p50 latency {latency_ratio:.3}x, CPU per request {cpu_ratio:.3}x"
        );
    });
}
