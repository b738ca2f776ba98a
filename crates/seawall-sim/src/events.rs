use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
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
    /// When it happened, on tokio's clock (simulated time in a paused run).
    pub at: tokio::time::Instant,
    /// The event's target (`"seawall::retry"`, …).
    pub target: &'static str,
    /// With a log made by [`EventLog::with_fields`]: every field of the event but its
    /// message, as text, `layer`, `name` and `event` included (`attempt = 2` is `"2"`,
    /// `outcome = %e` is `e`'s `Display`). Empty otherwise.
    pub fields: BTreeMap<String, String>,
}

/// A tracing subscriber that records the events Seawall's layers emit, so a test can
/// assert that a layer said what it did: that a budget ran dry, that a breaker opened.
///
/// Install it for the current thread with [`install`](Self::install) (paused-time tests run
/// on one thread, so every layer's events reach it; on a multi-threaded runtime, only the
/// events of tasks that run on the installing thread do) and read it with
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
    /// Whether each event keeps all its fields.
    fields: bool,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty log that also keeps every event's [`fields`](RecordedEvent::fields), for a
    /// test that checks what an event says (a few hundred bytes more per event: the lab's
    /// runs use [`new`](Self::new)).
    pub fn with_fields() -> Self {
        Self {
            inner: Arc::new(Inner {
                fields: true,
                ..Inner::default()
            }),
        }
    }

    /// Makes this log the one that records the current thread's events, until the guard is
    /// dropped.
    ///
    /// The first call installs a small process-wide subscriber that hands each event to the
    /// log of the thread it happens on, and that tells tracing to ask about every call site
    /// each time. (A thread-scoped subscriber is not enough when tests run in parallel:
    /// tracing caches per call site whether anyone listens, and a call site first reached on
    /// another thread can cache "no one" just as a log is installed here.) If the program
    /// already has a global subscriber, the log is installed for this thread only instead.
    pub fn install(&self) -> EventLogGuard {
        let routed =
            *ROUTER.get_or_init(|| tracing::subscriber::set_global_default(Router).is_ok());
        if routed {
            let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
            EventLogGuard {
                previous: Some(previous),
                _scoped: None,
            }
        } else {
            EventLogGuard {
                previous: None,
                _scoped: Some(tracing::subscriber::set_default(self.clone())),
            }
        }
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

/// Keeps an [`EventLog`] installed; dropping it restores what was there before.
#[must_use = "the log records only while the guard lives"]
pub struct EventLogGuard {
    /// With the router: the thread's log before this one.
    previous: Option<Option<EventLog>>,
    /// Without it: tracing's own scoped guard.
    _scoped: Option<tracing::subscriber::DefaultGuard>,
}

impl Drop for EventLogGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
}

impl fmt::Debug for EventLogGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLogGuard").finish_non_exhaustive()
    }
}

static ROUTER: OnceLock<bool> = OnceLock::new();

thread_local! {
    static CURRENT: RefCell<Option<EventLog>> = const { RefCell::new(None) };
}

/// The process-wide subscriber: hands each event to the current thread's log, if any.
struct Router;

impl Subscriber for Router {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Never cache an answer: whether anyone listens depends on the thread.
        Interest::sometimes()
    }

    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        CURRENT.with(|c| c.borrow().is_some())
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let log = CURRENT.with(|c| c.borrow().clone());
        if let Some(log) = log {
            log.event(event);
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
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
    /// Every field, when the log keeps them.
    all: Option<BTreeMap<String, String>>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "layer" => self.layer = Some(value.to_owned()),
            "name" => self.name = value.to_owned(),
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
        if let Some(all) = &mut self.all {
            all.insert(field.name().to_owned(), value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let (Some(all), false) = (&mut self.all, field.name() == "message") {
            all.insert(field.name().to_owned(), format!("{value:?}"));
        }
    }
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
        let mut fields = Fields {
            all: self.inner.fields.then(BTreeMap::new),
            ..Fields::default()
        };
        event.record(&mut fields);
        if let (Some(layer), Some(what)) = (fields.layer, fields.event) {
            self.lock().push(RecordedEvent {
                level: *event.metadata().level(),
                layer,
                name: fields.name,
                event: what,
                at: tokio::time::Instant::now(),
                target: event.metadata().target(),
                fields: fields.all.unwrap_or_default(),
            });
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
