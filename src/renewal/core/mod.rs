//! The renewal engine's synchronous core: every token's schedule and state, as a
//! state machine without tokio (inputs with an explicit time in; jobs, replies,
//! events and deadlines out). The runtime drives it; tests drive it directly.
//!
//! Data flows: [`schedule`] (when each token is due) → [`dispatch`] (what may
//! start now) → the runtime's workers run the job → [`outcomes`] (what it came
//! to) → [`tokens`] (install, publish, end) → outputs. [`commands`] are what
//! handles ask; [`messages`] are every message between these layers.

mod breaker;
mod commands;
mod dispatch;
mod machine;
mod messages;
mod outcomes;
mod schedule;
mod tokens;

pub(crate) use machine::Machine;
pub(crate) use messages::{
    Command, Fresh, Job, Now, Outcome, Output, Put, Reply, Stored, Tag, Work,
};

#[cfg(test)]
mod model_tests;
