//! Shrunk cases the model found, kept as plain tests.

use super::inputs::{Action, Case, Fault};
use super::run;

fn one_replica(lifetime_ms: i64) -> Case {
    Case {
        replicas: 1,
        ids: 1,
        lifetime_ms,
        rotate: false,
        can_relogin: false,
        skew_ms: 0,
        preload: None,
    }
}

/// Found by the model: while a reconciling pass was in flight, `poll_timeout`
/// kept answering its (past) due time, so the driver woke every timer tick
/// until the store answered (up to the store timeout: 10,000 wake-ups).
#[test]
fn a_slow_reconciling_pass_does_not_wake_the_driver_every_tick() {
    let actions = [Action::Advance {
        ms: 619_999,
        fault: Fault::Slow,
    }];
    run(one_replica(60_000), &actions).unwrap();
}

/// Found by the model: every renewal whose write failed queued a write retry
/// besides the one already queued, and each went on retrying: a token renewed
/// n times while the store was down had n retry chains (memory and store
/// traffic growing with the outage).
#[test]
fn a_store_outage_keeps_one_write_retry_per_token() {
    let actions = [
        Action::Add { r: 0, id: 0 },
        Action::Advance {
            ms: 840_420,
            fault: Fault::PutFail,
        },
    ];
    run(one_replica(60_000), &actions).unwrap();
}

/// Found by the model: a `renew_now` request queued while the shop's breaker
/// was open is in neither the schedule nor started, so its token expired
/// unreported (no `Expired`, no re-login, the caller left waiting) until the
/// breaker let a start through.
#[test]
fn a_renew_now_held_back_by_the_breaker_still_expires() {
    let case = Case {
        replicas: 3,
        can_relogin: true,
        ..one_replica(60_000)
    };
    let actions = [
        Action::Add { r: 2, id: 0 },
        Action::Advance {
            ms: 180_000,
            fault: Fault::Shop,
        },
        Action::Add { r: 0, id: 0 },
        Action::RenewNow { r: 2, id: 0 },
        Action::RenewNow { r: 0, id: 0 },
        Action::Advance {
            ms: 71_000,
            fault: Fault::Reject,
        },
    ];
    run(case, &actions).unwrap();
}

/// Found by the model: adopting an expired token from the store (here: expired
/// by a wall-clock step) answered the `renew_now` callers waiting on it with
/// that expired credential before declaring it expired.
#[test]
fn adopting_an_expired_token_answers_no_waiter_with_it() {
    let case = Case {
        replicas: 2,
        ids: 2,
        ..one_replica(60_000)
    };
    let actions = [
        Action::RenewNow { r: 1, id: 2 },
        Action::Add { r: 0, id: 0 },
        Action::Shutdown { r: 2 },
        Action::Add { r: 0, id: 0 },
        Action::Advance {
            ms: 20,
            fault: Fault::Ok,
        },
        Action::Jump {
            suspend: false,
            ms: 60_000,
        },
        Action::Add { r: 0, id: 0 },
        Action::Complete {
            pick: 0,
            fault: Fault::Ok,
        },
    ];
    run(case, &actions).unwrap();
}

/// Found by the model: a token stamped `issued_at` after its expiry (written by
/// a replica whose clock ran ahead) was due at `issued_at`, after its expiry,
/// and stayed unreported until then.
#[test]
fn a_token_issued_after_its_expiry_is_due_by_its_expiry() {
    let case = Case {
        replicas: 3,
        ids: 2,
        can_relogin: true,
        ..one_replica(60_000)
    };
    let actions = [
        Action::Add { r: 0, id: 0 },
        Action::Jump {
            suspend: false,
            ms: 74_449,
        },
        Action::Add { r: 0, id: 0 },
        Action::Complete {
            pick: 0,
            fault: Fault::Conflict,
        },
        Action::Add { r: 0, id: 0 },
        Action::Watch { r: 0, id: 2 },
        Action::Add { r: 0, id: 0 },
        Action::Advance {
            ms: 71_000,
            fault: Fault::Ok,
        },
    ];
    run(case, &actions).unwrap();
}

/// Found by the model: a rejected token was dropped and its delete queued; a
/// read-through (or the reconciling pass) that read the store before the delete
/// landed held the rejected token again and served it.
#[test]
fn a_rejected_token_read_back_before_its_delete_is_not_served() {
    let actions = [
        Action::Add { r: 0, id: 0 },
        Action::RenewNow { r: 0, id: 0 },
        Action::Complete {
            pick: 0,
            fault: Fault::Reject,
        },
        Action::Valid { r: 0, id: 0 },
        Action::Complete {
            pick: 67,
            fault: Fault::Ok,
        },
    ];
    run(one_replica(60_000), &actions).unwrap();
}

/// Found by the model: a token due within the gap after its last attempt was
/// put off by the rest of the gap even past its expiry, and so reported late
/// (here a replica whose clock is 45 s behind the server's, renewing just
/// before the expiry it sees).
#[test]
fn a_token_put_off_by_the_gap_is_reported_at_its_expiry() {
    let case = Case {
        replicas: 3,
        ids: 3,
        can_relogin: true,
        skew_ms: -45_000,
        preload: Some(0),
        ..one_replica(60_000)
    };
    let ok = |ms| Action::Advance {
        ms,
        fault: Fault::Ok,
    };
    let actions = [
        ok(13_023),
        ok(14_289),
        Action::Add { r: 0, id: 0 },
        ok(8_459),
        Action::Jump {
            suspend: false,
            ms: 0,
        },
        ok(32_718),
        ok(7_570),
        ok(12_253),
    ];
    run(case, &actions).unwrap();
}

/// Found by the model (fixed in the store protocol): a renewal made moot by a
/// new login, timing out later, released the lease the replica's renewal of
/// the new login held (leases were per token and replica), and another replica
/// took it and renewed at the same time. A lease is now released only for the
/// version it was taken for.
#[test]
fn a_moot_renewal_failing_late_keeps_the_lease_of_the_one_that_replaced_it() {
    let case = Case {
        replicas: 2,
        ids: 2,
        ..one_replica(60_000)
    };
    let actions = [
        Action::Add { r: 2, id: 1 },
        Action::RenewNow { r: 2, id: 1 },
        Action::Complete {
            pick: 0,
            fault: Fault::Slow,
        },
        Action::Add { r: 1, id: 1 },
        Action::Advance {
            ms: 21,
            fault: Fault::Ok,
        },
        Action::Add { r: 0, id: 1 },
        Action::Advance {
            ms: 180_000,
            fault: Fault::Slow,
        },
    ];
    run(case, &actions).unwrap();
}
