//! The instant by which a request must be answered, and the deadline of the task at hand.
//!
//! A deadline belongs to a request, not to a layer: a client that gives up after two seconds
//! gains nothing from a server that works for ten, or from a retry that starts after the
//! client has left. [`Deadline`] is that instant, on tokio's clock, so paused-time tests
//! control it.
//!
//! Layers learn the deadline of the work they are doing in two ways:
//!
//! - from the request: an HTTP request carries it as a `Deadline` in its extensions;
//! - from the task: [`Deadline::scope`] and [`Deadline::sync_scope`] make a deadline the
//!   *current* one while a future runs, and [`Deadline::current`] reads it. This is what
//!   lets a layer that is generic over its request (the retry layer) respect a deadline, and
//!   what lets a server's deadline reach every client call its handler makes, whose requests
//!   are new values that know nothing of the inbound request.
//!
//! `seawall-timeout` sets both: its server layer puts the inbound deadline into the
//! request's extensions and scopes the handler in it; its client layer scopes the stack
//! below it in the outgoing request's deadline.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use seawall_core::deadline::Deadline;
//!
//! assert_eq!(Deadline::current(), None);
//! let deadline = Deadline::after(Duration::from_secs(2));
//! let seen = deadline.scope(async { Deadline::current() }).await;
//! assert_eq!(seen, Some(deadline));
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;

tokio::task_local! {
    static CURRENT: Deadline;
}

/// About 30 years: what "no deadline in sight" means when an instant cannot be added to.
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The instant by which a request must be answered, on tokio's clock.
///
/// It is `Copy` and ordered: the earlier of two deadlines is the one that counts
/// ([`Deadline::min`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// The deadline at `at`.
    pub fn at(at: Instant) -> Self {
        Self { at }
    }

    /// The deadline `timeout` from now. A timeout too large to add to the clock becomes
    /// about thirty years.
    pub fn after(timeout: Duration) -> Self {
        let now = Instant::now();
        let at = now
            .checked_add(timeout)
            .or_else(|| now.checked_add(FAR))
            .unwrap_or(now);
        Self { at }
    }

    /// The instant.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The time left until the deadline, zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed (it has at its very instant: no time is left).
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Whether something that takes `duration`, started now, ends strictly before the
    /// deadline.
    pub fn allows(&self, duration: Duration) -> bool {
        self.remaining() > duration
    }

    /// The deadline of the task at hand: the innermost [`scope`](Self::scope) or
    /// [`sync_scope`](Self::sync_scope) being run, or `None` outside any.
    pub fn current() -> Option<Deadline> {
        CURRENT.try_get().ok()
    }

    /// The earlier of `self` and the [current](Self::current) deadline.
    pub fn or_current(self) -> Deadline {
        match Self::current() {
            Some(current) => self.min(current),
            None => self,
        }
    }

    /// Runs `future` with `self` as the [current](Self::current) deadline.
    pub fn scope<F: Future>(self, future: F) -> TaskLocalFuture<Deadline, F> {
        CURRENT.scope(self, future)
    }

    /// Runs `f` with `self` as the [current](Self::current) deadline: what a hand-written
    /// future does around each poll of the future it wraps.
    ///
    /// # Panics
    ///
    /// Only as tokio's `LocalKey::sync_scope` does: when called while the thread's
    /// task-locals are being destroyed.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_to_zero_and_expires_at_the_instant() {
        let deadline = Deadline::after(Duration::from_millis(100));
        assert_eq!(deadline.remaining(), Duration::from_millis(100));
        assert!(deadline.allows(Duration::from_millis(99)));
        assert!(!deadline.allows(Duration::from_millis(100)));
        tokio::time::advance(Duration::from_millis(60)).await;
        assert_eq!(deadline.remaining(), Duration::from_millis(40));
        assert!(!deadline.is_expired());
        tokio::time::advance(Duration::from_millis(40)).await;
        assert!(deadline.is_expired());
        tokio::time::advance(Duration::from_millis(40)).await;
        assert_eq!(deadline.remaining(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_timeout_does_not_overflow() {
        let deadline = Deadline::after(Duration::MAX);
        assert!(deadline.remaining() >= Duration::from_secs(86_400 * 365));
    }

    #[tokio::test(start_paused = true)]
    async fn scopes_nest_and_end() {
        let outer = Deadline::after(Duration::from_secs(2));
        let inner = Deadline::after(Duration::from_secs(1));
        let seen = outer
            .scope(async move {
                let before = Deadline::current();
                let nested = inner.sync_scope(Deadline::current);
                let later = Deadline::after(Duration::from_secs(5)).or_current();
                (before, nested, later, Deadline::current())
            })
            .await;
        assert_eq!(seen, (Some(outer), Some(inner), outer, Some(outer)));
        assert_eq!(Deadline::current(), None);
    }
}
