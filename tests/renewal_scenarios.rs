//! Data-driven scenarios for the renewal policy and engine, in the spirit of
//! AWS's credential-refresh test suite: each case in `data/renewal_scenarios.json`
//! gives a lifetime, a client clock offset, a script of renewal outcomes, and the
//! renewal times and events expected. Runs on paused tokio time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use storefront_token::mock::SimulatedClock;
use storefront_token::renewal::{
    EventReceiver, FailureClass, MemoryStore, Renewable, RenewalEngine, RenewalEvent, TokenId,
    TokenStore,
};
use storefront_token::Clock;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    lifetime_secs: i64,
    #[serde(default)]
    client_offset_secs: i64,
    #[serde(default)]
    issued_secs_ago: i64,
    run_secs: u64,
    script: Vec<String>,
    expect_calls: Vec<(i64, i64)>,
    #[serde(default)]
    expect_gaps: Vec<(i64, i64)>,
    #[serde(default)]
    expect_min_gap_secs: Option<i64>,
    #[serde(default)]
    expect_no_call_after_secs: Option<i64>,
    #[serde(default)]
    expect_events: Option<Vec<String>>,
    #[serde(default)]
    expect_last_event: Option<String>,
}

#[derive(Debug, Clone)]
struct FakeToken {
    expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct FakeError(&'static str, bool);

/// Renews by script, on the server's clock, recording when it was called.
struct ScriptedRenewer {
    server: SimulatedClock,
    lifetime: TimeDelta,
    offset: TimeDelta,
    script: Mutex<VecDeque<String>>,
    calls: Arc<Mutex<Vec<DateTime<Utc>>>>,
}

impl Renewable for ScriptedRenewer {
    type Credential = FakeToken;
    type Error = FakeError;

    fn expires_at(&self, token: &FakeToken) -> DateTime<Utc> {
        token.expires_at
    }

    async fn renew(&self, token: &FakeToken) -> Result<FakeToken, FakeError> {
        let now = self.server.now();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(now);
        }
        let step = {
            let mut script = self
                .script
                .lock()
                .map_err(|_| FakeError("poisoned", false))?;
            match script.front().map(String::as_str) {
                Some("transient*") => "transient".to_owned(),
                Some(_) => script.pop_front().unwrap_or_default(),
                None => "ok".to_owned(),
            }
        };
        match step.as_str() {
            "ok" => Ok(FakeToken {
                expires_at: now + self.lifetime,
            }),
            "same_expiry" => Ok(token.clone()),
            "rejected" => Err(FakeError("token rejected", true)),
            _ => Err(FakeError("service unavailable", false)),
        }
    }

    fn classify(&self, error: &FakeError) -> FailureClass {
        if error.1 {
            FailureClass::Token
        } else {
            FailureClass::Transient { retry_after: None }
        }
    }

    fn server_clock_offset(&self) -> Option<TimeDelta> {
        Some(self.offset)
    }
}

fn event_name(event: &RenewalEvent) -> &'static str {
    match event {
        RenewalEvent::Renewed { .. } => "Renewed",
        RenewalEvent::RenewalFailed { .. } => "RenewalFailed",
        RenewalEvent::Expired { .. } => "Expired",
        RenewalEvent::Rejected { .. } => "Rejected",
        RenewalEvent::LoggedInAgain { .. } => "LoggedInAgain",
        RenewalEvent::AdoptedFromStore { .. } => "AdoptedFromStore",
        RenewalEvent::StoreFailed { .. } => "StoreFailed",
        RenewalEvent::ClockJump { .. } => "ClockJump",
        RenewalEvent::ClockSkew { .. } => "ClockSkew",
        _ => "Other",
    }
}

fn drain(events: &mut EventReceiver) -> Vec<String> {
    let mut names = Vec::new();
    while let Ok(Some(event)) = events.try_recv() {
        names.push(event_name(&event).to_owned());
    }
    names
}

async fn run(case: &Case) -> Result<(), String> {
    let server = SimulatedClock::new(
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map_err(|e| e.to_string())?
            .into(),
    );
    let offset = TimeDelta::seconds(case.client_offset_secs);
    let client = server.with_offset(offset);
    let start = server.now();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let renewer = ScriptedRenewer {
        server: server.clone(),
        lifetime: TimeDelta::seconds(case.lifetime_secs),
        offset: -offset,
        script: Mutex::new(case.script.iter().cloned().collect()),
        calls: Arc::clone(&calls),
    };
    let issued = start - TimeDelta::seconds(case.issued_secs_ago);
    let token = FakeToken {
        expires_at: issued + TimeDelta::seconds(case.lifetime_secs),
    };
    // Held as a restart finds it: in the store.
    let store = Arc::new(MemoryStore::new());
    store
        .put(&TokenId::new("customer-42"), &token, issued, None)
        .await
        .map_err(|e| e.to_string())?;
    let engine = RenewalEngine::builder(renewer)
        .clock(client)
        .store(store)
        .build();
    let mut events = engine.events();
    let handle = engine.start().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_secs(case.run_secs)).await;
    handle.shutdown().await;

    let calls: Vec<i64> = calls
        .lock()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|at| (*at - start).num_seconds())
        .collect();
    let names = drain(&mut events);
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what}; calls {calls:?}; events {names:?}"))
        }
    };

    // Each expected window holds the first call after the previous window's.
    let mut index = 0;
    for (min, max) in &case.expect_calls {
        let found = calls[index..].iter().position(|at| at >= min && at <= max);
        check(found.is_some(), format!("no call in [{min}, {max}] s"))?;
        index += found.unwrap_or(0) + 1;
    }
    if case.expect_gaps.is_empty()
        && case.expect_min_gap_secs.is_none()
        && case.expect_no_call_after_secs.is_none()
    {
        check(
            calls.len() == case.expect_calls.len(),
            format!(
                "{} calls, expected {}",
                calls.len(),
                case.expect_calls.len()
            ),
        )?;
    }
    for (n, (min, max)) in case.expect_gaps.iter().enumerate() {
        let gap = calls.get(n + 1).zip(calls.get(n)).map(|(b, a)| b - a);
        check(
            gap.is_some_and(|g| g >= *min && g <= *max),
            format!("gap {n} is {gap:?}, expected [{min}, {max}]"),
        )?;
    }
    if let Some(min_gap) = case.expect_min_gap_secs {
        check(
            calls.windows(2).all(|w| w[1] - w[0] >= min_gap),
            format!("a gap under {min_gap} s"),
        )?;
    }
    if let Some(limit) = case.expect_no_call_after_secs {
        check(
            calls.iter().all(|at| *at < limit),
            format!("a call at or after {limit} s"),
        )?;
    }
    if let Some(expected) = &case.expect_events {
        check(
            &names == expected,
            format!("events differ from {expected:?}"),
        )?;
    }
    if let Some(last) = &case.expect_last_event {
        check(
            names.last() == Some(last),
            format!("last event is not {last}"),
        )?;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn renewal_scenarios() {
    let cases: Vec<Case> =
        serde_json::from_str(include_str!("data/renewal_scenarios.json")).unwrap_or_default();
    assert!(cases.len() >= 10, "the scenario file was read");
    let failures: Vec<String> = {
        let mut failures = Vec::new();
        for case in &cases {
            if let Err(why) = run(case).await {
                failures.push(format!("{}: {why}", case.name));
            }
        }
        failures
    };
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
