use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::stripe::{Anchor, Handle};
use tokio::sync::watch;

use crate::shared::Shared;
use crate::snapshot::Metrics;
use crate::state::State;

/// Watches and steers one breaker. Cheap to clone; every clone is the same breaker.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use seawall_breaker::{CircuitBreakerLayer, State};
///
/// let layer = CircuitBreakerLayer::builder().build().unwrap();
/// let handle = layer.handle();
/// let mut changes = handle.subscribe();
/// handle.force_open();
/// assert_eq!(handle.state(), State::ForcedOpen);
/// assert!(changes.has_changed().unwrap());
/// assert_eq!(*changes.borrow_and_update(), State::ForcedOpen);
/// handle.reset();
/// assert_eq!(handle.state(), State::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct BreakerHandle {
    shared: Handle<Shared>,
}

impl BreakerHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared: Handle::from(shared),
        }
    }

    /// The handle of a keyed breaker, counting on its anchor in the table: a table does not
    /// forget a breaker a handle holds.
    pub(crate) fn anchored(anchor: Arc<Anchor<Shared>>) -> Self {
        Self {
            shared: Handle::anchored(anchor),
        }
    }

    /// The state the next call would find. An open breaker whose open time is over reads as
    /// [`State::HalfOpen`] (it moves there when the next call arrives), and a half-open one
    /// whose probes have made no progress for the probe timeout reads as [`State::Open`].
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// How long an open breaker stays open from now; `None` when it is not open.
    pub fn remaining_open(&self) -> Option<Duration> {
        self.shared.remaining_open()
    }

    /// The state and counters.
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics()
    }

    /// A receiver of the breaker's latest state, updated on every transition. The breaker
    /// moves from open to half-open when the first call after the open time arrives, so
    /// that is when the half-open update comes.
    ///
    /// It is a [`watch`] channel: it holds the latest state, not a queue of them, so a
    /// receiver that looks less often than the breaker moves skips the states in between
    /// (a half-open that lasted one probe, say). For every transition, use the tracing
    /// events or the metrics instead (see the [crate docs](crate#observation)): each
    /// transition is one of each.
    pub fn subscribe(&self) -> watch::Receiver<State> {
        self.shared.subscribe()
    }

    /// Rejects every call until [`reset`](Self::reset) or another manual command.
    pub fn force_open(&self) {
        self.shared.set(State::ForcedOpen);
    }

    /// Lets every call through and never trips, still counting outcomes.
    pub fn force_closed(&self) {
        self.shared.set(State::ForcedClosed);
    }

    /// Lets every call through and counts nothing.
    pub fn disable(&self) {
        self.shared.set(State::Disabled);
    }

    /// Lets every call through, evaluates the trip conditions and emits a `would_trip` event
    /// when they are met, without ever opening.
    pub fn metrics_only(&self) {
        self.shared.set(State::MetricsOnly);
    }

    /// Back to normal operation: closed, with empty windows and the open-time growth reset.
    pub fn reset(&self) {
        self.shared.set(State::Closed);
    }

    /// The breaker's name, as given to the builder.
    pub fn name(&self) -> &str {
        self.shared.events.name()
    }
}

impl fmt::Debug for BreakerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerHandle")
            .field("name", &self.name())
            .field("state", &self.state())
            .finish()
    }
}
