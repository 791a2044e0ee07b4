//! The time an action has left. Pacemaker kills an agent that outlives its operation
//! timeout (`OCF_RESKEY_CRM_meta_timeout`) and counts that as a failure of unknown outcome;
//! an agent that bounds every wait by what is left of its deadline always answers first.

use std::time::{Duration, Instant};

/// The part of the timeout kept back so that the agent's answer gets out in time:
/// a tenth of the budget, at least 100 ms, at most 2 s.
pub fn reserve_for(budget: Duration) -> Duration {
    (budget / 10).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// When an action must have finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    start: Instant,
    budget: Duration,
}

impl Deadline {
    /// A deadline `timeout` after `start`, less the reserve for answering.
    pub fn new(start: Instant, timeout: Duration) -> Deadline {
        Deadline {
            start,
            budget: timeout.saturating_sub(reserve_for(timeout)),
        }
    }

    /// The instant by which the action's work must be done.
    pub fn end(&self) -> Instant {
        self.start + self.budget
    }

    /// The usable budget.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// What is left at `now`.
    pub fn remaining_at(&self, now: Instant) -> Duration {
        self.end().saturating_duration_since(now)
    }

    /// Whether nothing is left at `now`.
    pub fn expired_at(&self, now: Instant) -> bool {
        self.remaining_at(now).is_zero()
    }

    /// The time a stop may spend waiting for a graceful exit before it must force one: all
    /// but the part kept for the forced kill (a fifth of the budget, 200 ms to 5 s).
    pub fn graceful_until(&self) -> Instant {
        let keep = (self.budget / 5).clamp(Duration::from_millis(200), Duration::from_secs(5));
        self.end() - keep.min(self.budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_scales_within_bounds() {
        assert_eq!(
            reserve_for(Duration::from_millis(500)),
            Duration::from_millis(100)
        );
        assert_eq!(reserve_for(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(
            reserve_for(Duration::from_secs(120)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn remaining_counts_down_and_saturates() {
        let t0 = Instant::now();
        let d = Deadline::new(t0, Duration::from_secs(20));
        assert_eq!(d.budget(), Duration::from_secs(18));
        assert_eq!(d.remaining_at(t0), Duration::from_secs(18));
        assert_eq!(
            d.remaining_at(t0 + Duration::from_secs(10)),
            Duration::from_secs(8)
        );
        assert!(d.expired_at(t0 + Duration::from_secs(19)));
        assert!(d.remaining_at(t0 + Duration::from_secs(99)).is_zero());
    }

    #[test]
    fn graceful_phase_leaves_time_to_force() {
        let t0 = Instant::now();
        let d = Deadline::new(t0, Duration::from_secs(20));
        assert_eq!(d.graceful_until(), t0 + Duration::from_millis(14_400));
        let tiny = Deadline::new(t0, Duration::from_millis(50));
        assert!(tiny.graceful_until() >= t0);
    }
}
