use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::stripe::Handles;
use seawall_core::{ConfigError, ErrorsAreFailures, Events};
use tower_layer::Layer;

use super::hold::UntilResponse;
use super::Shed;
use crate::controller::{Controller, Queue};
use crate::limit::{Limit, Vegas};
use crate::priority::{AllNormal, Priority};

/// Sheds load in front of a service: see the [module docs](super).
///
/// Every service this layer makes shares one limit and one count in flight: put it once in
/// front of what it protects (in axum, `Router::layer` applies it to every route, and they
/// share the limit).
pub struct ShedLayer<P = AllNormal, C = ErrorsAreFailures, H = UntilResponse> {
    /// The shared state, with the per-thread handles admitted requests' permits take.
    controller: Arc<Handles<Controller>>,
    prioritize: P,
    classify: C,
    hold: H,
}

impl<P: Clone, C: Clone, H: Clone> Clone for ShedLayer<P, C, H> {
    fn clone(&self) -> Self {
        Self {
            controller: self.controller.clone(),
            prioritize: self.prioritize.clone(),
            classify: self.classify.clone(),
            hold: self.hold.clone(),
        }
    }
}

impl<P, C, H> fmt::Debug for ShedLayer<P, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShedLayer")
            .field("limit", &self.controller.limit())
            .field("in_flight", &self.controller.in_flight())
            .finish_non_exhaustive()
    }
}

impl ShedLayer {
    /// Starts a builder: [`Vegas`] at its defaults (Netflix's, fed one sample per 1 s
    /// window as Netflix's `WindowedLimit` would), no queue, no priorities, errors are
    /// drops, the slot is given back at the response, retry-after hint 1 s.
    pub fn builder() -> ShedBuilder {
        ShedBuilder {
            limit: Box::new(Vegas::default()),
            queue: None,
            codel: None,
            reserve: [0.0; 3],
            retry_after: Some(Duration::from_secs(1)),
            name: None,
            prioritize: AllNormal,
            classify: ErrorsAreFailures,
            hold: UntilResponse,
        }
    }
}

impl<P, C, H> ShedLayer<P, C, H> {
    /// The limit in force now.
    pub fn limit(&self) -> usize {
        self.controller.limit()
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.controller.in_flight()
    }
}

impl<S, P: Clone, C: Clone, H: Clone> Layer<S> for ShedLayer<P, C, H> {
    type Service = Shed<S, P, C, H>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            controller: self.controller.clone(),
            prioritize: self.prioritize.clone(),
            classify: self.classify.clone(),
            hold: self.hold.clone(),
        }
    }
}

/// Builds a [`ShedLayer`]; start with [`ShedLayer::builder`].
pub struct ShedBuilder<P = AllNormal, C = ErrorsAreFailures, H = UntilResponse> {
    limit: Box<dyn Limit>,
    queue: Option<(usize, Duration)>,
    codel: Option<(Duration, Duration)>,
    reserve: [f64; 3],
    retry_after: Option<Duration>,
    name: Option<String>,
    prioritize: P,
    classify: C,
    hold: H,
}

