//! A model-based property test of the core: one to three replicas (machines)
//! share a simulated store (the [`TokenStore`](crate::renewal::TokenStore)
//! protocol in plain Rust: a store-wide version counter, per-token renewal
//! leases on the monotonic clock) and a simulated shop (each token string has an
//! expiry; a renewal gives a fixed lifetime and, per case, the same string or a
//! rotated one, the old one then refused). Jobs run the way the runtime's
//! workers run them (lease → renew → put; a refused renewal re-reads the store),
//! may be held in flight and finished later in any order, with any fault.
//!
//! After every step the invariants hold:
//! 1. no renewal mutation within the policy's gap (10 s) of the previous one on
//!    the same token by the same replica;
//! 2. at most one leased renewal mutation in flight per token (per login)
//!    across replicas. Not counted: a renewal sent without a lease (when the
//!    store could not grant one near expiry: the documented exception), and
//!    one whose lease another writer's put released under it (the protocol
//!    releases any lease on a write; a replica's retried write can do that).
//!    A lease is released only for the version it was taken for, so a renewal
//!    made moot by a new login, failing late, cannot free the lease of the one
//!    that replaced it (the model found that);
//! 3. no credential served (a `Credential`/`Watch` answer, a `Publish`) that has
//!    expired in the replica's server time, that this replica was told was
//!    refused, that its own renewal rotated away, or that a new login it holds
//!    replaced;
//! 4. the store never reuses a version for an id, and every version a machine
//!    holds is one the store gave out for that id;
//! 5. memory is bounded: tokens held, deadlines, and the side maps and queues;
//! 6. every credential a replica holds is replaced before it expires or is
//!    reported `Expired`/`Rejected` exactly once by that replica: never twice,
//!    and never left unreported once its expiry has passed with ticks (except
//!    behind a token due for a start that the rate limit, the pool or the
//!    breaker's probe holds back: the tick's walk stops there by design).
//!
//! Time: wall and monotonic clocks advance together; the server's clock is the
//! wall clock plus a per-case skew. A clock jump moves the wall clock alone (a
//! step) or the wall and server clocks but not the monotonic one (a suspend).
//! Like the runtime's driver, every replica is woken at its `poll_timeout`, a
//! heartbeat at most, and hands the core the renewer's server-clock estimate.
//!
//! `STOREFRONT_MODEL_CASES` sets the number of cases (default 10,000) and
//! `STOREFRONT_MODEL_SEED` the seed (default fixed, so CI runs are repeatable);
//! `STOREFRONT_MODEL_TRACE` prints every input, job and output (for a shrunk
//! case: paste it into a plain `#[test]` calling `run`, as in [`regressions`]).
//!
//! The parts: [`inputs`] (cases, actions, faults), [`strategies`] (how proptest
//! draws them), [`sim`] (the shop and store), [`flight`] (a job in flight),
//! [`world`] (the replicas, one input at a time), [`steps`] (an action, time
//! passing), [`jobs`] (a job run as a worker runs it), [`invariants`] (the
//! checks), [`regressions`] (the shrunk cases).

mod flight;
mod inputs;
mod invariants;
mod jobs;
mod regressions;
mod sim;
mod steps;
mod strategies;
mod world;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use inputs::{Action, Case};
use strategies::{action, case};
use world::World;

fn run(case: Case, actions: &[Action]) -> Result<(), String> {
    // The policy's retry jitter: the same for every run of a case, so that a
    // failure replays and shrinks.
    fastrand::seed(0x5eed);
    let mut world = World::new(case)?;
    world.tick_all()?;
    for (n, action) in actions.iter().enumerate() {
        if world.trace {
            eprintln!("step {n}: {action:?}");
        }
        world
            .step(action)
            .map_err(|violation| format!("step {n} ({action:?}): {violation}"))?;
    }
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("STOREFRONT_MODEL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(10_000);
    let seed = std::env::var("STOREFRONT_MODEL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5701_ef27);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_core_keeps_its_invariants(
        case in case(),
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        if let Err(violation) = run(case.clone(), &actions) {
            return Err(TestCaseError::fail(violation));
        }
    }
}
