use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One Seawall event as an [`EventLog`] recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The event's level.
    pub level: Level,
    /// The layer that emitted it (`"retry"`, `"breaker"`, …).
    pub layer: String,
    /// The layer instance's name.
    pub name: String,
    /// What happened (`"budget_exhausted"`, `"open"`, …).
    pub event: String,
}

/// A tracing subscriber that records the events Seawall's layers emit, so a test can
/// assert that a layer said what it did: that a budget ran dry, that a breaker opened.
///
/// Install it for the current thread with [`install`](Self::install) (paused-time tests run
/// on one thread, so every layer's events reach it) and read it with
/// [`events`](Self::events) or [`count`](Self::count). Only Seawall's events are kept (those
/// with `layer` and `event` fields, as [`seawall_core::Events::emit`] writes them); other
/// tracing events, and the trace-level duration records, are ignored.
///
/// ```
/// use seawall_core::Events;
/// use seawall_sim::EventLog;
///
/// let log = EventLog::new();
/// {
///     let _guard = log.install();
///     Events::new("retry").emit(tracing::Level::WARN, "budget_exhausted");
/// }
/// assert_eq!(log.count("retry", "budget_exhausted"), 1);
/// ```
#[derive(Clone, Default)]
pub struct EventLog {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    events: Mutex<Vec<RecordedEvent>>,
    next_span: AtomicU64,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this log the current thread's subscriber until the guard is dropped.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    /// Every event recorded so far, in order.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.lock().clone()
    }

    /// How many events `event` the layer `layer` emitted.
    pub fn count(&self, layer: &str, event: &str) -> usize {
        self.lock()
            .iter()
            .filter(|e| e.layer == layer && e.event == event)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedEvent>> {
        self.inner
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("events", &self.lock().len())
            .finish()
    }
}

#[derive(Default)]
struct Fields {
    layer: Option<String>,
    name: String,
    event: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "layer" => self.layer = Some(value.to_owned()),
            "name" => self.name = value.to_owned(),
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

impl Subscriber for EventLog {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.inner.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let (Some(layer), Some(what)) = (fields.layer, fields.event) {
            self.lock().push(RecordedEvent {
                level: *event.metadata().level(),
                layer,
                name: fields.name,
                event: what,
            });
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
