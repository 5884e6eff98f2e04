//! The driver task: lets time pass in the core (deadlines, clock jumps, the
//! reconciling pass), hands what became due to the workers, and sleeps until the
//! core's next deadline, a heartbeat at most (tokio's timers stop during a
//! system suspend; the wall clock does not).

use std::sync::Arc;
use std::time::Duration;

use super::shared::Shared;
use crate::renewal::credential::Renewable;

/// The tokio timer's resolution: a turn that started nothing waits at least this
/// (under paused time a zero wait would keep the clock from moving).
const TIMER_TICK_US: u64 = 1_000;

/// Runs until the core has stopped with nothing in flight.
pub(crate) async fn drive<R: Renewable>(
    shared: Arc<Shared<R::Credential>>,
    renewer: Arc<R>,
    heartbeat: Duration,
) {
    let heartbeat_us = u64::try_from(heartbeat.as_micros()).unwrap_or(u64::MAX);
    let mut turns: u64 = 0;
    loop {
        let now = shared.now();
        if shared.is_broken() {
            shared.abandon();
            break;
        }
        let wait_us = {
            let mut state = shared.lock();
            state.core.observe_offset(renewer.server_clock_offset());
            state.core.tick(now);
            shared.mirror_offset(&state);
            // Before starting what is due: a turn that starts a renewal would
            // otherwise always count its token as renewing.
            shared
                .instruments
                .sample_tokens(now.mono_us, || state.core.state_counts());
            shared.make_ready(&mut state, now);
            turns += 1;
            if turns % 64 == 0 {
                shared.sweep_watchers(&mut state);
            }
            shared.flush(&mut state);
            if state.core.is_stopped() {
                break;
            }
            let at = state
                .core
                .poll_timeout()
                .unwrap_or(u64::MAX)
                .min(now.mono_us.saturating_add(heartbeat_us))
                .max(now.mono_us.saturating_add(TIMER_TICK_US));
            state.alarm_us = at;
            at - now.mono_us
        };
        let sleep = shared.clock().sleep(Duration::from_micros(wait_us));
        tokio::select! {
            () = shared.wake_driver.notified() => {}
            () = sleep => {}
        }
    }
    shared.finish();
}
