//! Admitting one call: what `poll_ready` decides for the next call and `call` carries out,
//! written once for [`CircuitBreaker`](crate::CircuitBreaker),
//! [`EndpointBreaker`](crate::endpoint::EndpointBreaker) and (without the `poll_ready` half,
//! as its key is known only in `call`) [`KeyedCircuitBreaker`](crate::KeyedCircuitBreaker).
//!
//! The rules every breaker follows:
//!
//! - `poll_ready` decides; a half-open probe permit it takes is kept until `call` uses it,
//!   as long as the half-open it was taken in lasts. Any other decision is taken afresh at
//!   each `poll_ready`, so a service that waited on its inner service sees the breaker as it
//!   is now.
//! - `call` carries the decision out, deciding again if a transition happened in between (a
//!   pass or a permit from an earlier epoch is void: a trip in between must not let the call
//!   reach the failing dependency, nor a pass from before the trip become an extra probe).
//!   Without `poll_ready` first (a broken caller), `call` decides itself.
//! - The request's deadline: a call made when the task's [current deadline](Deadline::current)
//!   has passed is refused with `DeadlineExceeded`, is not sent and counts as nothing. It
//!   takes no probe permit ([`Admit::Expired`]), and a permit taken before the deadline
//!   passed is given back as soon as a `poll_ready` or the `call` sees it has. On the closed
//!   path this costs one task-local read per `call`; `poll_ready` reads the deadline only
//!   when the breaker hands out a probe permit or the service holds one.
//!
//! What a refusal means differs (the plain breaker fails fast; an endpoint is ejected, or
//! spared when the ejection cap is full), so each service says it through [`Hooks`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use seawall_core::deadline::Deadline;
use seawall_core::stripe::{Anchor, Handle, Handles};

use crate::future::Guard;
use crate::shared::{Admit, Kind, Shared, Ticket};

/// What a service does at the moments its breaker decides.
pub(crate) trait Hooks {
    /// What the service keeps when the breaker refuses a call.
    type Refusal: fmt::Debug;

    /// The breaker refuses, with the time until it may admit calls again when it knows.
    fn refuse(&self, after: Option<Duration>) -> Self::Refusal;

    /// The breaker admits an ordinary call (not a probe).
    #[inline]
    fn admitted(&self) {}

    /// A probe permit was given back unused because its request's deadline passed.
    #[inline]
    fn released(&self) {}
}

/// The plain breaker: a refusal is a rejection with a retry-after hint.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FailFast;

impl Hooks for FailFast {
    type Refusal = Option<Duration>;

    #[inline]
    fn refuse(&self, after: Option<Duration>) -> Option<Duration> {
        after
    }
}

/// What `poll_ready` decided for the next call.
#[derive(Debug)]
pub(crate) enum Pending<R> {
    /// Nothing yet: no `poll_ready` since the last `call` (or since the service was made).
    Undecided,
    /// Go through; nothing to give back if the call never happens.
    Pass(Ticket),
    /// Go through as a half-open probe, holding a permit.
    Probe(Guard),
    /// Refused by the breaker.
    Refuse(R),
    /// Refused: the current deadline has passed (no permit held, nothing counted).
    Expired,
}

/// What `call` does.
#[derive(Debug)]
pub(crate) enum Decision<R> {
    /// Calls the inner service; the guard reports the outcome (the call's start is noted).
    Call(Guard),
    /// Refused by the breaker.
    Refuse(R),
    /// Refused with `DeadlineExceeded`.
    Expired,
}

/// A breaker as a service holds it: what decides, and where an admitted call's guard gets
/// its handle. A service with one breaker for all its clones holds it with
/// [`Handles`], one per stripe, so that the guard of every call does not write the one
/// reference count both cores would write; a keyed breaker's many short-lived breakers are
/// each one [`Anchor`], which the table hands out.
pub(crate) trait Breaker {
    /// The breaker.
    fn breaker(&self) -> &Shared;
    /// The guard of a call admitted with `ticket`.
    fn guard(&self, ticket: Ticket) -> Guard;
}

impl Breaker for Arc<Anchor<Shared>> {
    #[inline]
    fn breaker(&self) -> &Shared {
        self
    }

    #[inline]
    fn guard(&self, ticket: Ticket) -> Guard {
        Guard::new(Handle::anchored(self.clone()), ticket)
    }
}

impl Breaker for Handles<Shared> {
    #[inline]
    fn breaker(&self) -> &Shared {
        self
    }

    #[inline]
    fn guard(&self, ticket: Ticket) -> Guard {
        Guard::new(self.handle(), ticket)
    }
}

/// Whether the task's [current deadline](Deadline::current) has passed.
#[inline]
pub(crate) fn deadline_passed() -> bool {
    Deadline::current().is_some_and(|deadline| deadline.is_expired())
}

