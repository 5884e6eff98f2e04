//! Read-only views for the runtime's metrics: held tokens by state, and what a
//! token job's token looks like when the job starts or ends (failures in a row,
//! due time, expiry). Nothing here changes the machine.

use super::machine::Machine;
use super::messages::{Now, Tag};
use super::schedule::{flags, Entry, Phase};
use crate::renewal::status::TokenState;

/// Held tokens by [`TokenState`], as a status would report each of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StateCounts {
    pub(crate) scheduled: usize,
    pub(crate) renewing: usize,
    pub(crate) expired: usize,
    pub(crate) rejected: usize,
}

/// A token job's token as held now (server-time milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobView {
    /// Failed attempts in a row before this job.
    pub(crate) failures: u32,
    /// When it was due.
    pub(crate) due_ms: i64,
    /// When the credential held expires.
    pub(crate) expires_ms: i64,
    /// Server time now.
    pub(crate) server_now_ms: i64,
}

/// The state a status reports for `entry` at `server_now` (the same mapping as
/// `Machine::status_of`; a test keeps them together).
fn state_of<C>(entry: &Entry<C>, server_now: i64) -> TokenState {
    match entry.phase {
        _ if entry.expires_ms <= server_now => TokenState::Expired,
        Phase::Waiting | Phase::Writing => TokenState::Scheduled,
        Phase::Queued | Phase::Renewing => TokenState::Renewing,
        Phase::LoggingIn | Phase::ReloginWait if entry.has(flags::REJECTED) => TokenState::Rejected,
        Phase::LoggingIn | Phase::ReloginWait => TokenState::Expired,
    }
}

impl<C: Clone, W> Machine<C, W> {
    /// Every held token counted by state, at the time of the last input. Walks
    /// every token: the caller decides how often.
    pub(crate) fn state_counts(&self) -> StateCounts {
        let server_now = self.server_ms(self.now);
        let mut counts = StateCounts::default();
        for slot in self.schedule.slots() {
            let Some(entry) = self.schedule.entry(slot) else {
                continue;
            };
            match state_of(entry, server_now) {
                TokenState::Scheduled => counts.scheduled += 1,
                TokenState::Renewing => counts.renewing += 1,
                TokenState::Rejected => counts.rejected += 1,
                _ => counts.expired += 1,
            }
        }
        counts
    }

    /// The token a job is for, seen at `now`; `None` for a store job or when the
    /// token was replaced or removed since (the job is moot).
    pub(crate) fn job_view(&self, tag: Tag, now: Now) -> Option<JobView> {
        let Tag::Token { slot, generation } = tag else {
            return None;
        };
        let entry = self
            .schedule
            .entry(slot)
            .filter(|entry| entry.generation == generation)?;
        Some(JobView {
            failures: u32::from(entry.failures),
            due_ms: entry.due_ms,
            expires_ms: entry.expires_ms,
            server_now_ms: self.server_ms(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::renewal::core::{Fresh, Stored};
    use crate::renewal::id::TokenId;
    use crate::renewal::policy::RenewalPolicy;

    const NOW: Now = Now {
        wall_ms: 1_000_000,
        mono_us: 1,
    };

    fn stored(expires_ms: i64) -> Stored<u8> {
        Stored {
            fresh: Fresh {
                credential: 0,
                issued_ms: 0,
                expires_ms,
            },
            version: 1,
        }
    }

    #[test]
    fn counts_agree_with_each_status() {
        let mut machine: Machine<u8, ()> = Machine::new(RenewalPolicy::default(), false, NOW);
        let cases = [
            (Phase::Waiting, 0, 2_000_000),
            (Phase::Writing, 0, 2_000_000),
            (Phase::Queued, 0, 2_000_000),
            (Phase::Renewing, 0, 2_000_000),
            (Phase::LoggingIn, flags::REJECTED, 2_000_000),
            (Phase::ReloginWait, flags::REJECTED, 2_000_000),
            (Phase::LoggingIn, 0, 2_000_000),
            (Phase::Waiting, 0, 999_999),
        ];
        let tokens = (0..cases.len())
            .map(|n| (TokenId::new(format!("t{n}")), stored(2_000_000)))
            .collect();
        machine.load(NOW, tokens);
        let mut want = StateCounts::default();
        for (n, (phase, flag, expires_ms)) in cases.into_iter().enumerate() {
            let slot = machine
                .schedule
                .slot_of(&TokenId::new(format!("t{n}")))
                .expect("held");
            machine.schedule.unschedule(slot, phase);
            let entry = machine.schedule.entry_mut(slot).expect("held");
            entry.set(flag, true);
            entry.expires_ms = expires_ms;
            match machine.status_of(slot).expect("held").state {
                TokenState::Scheduled => want.scheduled += 1,
                TokenState::Renewing => want.renewing += 1,
                TokenState::Rejected => want.rejected += 1,
                _ => want.expired += 1,
            }
        }
        assert_eq!(
            want,
            StateCounts {
                scheduled: 2,
                renewing: 2,
                expired: 2,
                rejected: 2
            }
        );
        assert_eq!(machine.state_counts(), want);
    }

    #[test]
    fn a_job_view_is_for_the_current_generation_only() {
        let mut machine: Machine<u8, ()> = Machine::new(RenewalPolicy::default(), false, NOW);
        machine.load(NOW, vec![(TokenId::new("a"), stored(2_000_000))]);
        let slot = machine.schedule.slot_of(&TokenId::new("a")).expect("held");
        let generation = machine.schedule.entry(slot).expect("held").generation;
        let view = machine
            .job_view(Tag::Token { slot, generation }, NOW)
            .expect("current");
        assert_eq!(view.expires_ms, 2_000_000);
        assert_eq!(view.server_now_ms, NOW.wall_ms);
        assert_eq!(view.failures, 0);
        machine.schedule.unschedule(slot, Phase::Renewing);
        assert_eq!(machine.job_view(Tag::Token { slot, generation }, NOW), None);
        assert_eq!(machine.job_view(Tag::Store, NOW), None);
    }
}
