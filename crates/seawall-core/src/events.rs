use std::sync::Arc;
use std::time::Duration;

/// Reports a layer's notable moments — a retry, a trip, a shed request — to whoever listens.
///
/// Every event is a [`tracing`] event with the target `seawall::<layer>` (such as
/// `seawall::retry`, so that each layer's events can be filtered on their own) and the fields
/// `layer`, `name` and `event`, plus whatever the layer adds with [`event!`](crate::event!).
/// With the `metrics` feature it also increments the counter `seawall_events_total` with
/// the labels `layer`, `name` and `event`, and [`duration`](Self::duration) records the
/// histogram `seawall_duration_seconds`. `docs/telemetry.md` lists every event and metric.
///
/// Events are for the unusual path: the steady success path of a layer emits nothing.
///
/// ```
/// use seawall_core::Events;
///
/// let events = Events::new("retry").named("payments");
/// // With fields: the layer is an identifier, so the target is a constant.
/// let attempt = 2;
/// seawall_core::event!(retry, DEBUG, &events, "retry", attempt);
/// // Without: the target is looked up among the layers Seawall knows.
/// events.emit(tracing::Level::DEBUG, "retry");
/// ```
#[derive(Clone, Debug)]
pub struct Events {
    layer: &'static str,
    name: Arc<str>,
}

/// Emits a layer's event: a tracing event with target `seawall::<layer>` and the fields
/// `layer`, `name`, `event` and the given ones, and (with the `metrics` feature) one more in
/// `seawall_events_total{layer, name, event}`.
///
/// `event!(layer, LEVEL, events, "event", fields…)`, where `layer` is the layer's identifier
/// (`retry`, `breaker`, `shed`, `hedge`, `timeout`, `chaos`, …; it must match the
/// [`Events::new`] name), `LEVEL` a [`tracing::Level`] constant, `events` a `&Events` (or
/// `_` for a layer without instance names) and the fields as in [`tracing::event!`].
/// Tracing targets must be constants at the call site: this macro is how every layer gets
/// its own without writing the event and the counter by hand.
#[macro_export]
macro_rules! event {
    ($layer:ident, $level:ident, _, $event:expr $(, $($fields:tt)+)?) => {{
        let event: &'static str = $event;
        $crate::__private::tracing::event!(
            target: concat!("seawall::", stringify!($layer)),
            $crate::__private::tracing::Level::$level,
            layer = stringify!($layer),
            name = "",
            event,
            $($($fields)+,)?
            "seawall {} {}", stringify!($layer), event
        );
        $crate::Events::count_as(stringify!($layer), "", event);
    }};
    ($layer:ident, $level:ident, $events:expr, $event:expr $(, $($fields:tt)+)?) => {{
        let events: &$crate::Events = $events;
        let event: &'static str = $event;
        $crate::__private::tracing::event!(
            target: concat!("seawall::", stringify!($layer)),
            $crate::__private::tracing::Level::$level,
            layer = stringify!($layer),
            name = events.name(),
            event,
            $($($fields)+,)?
            "seawall {} {}", stringify!($layer), event
        );
        events.count(event);
    }};
}

