//! The renewal engine's synchronous core: every token's schedule and state, as a
//! state machine without tokio (inputs with an explicit time in; jobs, replies,
//! events and deadlines out). The runtime drives it; tests drive it directly.
//!
//! Data flows: [`schedule`] (when each token is due) → [`dispatch`] (what may
//! start now) → the runtime's workers run the job → [`outcomes`] (what it came
//! to) → [`tokens`] (install, publish, end) → outputs. [`commands`] are what
//! handles ask; [`time`] lets time pass (clock jumps, expiries, the
//! reconciling pass) and says when to wake; [`messages`] are every message between
//! these layers. Calls between these files point one way: `outcomes` and `time`
//! use `dispatch`, which uses `tokens`, which uses `machine`.

mod breaker;
mod commands;
mod counts;
mod dispatch;
mod machine;
mod messages;
mod outcomes;
mod schedule;
mod time;
mod tokens;

pub(crate) use counts::{JobView, StateCounts};
pub(crate) use machine::Machine;
pub(crate) use messages::{
    Command, Fresh, Job, Now, Outcome, Output, Put, Reply, Stored, Tag, Work,
};

#[cfg(test)]
mod model_tests;