impl<P, C, H> fmt::Debug for ShedBuilder<P, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShedBuilder")
            .field("limit", &self.limit)
            .field("queue", &self.queue)
            .field("codel", &self.codel)
            .field("reserve", &self.reserve)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl<P, C, H> ShedBuilder<P, C, H> {
    /// The concurrency limit: [`Fixed`](crate::limit::Fixed) or an adaptive one (default
    /// `Vegas::default()`, which learns from 1 s windows).
    pub fn limit(mut self, limit: impl Limit) -> Self {
        self.limit = Box::new(limit);
        self
    }

    /// Lets up to `capacity` requests wait up to `max_wait` for a slot instead of being
    /// refused at once (default: no queue). Waiters are served most important first.
    pub fn queue(mut self, capacity: usize, max_wait: Duration) -> Self {
        self.queue = Some((capacity, max_wait));
        self
    }

    /// Controlled delay for the queue (Facebook's "Fail at Scale"): once the queue has not
    /// been empty for `interval`, a newcomer waits at most `target`, and the newest waiters
    /// are served first (adaptive LIFO). Suggested: 5 ms and 100 ms. Needs [`queue`](Self::queue).
    pub fn codel(mut self, target: Duration, interval: Duration) -> Self {
        self.codel = Some((target, interval));
        self
    }

    /// Keeps `share` of the limit for requests more important than `below`: requests of
    /// priority `below` and lower may not fill it (default 0 for each). `reserve(Normal,
    /// 0.2)` keeps 20% of the limit for critical requests; `reserve(Sheddable, 0.3)` keeps a
    /// further 30% away from sheddable ones. `Critical` has nothing above it and is ignored.
    pub fn reserve(mut self, below: Priority, share: f64) -> Self {
        self.reserve[below.index()] = share;
        self
    }

    /// The retry-after hint on rejections (default 1 s; `None` for no hint).
    pub fn retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    /// Names this layer's events.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How each request gets its [`Priority`] (default: all normal).
    pub fn priority<Q>(self, prioritize: Q) -> ShedBuilder<Q, C, H> {
        self.with(|_, classify, hold| (prioritize, classify, hold))
    }

    /// Which results are drops, fed to the limit as such (default
    /// [`ErrorsAreFailures`]: every error, such as a timeout or a rejection from below).
    /// [`Outcome::Ignored`](seawall_core::Outcome::Ignored) results give no sample.
    pub fn classify<K>(self, classify: K) -> ShedBuilder<P, K, H> {
        self.with(|prioritize, _, hold| (prioritize, classify, hold))
    }

    /// Holds each slot until the HTTP response body ends (see [`UntilBodyEnd`](super::UntilBodyEnd)).
    #[cfg(feature = "http")]
    pub fn hold_to_body_end(self) -> ShedBuilder<P, C, super::UntilBodyEnd> {
        self.with(|prioritize, classify, _| (prioritize, classify, super::UntilBodyEnd))
    }

    /// The same settings with the typed parts replaced by `f`.
    fn with<Q, K, G>(self, f: impl FnOnce(P, C, H) -> (Q, K, G)) -> ShedBuilder<Q, K, G> {
        let (prioritize, classify, hold) = f(self.prioritize, self.classify, self.hold);
        ShedBuilder {
            limit: self.limit,
            queue: self.queue,
            codel: self.codel,
            reserve: self.reserve,
            retry_after: self.retry_after,
            name: self.name,
            prioritize,
            classify,
            hold,
        }
    }

    /// Checks the settings and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: a queue of capacity 0 or a zero `max_wait`, a
    /// `codel` without a queue or with a zero time, a reserve outside 0..=1 or reserves
    /// adding up to 1 or more.
    pub fn build(self) -> Result<ShedLayer<P, C, H>, ConfigError> {
        if let Some((capacity, wait)) = self.queue {
            if capacity == 0 || wait.is_zero() {
                return Err(ConfigError::new(format!(
                    "queue capacity and max_wait must be more than zero, got {capacity} and {wait:?}"
                )));
            }
        }
        if let Some((target, interval)) = self.codel {
            if self.queue.is_none() {
                return Err(ConfigError::new(
                    "codel needs a queue: set queue(capacity, max_wait)",
                ));
            }
            if target.is_zero() || interval.is_zero() {
                return Err(ConfigError::new(
                    "codel target and interval must be more than zero",
                ));
            }
        }
        for p in [Priority::Normal, Priority::Sheddable] {
            crate::limit::check_range(
                &format!("reserve({})", p.as_str()),
                self.reserve[p.index()],
                0.0,
                1.0,
            )?;
        }
        let normal = 1.0 - self.reserve[Priority::Normal.index()];
        let sheddable = normal - self.reserve[Priority::Sheddable.index()];
        if sheddable <= 0.0 {
            return Err(ConfigError::new(format!(
                "reserve(normal) + reserve(sheddable) must be under 1, got {}",
                1.0 - sheddable
            )));
        }
        let mut events = Events::new("shed");
        if let Some(name) = self.name {
            events = events.named(name);
        }
        let queue = self
            .queue
            .map(|(capacity, wait)| Queue::new(capacity, wait, self.codel));
        Ok(ShedLayer {
            controller: Arc::new(Handles::new(Arc::new(Controller::new(
                self.limit,
                [1.0, normal, sheddable],
                queue,
                self.retry_after,
                events,
            )))),
            prioritize: self.prioritize,
            classify: self.classify,
            hold: self.hold,
        })
    }
}
