//! One connection to Redis shared by every clone of the store: the scripts,
//! a deadline on every call, and the round-trip counter.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Cmd, Pipeline, Value};

use crate::renewal::StoreError;

/// A Lua script: its code (sent with `EVAL` when Redis does not know it) and
/// its SHA-1 (sent with `EVALSHA`).
#[derive(Debug)]
pub(super) struct LuaScript {
    name: &'static str,
    code: &'static str,
    script: redis::Script,
}

impl LuaScript {
    fn new(name: &'static str, code: &'static str) -> Self {
        Self {
            name,
            code,
            script: redis::Script::new(code),
        }
    }
}

/// Every script the store runs, one per call.
#[derive(Debug)]
pub(super) struct Scripts {
    pub(super) put: LuaScript,
    pub(super) try_lease: LuaScript,
    pub(super) release_lease: LuaScript,
    pub(super) delete: LuaScript,
    pub(super) reseal: LuaScript,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            put: LuaScript::new("put", include_str!("lua/put.lua")),
            try_lease: LuaScript::new("try_lease", include_str!("lua/try_lease.lua")),
            release_lease: LuaScript::new("release_lease", include_str!("lua/release_lease.lua")),
            delete: LuaScript::new("delete", include_str!("lua/delete.lua")),
            reseal: LuaScript::new("reseal", include_str!("lua/reseal.lua")),
        }
    }

    fn all(&self) -> [&LuaScript; 5] {
        [
            &self.put,
            &self.try_lease,
            &self.release_lease,
            &self.delete,
            &self.reseal,
        ]
    }
}

/// The connection manager (reconnects by itself), a deadline per call, and
/// how many round trips have been made.
pub(super) struct Connection {
    manager: ConnectionManager,
    call_timeout: Duration,
    /// Whether each call holds tokio's paused clock (tests only).
    hold_paused_time: bool,
    round_trips: AtomicU64,
    pub(super) scripts: Scripts,
}

impl Connection {
    pub(super) fn new(
        manager: ConnectionManager,
        call_timeout: Duration,
        hold_paused_time: bool,
    ) -> Self {
        Self {
            manager,
            call_timeout,
            hold_paused_time,
            round_trips: AtomicU64::new(0),
            scripts: Scripts::new(),
        }
    }

    pub(super) fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// One command, one round trip.
    pub(super) async fn query(&self, cmd: &Cmd, what: What<'_>) -> Result<Value, StoreError> {
        let mut manager = self.manager.clone();
        let reply = self
            .round_trip(cmd.query_async::<Value>(&mut manager))
            .await;
        settle(what, self.call_timeout, reply)
    }

    /// A pipeline of commands, one round trip; one reply per command.
    pub(super) async fn pipeline(
        &self,
        pipeline: &Pipeline,
        what: What<'_>,
    ) -> Result<Vec<Value>, StoreError> {
        let mut manager = self.manager.clone();
        let replies = self
            .round_trip(pipeline.query_async::<Vec<Value>>(&mut manager))
            .await;
        settle(what, self.call_timeout, replies)
    }

    /// Runs a script: `EVALSHA` (one round trip), and only when Redis does not
    /// know the script (a restarted or flushed server) `EVAL` with its code,
    /// which also caches it.
    pub(super) async fn eval(
        &self,
        script: &LuaScript,
        keys: &[&str],
        args: &[&[u8]],
        what: What<'_>,
    ) -> Result<Value, StoreError> {
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(script.script.get_hash()).arg(keys.len());
        let mut eval = redis::cmd("EVAL");
        eval.arg(script.code).arg(keys.len());
        for cmd in [&mut evalsha, &mut eval] {
            for key in keys {
                cmd.arg(*key);
            }
            for arg in args {
                cmd.arg(*arg);
            }
        }
        let mut manager = self.manager.clone();
        let mut reply = self
            .round_trip(evalsha.query_async::<Value>(&mut manager))
            .await;
        if matches!(&reply, Ok(Err(error))
            if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
        {
            tracing::debug!(
                script = script.name,
                "Redis did not know the script; sending it"
            );
            reply = self
                .round_trip(eval.query_async::<Value>(&mut manager))
                .await;
        }
        settle(what, self.call_timeout, reply)
    }

    /// Counts a round trip and bounds it by the call timeout (holding tokio's
    /// paused clock meanwhile if asked to).
    async fn round_trip<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<redis::RedisResult<T>, tokio::time::error::Elapsed> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let _hold = self
            .hold_paused_time
            .then(|| PausedTimeHold::new(self.call_timeout));
        tokio::time::timeout(self.call_timeout, call).await
    }

    /// Loads every script (`SCRIPT LOAD`, one pipeline), so that pipelines of
    /// `EVALSHA` find them.
    pub(super) async fn load_scripts(&self) -> Result<(), StoreError> {
        let mut pipeline = redis::pipe();
        for script in self.scripts.all() {
            pipeline.cmd("SCRIPT").arg("LOAD").arg(script.code);
        }
        self.pipeline(&pipeline, &"loading the scripts").await?;
        Ok(())
    }

    /// An `EVALSHA` of `script` on one key, for a pipeline (after [`load_scripts`](Self::load_scripts)).
    pub(super) fn evalsha_in(
        pipeline: &mut Pipeline,
        script: &LuaScript,
        key: &[u8],
        args: &[&[u8]],
    ) {
        let cmd = pipeline
            .cmd("EVALSHA")
            .arg(script.script.get_hash())
            .arg(1)
            .arg(key);
        for arg in args {
            cmd.arg(*arg);
        }
    }
}

/// What a call was doing, for its error: "put of token a", "scanning".
pub(super) type What<'a> = &'a (dyn std::fmt::Display + Sync);

/// While alive, keeps tokio's paused clock from auto-advancing (tokio holds it
/// while a blocking task runs), so a test on paused time does not jump to its
/// next timer, nor fire the call's deadline, while Redis answers over a real
/// socket. The blocking task ends when the hold is dropped, or after `limit`
/// of real time: a Redis that never answers still fails the call.
pub(super) struct PausedTimeHold {
    _release: std::sync::mpsc::Sender<()>,
}

impl PausedTimeHold {
    pub(super) fn new(limit: Duration) -> Self {
        let (release, released) = std::sync::mpsc::channel::<()>();
        drop(tokio::task::spawn_blocking(move || {
            // Returns when the sender is dropped (the call is over) or at the limit.
            let _ = released.recv_timeout(limit);
        }));
        Self { _release: release }
    }
}

fn settle<T>(
    what: What<'_>,
    limit: Duration,
    result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
) -> Result<T, StoreError> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StoreError::new(
            format!("redis: {what} failed"),
            Some(Box::new(error)),
        )),
        Err(_) => Err(StoreError::new(
            format!("redis: {what}: no answer within {limit:?}"),
            None,
        )),
    }
}
