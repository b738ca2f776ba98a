use std::sync::Arc;
use std::time::Duration;

/// Reports a layer's notable moments — a retry, a trip, a shed request — to whoever listens.
///
/// Every event is a [`tracing`] event with the fields `layer`, `name` and `event`. With the
/// `metrics` feature it also increments the counter `seawall_events_total` with the same three
/// labels, and [`duration`](Self::duration) records the histogram `seawall_duration_seconds`.
///
/// Events are for the unusual path: the steady success path of a layer emits nothing.
///
/// ```
/// use seawall_core::Events;
///
/// let events = Events::new("retry").named("payments");
/// events.emit(tracing::Level::DEBUG, "retry");
/// ```
#[derive(Clone, Debug)]
pub struct Events {
    layer: &'static str,
    name: Arc<str>,
}

impl Events {
    /// Events of the layer `layer` (such as `"retry"` or `"breaker"`), with an empty instance
    /// name.
    pub fn new(layer: &'static str) -> Self {
        Self {
            layer,
            name: Arc::from(""),
        }
    }

    /// Names this instance of the layer, to tell apart, say, the breakers of two upstreams.
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The layer these events come from.
    pub fn layer(&self) -> &'static str {
        self.layer
    }

    /// This instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reports that `event` happened.
    pub fn emit(&self, level: tracing::Level, event: &'static str) {
        macro_rules! at {
            ($lvl:expr) => {
                tracing::event!(
                    $lvl,
                    layer = self.layer,
                    name = &*self.name,
                    event,
                    "seawall {} {}",
                    self.layer,
                    event
                )
            };
        }
        match level {
            tracing::Level::ERROR => at!(tracing::Level::ERROR),
            tracing::Level::WARN => at!(tracing::Level::WARN),
            tracing::Level::INFO => at!(tracing::Level::INFO),
            tracing::Level::DEBUG => at!(tracing::Level::DEBUG),
            _ => at!(tracing::Level::TRACE),
        }
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "seawall_events_total",
            "layer" => self.layer,
            "name" => self.name.to_string(),
            "event" => event
        )
        .increment(1);
    }

    /// Records how long `what` took (a retry's backoff, a breaker's open period).
    pub fn duration(&self, what: &'static str, value: Duration) {
        tracing::trace!(
            layer = self.layer,
            name = &*self.name,
            what,
            seconds = value.as_secs_f64(),
            "seawall duration"
        );
        #[cfg(feature = "metrics")]
        metrics::histogram!(
            "seawall_duration_seconds",
            "layer" => self.layer,
            "name" => self.name.to_string(),
            "what" => what
        )
        .record(value.as_secs_f64());
        #[cfg(not(feature = "metrics"))]
        let _ = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Collects the `layer`, `name` and `event` fields of every event.
    #[derive(Default)]
    struct Collect {
        seen: Mutex<Vec<(tracing::Level, String)>>,
        next_id: AtomicUsize,
    }

    struct Fields(String);
    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() != "message" {
                self.0.push_str(&format!("{}={} ", field.name(), value));
            }
        }
        fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
    }

    impl Subscriber for &'static Collect {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) as u64 + 1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.seen
                .lock()
                .unwrap()
                .push((*event.metadata().level(), fields.0.trim_end().to_owned()));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn events_are_tracing_events_with_layer_name_and_event() {
        let collect: &'static Collect = Box::leak(Box::default());
        tracing::subscriber::with_default(collect, || {
            let events = Events::new("breaker").named("payments");
            events.emit(tracing::Level::WARN, "opened");
            events.emit(tracing::Level::DEBUG, "rejected");
        });
        let seen = collect.seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (
                    tracing::Level::WARN,
                    "layer=breaker name=payments event=opened".to_owned()
                ),
                (
                    tracing::Level::DEBUG,
                    "layer=breaker name=payments event=rejected".to_owned()
                ),
            ]
        );
    }
}
