//! What the breaker tells operators: one tracing event per transition (and per `would_trip`
//! in metrics-only mode), through `seawall_core::event!` with target `seawall::breaker` so
//! it can be filtered on its own.
//!
//! Every event has the fields `layer` (`"breaker"`), `name` (the builder's name; for a keyed
//! breaker, the layer's name and the key), `event` (what happened: the state entered, or
//! `would_trip`), `key` (a keyed breaker's key, else empty), `state` (the state the
//! breaker is in after it) and `reason` (why; see [`Reason`]). Opening is a `WARN`, the
//! rest `INFO`. With the `metrics` feature each event also increments
//! `seawall_events_total{layer, name, event}`, each transition sets the gauge
//! `seawall_breaker_state{name}`, and each open period is recorded in the histogram
//! `seawall_duration_seconds{layer, name, what = "open"}` (see `docs/telemetry.md`).

use std::sync::Arc;
use std::time::Duration;

use seawall_core::{Calls, Events};
use tracing::Level;

use crate::state::State;

/// Why the breaker moved: the `reason` field of its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The failures-in-a-row condition was met.
    ConsecutiveFailures,
    /// The failure-rate condition was met.
    FailureRate,
    /// The slow-call condition was met.
    SlowCalls,
    /// The open time was over and a call arrived.
    OpenTimeOver,
    /// A half-open probe failed (or was slow).
    ProbeFailed,
    /// Half-open probes made no progress for the probe timeout.
    ProbeTimeout,
    /// Every half-open probe succeeded.
    ProbesSucceeded,
    /// A command on the [`BreakerHandle`](crate::BreakerHandle).
    Manual,
}

impl Reason {
    /// The reason as it appears in events.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::ConsecutiveFailures => "consecutive_failures",
            Reason::FailureRate => "failure_rate",
            Reason::SlowCalls => "slow_calls",
            Reason::OpenTimeOver => "open_time_over",
            Reason::ProbeFailed => "probe_failed",
            Reason::ProbeTimeout => "probe_timeout",
            Reason::ProbesSucceeded => "probes_succeeded",
            Reason::Manual => "manual",
        }
    }
}

/// One breaker's event source.
#[derive(Debug)]
pub(crate) struct BreakerEvents {
    /// The name, and the duration records.
    inner: Events,
    key: Arc<str>,
    /// `seawall_calls_total` for this breaker.
    pub(crate) calls: Calls,
}

impl BreakerEvents {
    pub(crate) fn new(name: Arc<str>, key: Arc<str>) -> Self {
        let inner = Events::new("breaker").named(name);
        Self {
            calls: Calls::new(&inner),
            inner,
            key,
        }
    }

    /// The breaker's name, as given to the builder.
    pub(crate) fn name(&self) -> &str {
        self.inner.name()
    }

    /// The breaker entered `state` because of `reason`.
    pub(crate) fn entered(&self, state: State, reason: Reason) {
        let level = if state == State::Open {
            Level::WARN
        } else {
            Level::INFO
        };
        self.emit(level, state.name(), state, reason);
        self.gauge(state);
    }

    /// Sets the gauge `seawall_breaker_state{name}` to `state`'s code (with `metrics`):
    /// 0 closed, 1 open, 2 half-open, 3 forced open, 4 forced closed, 5 disabled,
    /// 6 metrics-only. `name` is bounded for keyed breakers (see `max_labels`).
    pub(crate) fn gauge(&self, state: State) {
        #[cfg(feature = "metrics")]
        {
            let code = match state {
                State::Closed => 0.0,
                State::Open => 1.0,
                State::HalfOpen => 2.0,
                State::ForcedOpen => 3.0,
                State::ForcedClosed => 4.0,
                State::Disabled => 5.0,
                State::MetricsOnly => 6.0,
            };
            metrics::gauge!("seawall_breaker_state", "name" => self.name().to_owned()).set(code);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = state;
    }

    /// Metrics-only: a trip condition was met, and the breaker would have opened.
    pub(crate) fn would_trip(&self, reason: Reason) {
        self.emit(Level::INFO, "would_trip", State::MetricsOnly, reason);
    }

    /// The breaker opened for `open_for`.
    pub(crate) fn open_for(&self, open_for: Duration) {
        self.inner.duration("open", open_for);
    }

    /// A keyed layer's table was full and a request went to this, the overflow breaker.
    pub(crate) fn overflow(&self, state: State) {
        seawall_core::event!(
            breaker,
            DEBUG,
            &self.inner,
            "overflow",
            key = &*self.key,
            state = state.name()
        );
    }

    fn emit(&self, level: Level, event: &'static str, state: State, reason: Reason) {
        macro_rules! at {
            ($lvl:ident) => {
                seawall_core::event!(
                    breaker,
                    $lvl,
                    &self.inner,
                    event,
                    key = &*self.key,
                    state = state.name(),
                    reason = reason.as_str()
                )
            };
        }
        match level {
            Level::WARN => at!(WARN),
            _ => at!(INFO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seawall_sim::{EventLog, RecordedEvent};

    /// An event as one line: its level, its target and its fields.
    fn line(e: &RecordedEvent) -> String {
        let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} {} {}", e.level, e.target, fields.join(" "))
    }

    #[test]
    fn events_have_the_breaker_target_and_say_which_breaker_what_state_and_why() {
        let log = EventLog::with_fields();
        {
            let _guard = log.install();
            let events = BreakerEvents::new(Arc::from("payments"), Arc::from("eu"));
            events.entered(State::Open, Reason::ProbeTimeout);
            events.would_trip(Reason::FailureRate);
        }
        let seen: Vec<String> = log.events().iter().map(line).collect();
        assert_eq!(
            seen,
            [
                "WARN seawall::breaker event=open key=eu layer=breaker name=payments \
                 reason=probe_timeout state=open",
                "INFO seawall::breaker event=would_trip key=eu layer=breaker name=payments \
                 reason=failure_rate state=metrics_only",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_transition_says_why() {
        use crate::config::Config;
        use crate::shared::{Admit, Shared};
        use seawall_core::Outcome;

        let log = EventLog::with_fields();
        let _guard = log.install();
        let shared = Shared::new(Config {
            consecutive_failures: Some(2),
            failure_rate: None,
            probes: 1,
            name: Arc::from("db"),
            ..Config::default()
        });
        let call = |outcome| match shared.admit() {
            Admit::Call(ticket) => shared.complete(ticket, outcome, None),
            Admit::Reject(_) | Admit::Expired => {}
        };
        call(Outcome::Failure);
        call(Outcome::Failure);
        tokio::time::advance(crate::schedule::longest_open(&shared.config)).await;
        call(Outcome::Failure);
        tokio::time::advance(crate::schedule::longest_open(&shared.config)).await;
        call(Outcome::Success);
        shared.set(State::ForcedOpen);
        let seen: Vec<String> = (log.events().iter())
            .filter(|e| e.target == "seawall::breaker")
            .map(|e| format!("state={} reason={}", e.fields["state"], e.fields["reason"]))
            .collect();
        assert_eq!(
            seen,
            [
                "state=open reason=consecutive_failures",
                "state=half_open reason=open_time_over",
                "state=open reason=probe_failed",
                "state=half_open reason=open_time_over",
                "state=closed reason=probes_succeeded",
                "state=forced_open reason=manual",
            ]
        );
    }
}
