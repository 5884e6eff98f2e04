//! `watch`: keeps a token alive until Ctrl-C, with a live status line on a
//! terminal, one line per event otherwise, or JSON; with the saved session's
//! token, every renewed token is saved.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Local;
use serde_json::json;
use storefront_token::renewal::{
    EventError, EventReceiver, RenewalEngine, RenewalEvent, StorefrontRenewer, TokenKeeper,
};
use storefront_token::{CustomerAccessToken, ErrorReport, RetryPolicy};

use super::args::{Connection, TokenSource};
use super::commands::{subject, subject_client, Subject};
use super::events::{dead_token, event_json, event_text, renewed_fingerprint};
use super::output::{truncated, Output};
use super::session::{Session, SessionPlace};
use super::status_line::StatusLine;
use super::{failure, renewal_failure, Failure};

/// How often `watch` redraws its status line.
pub(crate) const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// Erases the terminal line the cursor is on and returns to its start.
pub(crate) const CLEAR_LINE: &str = "\r\x1b[2K";

pub(crate) async fn watch(
    out: &Output,
    place: &SessionPlace,
    connection: &Connection,
    source: &TokenSource,
    show: bool,
) -> Result<(), Failure> {
    let subject = subject(place, source).await?;
    // One quick retry for the first renewal; after that the keeper retries,
    // spread over the time left before expiry.
    let client = subject_client(connection, &subject, |builder| {
        builder.retry_policy(RetryPolicy::default().with_max_attempts(2))
    })?;
    // The Storefront API cannot tell a token's expiry: renewing once learns it.
    let first = client.renew_token(subject.token()).await?;
    let mut saver = Saver::new(subject);
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client)).build();
    let events = engine.events(); // before start: nothing is missed
    let keeper = TokenKeeper::start_with(engine, first.clone())
        .await
        .map_err(renewal_failure)?;
    // Listening before "watching" is printed: a Ctrl-C right after it counts.
    let mut interrupt = Interrupt::new()?;
    let mut screen = Screen::new(out.json, show);
    // Saved before "watching" is printed: whoever reads that line finds it.
    saver.save(&first, &mut screen).await;
    screen.started(&first);
    let outcome =
        watch_until_stopped(&keeper, events, &mut screen, &mut saver, &mut interrupt).await;
    keeper.shutdown().await;
    outcome
}

/// Follows the keeper's events and redraws the status line until Ctrl-C (ok) or
/// until the token is dead (exit 3).
pub(crate) async fn watch_until_stopped(
    keeper: &TokenKeeper<CustomerAccessToken>,
    mut events: EventReceiver,
    screen: &mut Screen,
    saver: &mut Saver,
    interrupt: &mut Interrupt,
) -> Result<(), Failure> {
    let mut ticker = tokio::time::interval(STATUS_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            signal = interrupt.recv() => {
                signal?;
                screen.stopped();
                return Ok(());
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let current = keeper.current();
                    screen.event(&event, current.as_ref());
                    if let Some(failure) = dead_token(&event) {
                        screen.close();
                        return Err(failure);
                    }
                    let renewed = matches!(
                        event,
                        RenewalEvent::Renewed { .. } | RenewalEvent::LoggedInAgain { .. }
                    );
                    if let (true, Some(token)) = (renewed, &current) {
                        saver.save(token, screen).await;
                    }
                    // Redraw from the keeper's new schedule at once, not from
                    // the one the renewal just replaced.
                    if screen.live() {
                        if let Some(status) = keeper.status().await {
                            screen.draw(&StatusLine::from_status(&status));
                        }
                    }
                }
                Err(EventError::Lagged(missed)) => screen.lagged(missed),
                Err(error) => return Err(failure(error)),
            },
            _ = ticker.tick(), if screen.live() => {
                if let Some(status) = keeper.status().await {
                    screen.draw(&StatusLine::from_status(&status));
                }
            }
        }
    }
}

/// How `watch` shows what happens: a live status line on a terminal, one JSON
/// object per event with `--json`, or one text line per event otherwise.
pub(crate) struct Screen {
    mode: ScreenMode,
    show_token: bool,
    last_result: String,
    last_line: Option<StatusLine>,
    /// Set once stopped (or closed): the status line is never drawn again.
    done: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScreenMode {
    Live,
    Json,
    Lines,
}

impl Screen {
    pub(crate) fn new(json: bool, show_token: bool) -> Self {
        let mode = if json {
            ScreenMode::Json
        } else if std::io::stdout().is_terminal() {
            ScreenMode::Live
        } else {
            ScreenMode::Lines
        };
        Screen {
            mode,
            show_token,
            last_result: "started".to_owned(),
            last_line: None,
            done: false,
        }
    }

    pub(crate) fn live(&self) -> bool {
        self.mode == ScreenMode::Live && !self.done
    }

    pub(crate) fn started(&mut self, token: &CustomerAccessToken) {
        let fingerprint = token.access_token().fingerprint().to_string();
        let mut value = json!({
            "event": "watching",
            "fingerprint": fingerprint,
            "expires_at": token.expires_at().to_rfc3339(),
        });
        let mut text = format!(
            "watching token {fingerprint}: renewed once to learn its expiry, {} (ctrl-c to stop)",
            token.expires_at().to_rfc3339()
        );
        self.with_token(&mut text, &mut value, Some(token));
        self.last_result = format!("renewed at {}", Local::now().format("%H:%M:%S"));
        self.line(text, value);
        if self.live() {
            self.draw(&StatusLine::from_token(token));
        }
    }