/// What the breaker `shared` says about a call now.
#[inline]
fn decide<H: Hooks>(shared: &impl Breaker, hooks: &H) -> Pending<H::Refusal> {
    match shared.breaker().admit() {
        Admit::Call(t) if t.kind == Kind::Probe => Pending::Probe(shared.guard(t)),
        Admit::Call(t) => {
            hooks.admitted();
            Pending::Pass(t)
        }
        Admit::Reject(after) => Pending::Refuse(hooks.refuse(after)),
        Admit::Expired => Pending::Expired,
    }
}

/// Carries out `pending` (decided for `shared`) in `call`.
#[inline]
fn carry_out<R>(shared: &impl Breaker, pending: Pending<R>) -> Decision<R> {
    let mut guard = match pending {
        Pending::Pass(ticket) => shared.guard(ticket),
        Pending::Probe(guard) => guard,
        Pending::Refuse(refusal) => return Decision::Refuse(refusal),
        Pending::Expired => return Decision::Expired,
        // `carry_out` is given a decision.
        Pending::Undecided => return Decision::Expired,
    };
    guard.started();
    Decision::Call(guard)
}

/// Decides and carries out a call at once, for a breaker that has no `poll_ready` of its
/// own (the keyed breaker, whose key is known only in `call`). The caller has refused a
/// request whose deadline had passed ([`deadline_passed`]) before finding the breaker.
#[inline]
pub(crate) fn admit_now<H: Hooks>(shared: &Arc<Anchor<Shared>>, hooks: &H) -> Decision<H::Refusal> {
    carry_out(shared, decide(shared, hooks))
}

/// One service's breaker and the decision its `poll_ready` made for the next call.
///
/// A clone starts with no decision (and so holds no probe permit).
pub(crate) struct Admission<H: Hooks> {
    shared: Arc<Handles<Shared>>,
    hooks: H,
    pending: Pending<H::Refusal>,
}

impl<H: Hooks> Admission<H> {
    pub(crate) fn new(shared: Arc<Handles<Shared>>, hooks: H) -> Self {
        Self {
            shared,
            hooks,
            pending: Pending::Undecided,
        }
    }

    /// The breaker.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.shared.shared()
    }

    /// The hooks.
    pub(crate) fn hooks(&self) -> &H {
        &self.hooks
    }

    /// `poll_ready`'s decision for the next call: a probe permit still current is kept,
    /// anything else decided afresh. A probe whose deadline has passed gives its permit back
    /// at once (dropping the guard releases it) rather than holding it until `call` refuses.
    #[inline]
    pub(crate) fn poll_decide(&mut self) -> &Pending<H::Refusal> {
        match &self.pending {
            Pending::Probe(guard) if guard.is_current() => {
                if deadline_passed() {
                    // Dropping the guard gives the permit back.
                    self.pending = Pending::Expired;
                    self.hooks.released();
                }
            }
            _ => self.pending = self.decide(),
        }
        &self.pending
    }

    /// `call`'s decision: `poll_ready`'s if it still stands (one load on the closed path),
    /// decided again if a transition voided it, decided now without one. A request whose
    /// deadline has passed goes nowhere, and a probe permit held for it is given back.
    #[inline]
    pub(crate) fn take(&mut self) -> Decision<H::Refusal> {
        let pending = std::mem::replace(&mut self.pending, Pending::Undecided);
        if deadline_passed() {
            if matches!(pending, Pending::Probe(_)) {
                drop(pending);
                self.hooks.released();
            }
            return Decision::Expired;
        }
        let pending = match pending {
            Pending::Pass(ticket) if !self.shared.is_current(ticket) => self.decide(),
            Pending::Probe(guard) if !guard.is_current() => self.decide(),
            Pending::Undecided => self.decide(),
            p => p,
        };
        carry_out(&*self.shared, pending)
    }

    #[inline]
    fn decide(&self) -> Pending<H::Refusal> {
        decide(&*self.shared, &self.hooks)
    }

    /// The decision held, for `Debug`.
    pub(crate) fn pending(&self) -> &Pending<H::Refusal> {
        &self.pending
    }
}

impl<H: Hooks + Clone> Clone for Admission<H> {
    fn clone(&self) -> Self {
        Self::new(self.shared.clone(), self.hooks.clone())
    }
}

impl<H: Hooks> fmt::Debug for Admission<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("state", &self.shared.state())
            .field("pending", &self.pending)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_call_in_flight_holds_its_threads_handle_not_the_shared_count() {
        // Two threads calling one breaker would otherwise write one reference count on
        // every call: the shared `Arc`'s count must not move while calls are in flight.
        let shared = Arc::new(Shared::new(Config::default()));
        let mut admission = Admission::new(Arc::new(Handles::new(shared.clone())), FailFast);
        let before = Arc::strong_count(&shared);
        let guards: Vec<Guard> = (0..10)
            .filter_map(|_| {
                admission.poll_decide();
                match admission.take() {
                    Decision::Call(guard) => Some(guard),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(guards.len(), 10, "a closed breaker admits every call");
        assert_eq!(Arc::strong_count(&shared), before);
        // A guard outlives the service that admitted it, and still reports.
        drop(admission);
        drop(guards);
        assert_eq!(Arc::strong_count(&shared), 1, "a guard leaked the breaker");
    }
}
