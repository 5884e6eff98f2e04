//! The proptest strategies: cases, actions and faults.

use proptest::prelude::*;

use super::inputs::{Action, Case, Fault};

fn fault(ok_weight: u32) -> impl Strategy<Value = Fault> {
    prop_oneof![
        ok_weight => Just(Fault::Ok),
        1 => Just(Fault::Reject),
        1 => proptest::option::of(0u8..60).prop_map(Fault::Transient),
        1 => Just(Fault::Shop),
        1 => Just(Fault::Conflict),
        1 => Just(Fault::PutFail),
        1 => Just(Fault::LeaseFail),
        1 => Just(Fault::Slow),
    ]
}

pub(super) fn action() -> impl Strategy<Value = Action> {
    let r = 0u8..3;
    let id = 0u8..4;
    prop_oneof![
        3 => (r.clone(), id.clone()).prop_map(|(r, id)| Action::Add { r, id }),
        1 => (r.clone(), id.clone()).prop_map(|(r, id)| Action::Remove { r, id }),
        2 => (r.clone(), id.clone()).prop_map(|(r, id)| Action::RenewNow { r, id }),
        2 => (r.clone(), id.clone()).prop_map(|(r, id)| Action::Valid { r, id }),
        1 => (r.clone(), id.clone()).prop_map(|(r, id)| Action::Watch { r, id }),
        4 => (0u32..15_000, fault(12)).prop_map(|(ms, fault)| Action::Advance { ms, fault }),
        2 => (15_000u32..180_000, fault(12)).prop_map(|(ms, fault)| Action::Advance { ms, fault }),
        1 => (180_000u32..1_200_000, fault(12)).prop_map(|(ms, fault)| Action::Advance { ms, fault }),
        1 => (any::<bool>(), prop_oneof![-3_000i32..3_000, -7_200_000i32..7_200_000])
            .prop_map(|(suspend, ms)| Action::Jump { suspend, ms }),
        4 => (any::<u8>(), fault(3)).prop_map(|(pick, fault)| Action::Complete { pick, fault }),
        1 => (r.clone(), id).prop_map(|(r, id)| Action::Unwatched { r, id }),
        1 => r.prop_map(|r| Action::Shutdown { r }),
    ]
}

pub(super) fn case() -> impl Strategy<Value = Case> {
    (
        1u8..=3,
        1u8..=4,
        prop_oneof![Just(60_000i64), Just(720_000i64)],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![3 => Just(0i64), 1 => Just(1_500i64), 1 => Just(-45_000i64)],
        proptest::option::of(prop_oneof![Just(0u8), Just(60), Just(95), Just(130)]),
    )
        .prop_map(
            |(replicas, ids, lifetime_ms, rotate, can_relogin, skew_ms, preload)| Case {
                replicas,
                ids,
                lifetime_ms,
                rotate,
                can_relogin,
                skew_ms,
                preload,
            },
        )
}