    pub(crate) fn event(&mut self, event: &RenewalEvent, current: Option<&CustomerAccessToken>) {
        let now = Local::now().format("%H:%M:%S");
        match event {
            RenewalEvent::Renewed { .. } | RenewalEvent::LoggedInAgain { .. } => {
                self.last_result = format!("renewed at {now}");
            }
            RenewalEvent::RenewalFailed { error, .. } => {
                let report = ErrorReport::new(error).to_string();
                self.last_result = format!("failed at {now}: {}", truncated(&report, 60));
            }
            RenewalEvent::Expired { .. } => self.last_result = "expired".to_owned(),
            RenewalEvent::Rejected { .. } => self.last_result = "rejected".to_owned(),
            _ => {}
        }
        let mut text = event_text(event, current);
        let mut value = event_json(event, current);
        if renewed_fingerprint(event, current).is_some() {
            self.with_token(&mut text, &mut value, current);
        }
        self.line(text, value);
    }

    pub(crate) fn lagged(&mut self, missed: u64) {
        self.line(
            format!("missed {missed} events (the terminal was too slow)"),
            json!({ "event": "lagged", "missed": missed }),
        );
    }

    /// The last line: the status line is replaced by it, and never drawn again.
    pub(crate) fn stopped(&mut self) {
        self.last_line = None;
        self.line(
            "stopped (ctrl-c); the token is no longer renewed".to_owned(),
            json!({ "event": "stopped" }),
        );
        self.done = true;
    }

    /// Erases the status line for good, so an error message starts on a clean
    /// line.
    pub(crate) fn close(&mut self) {
        if self.live() {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{CLEAR_LINE}");
            let _ = stdout.flush();
            self.last_line = None;
        }
        self.done = true;
    }

    /// Adds the token itself, only with `--show-token`.
    pub(crate) fn with_token(
        &self,
        text: &mut String,
        value: &mut serde_json::Value,
        token: Option<&CustomerAccessToken>,
    ) {
        if let (true, Some(token)) = (self.show_token, token) {
            let secret = token.access_token().expose_secret();
            value["access_token"] = json!(secret);
            text.push_str(&format!("\naccess token: {secret}"));
        }
    }

    /// Prints a permanent line (above the status line on a terminal).
    pub(crate) fn line(&mut self, text: String, value: serde_json::Value) {
        match self.mode {
            ScreenMode::Json => println!("{value}"),
            ScreenMode::Lines => println!("{text}"),
            ScreenMode::Live => {
                println!("{CLEAR_LINE}{text}");
                if let Some(line) = self.last_line.take() {
                    self.draw(&line);
                }
            }
        }
    }

    /// Rewrites the status line in place (never once stopped).
    pub(crate) fn draw(&mut self, line: &StatusLine) {
        if !self.live() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{CLEAR_LINE}{}", line.render(&self.last_result));
        let _ = stdout.flush();
        self.last_line = Some(line.clone());
    }
}

/// Saves each renewed token in the saved session, when watching the session's
/// token; stops (and says so) once the session was replaced or removed by
/// another command.
pub(crate) struct Saver {
    session: Option<(Session, String, u64)>,
}

impl Saver {
    fn new(subject: Subject) -> Self {
        let session = match subject {
            Subject::Saved { session, saved } => Some((session, saved.endpoint, saved.version)),
            Subject::Given(_) => None,
        };
        Saver { session }
    }

    async fn save(&mut self, token: &CustomerAccessToken, screen: &mut Screen) {
        let Some((session, endpoint, version)) = &mut self.session else {
            return;
        };
        match session.update(endpoint, *version, token).await {
            Ok(Some(stored)) => *version = stored,
            Ok(None) => {
                screen.line(
                    "the saved session was replaced or removed (login or logout elsewhere): \
                     renewed tokens are no longer saved"
                        .to_owned(),
                    json!({ "event": "session not saved", "reason": "changed meanwhile" }),
                );
                self.session = None;
            }
            Err(failure) => {
                let report = ErrorReport::new(failure.error.as_ref()).to_string();
                screen.line(
                    format!("could not save the renewed token: {report}"),
                    json!({ "event": "session not saved", "error": report }),
                );
            }
        }
    }
}

/// Ctrl-C, caught from the moment this is made (on Unix; elsewhere from the
/// first wait).
pub(crate) struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn new() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            let kind = tokio::signal::unix::SignalKind::interrupt();
            let signal = tokio::signal::unix::signal(kind)
                .map_err(|error| failure(format!("could not listen for ctrl-c: {error}")))?;
            Ok(Interrupt { signal })
        }
        #[cfg(not(unix))]
        Ok(Interrupt {})
    }

    async fn recv(&mut self) -> Result<(), Failure> {
        #[cfg(unix)]
        {
            self.signal.recv().await;
            Ok(())
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c()
            .await
            .map_err(|error| failure(format!("could not wait for ctrl-c: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::status_line::tests::status_line;
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn the_status_line_is_never_drawn_once_stopped() {
        let mut screen = Screen {
            mode: ScreenMode::Live,
            show_token: false,
            last_result: "renewed".to_owned(),
            last_line: Some(status_line(TimeDelta::seconds(30))),
            done: false,
        };
        screen.stopped();
        assert!(!screen.live());
        assert!(screen.last_line.is_none(), "nothing left to redraw");
        screen.draw(&status_line(TimeDelta::seconds(30)));
        assert!(screen.last_line.is_none(), "drawn after stopped");
    }
}
