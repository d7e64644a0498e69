//! The dependency circuit breaker, over a sliding window of outcomes: it opens when at least
//! half of the recent calls failed, lets one probe through after a cool-down (half-open), and
//! closes on that probe's success. Shared by the Score Service client and the RPC endpoints,
//! so a dead dependency costs one fast refusal instead of a timeout per call. (Not member
//! sync's mass-removal breaker: that is `arrakis_schemas::workflows::member_sync::breaker`.)

use std::{
    collections::VecDeque,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// When a breaker opens and how long it stays open.
#[derive(Clone, Copy, Debug)]
pub struct CircuitConfig {
    /// How many recent outcomes are weighed.
    pub window: usize,
    /// No opinion before this many outcomes are in the window.
    pub min_calls: usize,
    /// Opens when failures / outcomes reaches this (0.5 = 50 %).
    pub failure_ratio: f64,
    /// How long it stays open before letting a probe through.
    pub open_for: Duration,
}

impl Default for CircuitConfig {
    /// The architecture's numbers: 50 % errors over the last 20 calls, 30 s before a probe.
    fn default() -> Self {
        Self { window: 20, min_calls: 4, failure_ratio: 0.5, open_for: Duration::from_secs(30) }
    }
}

/// What the breaker lets through now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// One probe is (or may be) in flight; the rest are refused.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    outcomes: VecDeque<bool>,
    opened_at: Option<Instant>,
    probing: bool,
}

/// The breaker; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: CircuitConfig,
    inner: Mutex<Inner>,
    /// Its name in `arrakis_breaker_state` (`score`, `chain:anvil#1`); unnamed breakers are
    /// not reported.
    name: Option<String>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: CircuitConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner { outcomes: VecDeque::new(), opened_at: None, probing: false }),
            name: None,
        }
    }

    /// A closed breaker whose state is reported as `arrakis_breaker_state{breaker=name}`.
    pub fn named(config: CircuitConfig, name: impl Into<String>) -> Self {
        let breaker = Self { name: Some(name.into()), ..Self::new(config) };
        breaker.report(CircuitState::Closed);
        breaker
    }

    fn report(&self, state: CircuitState) {
        if let Some(name) = &self.name {
            let value = match state {
                CircuitState::Closed => 0,
                CircuitState::HalfOpen => 1,
                CircuitState::Open => 2,
            };
            crate::metrics::metrics().breaker_state.with_label_values(&[name.as_str()]).set(value);
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state at `now`.
    pub fn state_at(&self, now: Instant) -> CircuitState {
        let inner = self.inner();
        match inner.opened_at {
            None => CircuitState::Closed,
            Some(at) if now.duration_since(at) < self.config.open_for => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }

    /// The state now.
    pub fn state(&self) -> CircuitState {
        self.state_at(Instant::now())
    }

    /// Whether a call may go out at `now`; in half-open, only the first caller gets through.
    pub fn try_acquire_at(&self, now: Instant) -> bool {
        let mut inner = self.inner();
        match inner.opened_at {
            None => true,
            Some(at) if now.duration_since(at) < self.config.open_for => false,
            Some(_) if inner.probing => false,
            Some(_) => {
                inner.probing = true;
                self.report(CircuitState::HalfOpen);
                true
            }
        }
    }

    /// Whether a call may go out now.
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    /// Records a call's outcome at `now`.
    pub fn record_at(&self, success: bool, now: Instant) {
        let mut inner = self.inner();
        if inner.opened_at.is_some() {
            // Only the half-open probe reports while open.
            inner.probing = false;
            if success {
                inner.opened_at = None;
                inner.outcomes.clear();
                self.report(CircuitState::Closed);
            } else {
                inner.opened_at = Some(now);
                self.report(CircuitState::Open);
            }
            return;
        }
        inner.outcomes.push_back(success);
        while inner.outcomes.len() > self.config.window {
            inner.outcomes.pop_front();
        }
        let failures = inner.outcomes.iter().filter(|ok| !**ok).count();
        let calls = inner.outcomes.len();
        if calls >= self.config.min_calls && failures as f64 >= self.config.failure_ratio * calls as f64 {
            inner.opened_at = Some(now);
            self.report(CircuitState::Open);
        }
    }

    /// Records a call's outcome now.
    pub fn record(&self, success: bool) {
        self.record_at(success, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_at_half_failures_and_probes_after_the_cool_down() {
        let b = CircuitBreaker::new(CircuitConfig::default());
        let t0 = Instant::now();
        for ok in [true, true, false] {
            b.record_at(ok, t0);
        }
        assert_eq!(b.state_at(t0), CircuitState::Closed, "1 of 3 failed, and below min_calls");
        b.record_at(false, t0);
        assert_eq!(b.state_at(t0), CircuitState::Open, "2 of 4 = 50 %");
        assert!(!b.try_acquire_at(t0 + Duration::from_secs(29)));
        let later = t0 + Duration::from_secs(30);
        assert_eq!(b.state_at(later), CircuitState::HalfOpen);
        assert!(b.try_acquire_at(later), "one probe");
        assert!(!b.try_acquire_at(later), "only one probe");
        b.record_at(false, later);
        assert_eq!(b.state_at(later + Duration::from_secs(1)), CircuitState::Open, "failed probe re-opens");
        let again = later + Duration::from_secs(30);
        assert!(b.try_acquire_at(again));
        b.record_at(true, again);
        assert_eq!(b.state_at(again), CircuitState::Closed, "successful probe closes");
        assert!(b.try_acquire_at(again));
    }

    #[test]
    fn a_healthy_window_stays_closed() {
        let b = CircuitBreaker::new(CircuitConfig::default());
        let t0 = Instant::now();
        for i in 0..100 {
            b.record_at(i % 3 != 0, t0);
        }
        assert_eq!(b.state_at(t0), CircuitState::Closed, "a third failing is below 50 %");
    }
}