/// Calls `$m!(layer_ident, "layer")` for every layer whose target [`Events::emit`] knows.
macro_rules! known_layers {
    ($m:ident) => {
        $m!(retry breaker shed throttle hedge timeout chaos ratelimit http)
    };
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

    /// Reports that `event` happened, with no fields beyond `layer`, `name` and `event`.
    ///
    /// The target is `seawall::<layer>` for the layers Seawall knows (`retry`, `breaker`,
    /// `shed`, `throttle`, `hedge`, `timeout`, `chaos`, `ratelimit`, `http`) and `seawall`
    /// for any other; [`event!`](crate::event!) takes fields and any layer.
    pub fn emit(&self, level: tracing::Level, event: &'static str) {
        macro_rules! at {
            ($layer:ident, $lvl:ident) => {
                $crate::event!($layer, $lvl, self, event)
            };
        }
        macro_rules! levels {
            ($layer:ident) => {
                match level {
                    tracing::Level::ERROR => at!($layer, ERROR),
                    tracing::Level::WARN => at!($layer, WARN),
                    tracing::Level::INFO => at!($layer, INFO),
                    tracing::Level::DEBUG => at!($layer, DEBUG),
                    _ => at!($layer, TRACE),
                }
            };
        }
        macro_rules! by_layer {
            ($($layer:ident)*) => {
                match self.layer {
                    $(stringify!($layer) => levels!($layer),)*
                    _ => {
                        macro_rules! other {
                            ($lvl:ident) => {
                                tracing::event!(
                                    target: "seawall",
                                    tracing::Level::$lvl,
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
                            tracing::Level::ERROR => other!(ERROR),
                            tracing::Level::WARN => other!(WARN),
                            tracing::Level::INFO => other!(INFO),
                            tracing::Level::DEBUG => other!(DEBUG),
                            _ => other!(TRACE),
                        }
                        self.count(event);
                    }
                }
            };
        }
        known_layers!(by_layer);
    }

    /// Counts `event` in `seawall_events_total{layer, name, event}` (with the `metrics`
    /// feature; else nothing). [`event!`](crate::event!) calls it; call it directly only for
    /// an event that has already been traced.
    pub fn count(&self, event: &'static str) {
        Self::count_as(self.layer, &self.name, event);
    }

    /// [`count`](Self::count) for a layer without an [`Events`] value.
    #[doc(hidden)]
    pub fn count_as(layer: &'static str, name: &str, event: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "seawall_events_total",
            "layer" => layer,
            "name" => name.to_owned(),
            "event" => event
        )
        .increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = (layer, name, event);
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

/// A layer's calls by outcome: the counter `seawall_calls_total{layer, name, outcome}` with
/// `outcome` one of `success`, `failure`, `ignored` (as the layer's [`Classify`](crate::Classify)
/// said) or `rejected` (the layer refused the call itself).
///
/// The four counter handles are taken once, when the value is made (so a `metrics` recorder
/// must be installed before the layer is built), and each call is one atomic increment: no
/// lookup and no allocation on the request path. Without the `metrics` feature it is empty and
/// every method does nothing.
#[derive(Clone, Default)]
pub struct Calls {
    #[cfg(feature = "metrics")]
    handles: Option<Arc<[metrics::Counter; 4]>>,
}

impl Calls {
    /// The counters of `events`' layer and name.
    pub fn new(events: &Events) -> Self {
        #[cfg(feature = "metrics")]
        {
            let counter = |outcome: &'static str| {
                metrics::counter!(
                    "seawall_calls_total",
                    "layer" => events.layer,
                    "name" => events.name.to_string(),
                    "outcome" => outcome
                )
            };
            Self {
                handles: Some(Arc::new([
                    counter("success"),
                    counter("failure"),
                    counter("ignored"),
                    counter("rejected"),
                ])),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = events;
            Self {}
        }
    }

    /// A call finished with `outcome`.
    #[inline]
    pub fn outcome(&self, outcome: crate::Outcome) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = &self.handles {
            let i = match outcome {
                crate::Outcome::Success => 0,
                crate::Outcome::Failure => 1,
                crate::Outcome::Ignored => 2,
            };
            handles[i].increment(1);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = outcome;
    }

    /// Counts one call of `layer` (instance `name`) as `outcome` (`"success"`,
    /// `"failure"`, `"ignored"` or `"rejected"`), looking the counter up in the recorder
    /// each time: for rare paths of plumbing that keeps no handles (a rejection turned into
    /// a response, a body over its replay cap). Does nothing without the `metrics` feature.
    pub fn count_once(layer: &'static str, name: &'static str, outcome: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "seawall_calls_total",
            "layer" => layer,
            "name" => name,
            "outcome" => outcome
        )
        .increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = (layer, name, outcome);
    }

    /// The layer refused a call.
    #[inline]
    pub fn rejected(&self) {
        #[cfg(feature = "metrics")]
        if let Some(handles) = &self.handles {
            handles[3].increment(1);
        }
    }
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calls").finish_non_exhaustive()
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
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.push_str(&format!("{}={} ", field.name(), value));
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
            let mut fields = Fields(format!("{} ", event.metadata().target()));
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
    fn events_are_tracing_events_with_the_layers_target_name_and_event() {
        let collect: &'static Collect = Box::leak(Box::default());
        tracing::subscriber::with_default(collect, || {
            let events = Events::new("breaker").named("payments");
            events.emit(tracing::Level::WARN, "opened");
            events.emit(tracing::Level::DEBUG, "rejected");
            let attempt = 3_u64;
            crate::event!(retry, INFO, &Events::new("retry"), "give_up", attempt);
            crate::event!(timeout, DEBUG, _, "timed_out");
            Events::new("someone_elses").emit(tracing::Level::INFO, "thing");
        });
        let seen = collect.seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (
                    tracing::Level::WARN,
                    "seawall::breaker layer=breaker name=payments event=opened".to_owned()
                ),
                (
                    tracing::Level::DEBUG,
                    "seawall::breaker layer=breaker name=payments event=rejected".to_owned()
                ),
                (
                    tracing::Level::INFO,
                    "seawall::retry layer=retry name= event=give_up attempt=3".to_owned()
                ),
                (
                    tracing::Level::DEBUG,
                    "seawall::timeout layer=timeout name= event=timed_out".to_owned()
                ),
                (
                    tracing::Level::INFO,
                    "seawall layer=someone_elses name= event=thing".to_owned()
                ),
            ]
        );
    }
}
