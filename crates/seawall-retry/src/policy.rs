use std::error::Error;
use std::fmt;
use std::time::Duration;

use seawall_core::retry_signal::{do_not_retry, retry_after};
use seawall_core::{BoxError, Classify, DoNotRetry, ErrorsAreFailures, Outcome};

/// What the layer makes of one attempt's result, derived in one place ([`Verdict::of`])
/// from the policy's one classification, its "do not retry" mark and its retry-after hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The result goes back to the caller: a success, or a result that says nothing about
    /// the callee's health ([`Outcome::Ignored`]).
    Done,
    /// A failure worth another attempt, if attempts and budget allow; `after` is the wait
    /// the callee asked for (`Retry-After`), which replaces the backoff.
    Retry {
        /// The wait the callee asked for, if any.
        after: Option<Duration>,
    },
    /// A failure (or ignored result) that says "do not retry" (a Seawall rejection, a tier
    /// below that already retried): it goes back to the caller untouched and an event is
    /// recorded.
    DoNotRetry,
}

impl Verdict {
    /// The verdict on `result`:
    ///
    /// | [`Policy::classify`] | [`Policy::do_not_retry`] | verdict |
    /// |---|---|---|
    /// | `Success` | — | `Done` |
    /// | `Failure` or `Ignored` | `true` | `DoNotRetry` |
    /// | `Ignored` | `false` | `Done` |
    /// | `Failure` | `false` | `Retry { after: `[`Policy::retry_after`]` }` |
    ///
    /// The hint is read only for a failure that will be retried, so the success path
    /// parses no header.
    ///
    /// `Req` is not inferred from the arguments; name it when calling this outside a
    /// generic context:
    ///
    /// ```
    /// use seawall_core::{rejection::Overloaded, BoxError};
    /// use seawall_retry::{RetryErrors, Verdict};
    ///
    /// let policy = RetryErrors::new();
    /// let reset: Result<(), BoxError> = Err("connection reset".into());
    /// assert_eq!(Verdict::of::<_, (), _, _>(&policy, &reset), Verdict::Retry { after: None });
    /// let shed: Result<(), BoxError> = Err(Overloaded::new(None).into());
    /// assert_eq!(Verdict::of::<_, (), _, _>(&policy, &shed), Verdict::DoNotRetry);
    /// ```
    pub fn of<P, Req, Res, E>(policy: &P, result: &Result<Res, E>) -> Self
    where
        P: Policy<Req, Res, E> + ?Sized,
    {
        match policy.classify(result) {
            Outcome::Success => Verdict::Done,
            _ if policy.do_not_retry(result) => Verdict::DoNotRetry,
            Outcome::Ignored => Verdict::Done,
            Outcome::Failure => Verdict::Retry {
                after: policy.retry_after(result),
            },
        }
    }
}

/// What a failed attempt was, for the layer's events: see [`Policy::describe`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Described<'a> {
    /// A response with this status code (HTTP).
    Status(u16),
    /// An error.
    Error(&'a (dyn Error + 'static)),
    /// Nothing the policy can say.
    Unknown,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Described::Status(code) => write!(f, "status {code}"),
            Described::Error(e) => write!(f, "error: {e}"),
            Described::Unknown => f.write_str("unknown"),
        }
    }
}

/// Decides which results are retried and how a request is replayed.
///
/// A policy answers three questions about a result, and the layer combines them in one
/// place ([`Verdict::of`]):
///
/// - [`classify`](Self::classify): the one classification every Seawall layer shares,
///   a [`seawall_core::Outcome`]. A `Failure` is a retry candidate (the same results a
///   breaker counts against the callee); `Success` and `Ignored` are done. The stock
///   policies take any [`Classify`], so the classifier a breaker counts with can decide the
///   retries too.
/// - [`do_not_retry`](Self::do_not_retry): whether the result carries the "do not retry"
///   mark ([`seawall_core::retry_signal`]; `seawall-retry: no` over HTTP).
/// - [`retry_after`](Self::retry_after): the wait the callee asked for.
///
/// [`RetryErrors`] is the policy for services whose errors are `BoxError`s, `HttpPolicy`
/// (feature `http`) the one for HTTP clients. Implement this trait for anything else.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a retry policy for requests `{Req}` and results `Result<{Res}, {E}>`",
    label = "this retry layer's policy cannot judge these requests and results",
    note = "an HTTP client needs `.policy(HttpPolicy::new())` on the `RetryLayer` builder, with a `ReplayLayer` outside the `RetryLayer`",
    note = "the default policy `RetryErrors` serves only services whose error type is `BoxError` and whose requests are `Clone`"
)]
pub trait Policy<Req, Res, E> {
    /// Classifies one attempt's result: `Failure` is a retry candidate, `Success` and
    /// `Ignored` are done.
    fn classify(&self, result: &Result<Res, E>) -> Outcome;

    /// Whether the result says "do not retry" (default: `false`). Asked only of results that
    /// are not successes.
    fn do_not_retry(&self, result: &Result<Res, E>) -> bool {
        let _ = result;
        false
    }

    /// The wait the callee asked for before the next attempt, which replaces the backoff
    /// (default: `None`). Asked only of failures about to be retried.
    fn retry_after(&self, result: &Result<Res, E>) -> Option<Duration> {
        let _ = result;
        None
    }

    /// A copy of `request` to send again, or `None` when it cannot be replayed (the layer
    /// then does not retry it). Called once per call before the first attempt, so on the
    /// success path it should not allocate.
    fn clone_request(&self, request: &Req) -> Option<Req>;

    /// Whether a copy made earlier by [`clone_request`](Self::clone_request) can still be
    /// sent, asked when a retry is due (a replayable body can stop being replayable while
    /// the first attempt reads it). `true` by default.
    fn can_replay(&self, replay: &Req) -> bool {
        let _ = replay;
        true
    }

    /// Readies a copy for attempt `attempt` (2 for the first retry): an HTTP policy adds
    /// its attempt-number header here. Does nothing by default.
    fn prepare_retry(&self, request: &mut Req, attempt: u32) {
        let _ = (request, attempt);
    }

    /// Describes a result for the layer's events (field `outcome`): the status of a
    /// response, or the error. [`Described::Unknown`] by default. Called only when an event
    /// is recorded, never on the success path.
    fn describe<'a>(&self, result: &'a Result<Res, E>) -> Described<'a> {
        let _ = result;
        Described::Unknown
    }

    /// Marks a failure the layer gives up on — retried until the attempts ran out, or
    /// refused a retry by the budget — so that the tier above does not retry it in turn.
    /// Not called for failures the layer retried nothing of for another reason (one attempt
    /// only, a `Retry-After` too long, a request that cannot be replayed). Returns it
    /// unchanged by default.
    fn mark_give_up(&self, result: Result<Res, E>) -> Result<Res, E> {
        result
    }
}

/// The policy for services whose error type is `BoxError`: the results its classifier calls
/// failures are retried — by default ([`ErrorsAreFailures`]) every error — except those
/// that say "do not retry" ([`seawall_core::do_not_retry`]: a Seawall rejection such as
/// [`Overloaded`] or [`CircuitOpen`], or a [`DoNotRetry`] mark from a retry layer below).
/// A rejection's retry-after hint, if a retryable one carries it, replaces the backoff.
/// Requests are replayed with `Clone`.
///
/// [`classifier`](Self::classifier) swaps in any [`Classify`] — the same one a breaker in
/// the stack counts with, for example — so that the two layers agree on what a failure is.
///
/// With [`mark_give_ups`](Self::mark_give_ups), the failures this layer gives up on are
/// wrapped in [`DoNotRetry`], so that a retry layer above (in this process, or across a
/// service boundary that carries the mark) does not retry them: only the tier directly above
/// a failure retries. It is off by default, so the caller gets the very error the service
/// returned; turn it on where a tier's errors reach another retrying tier.
///
/// [`Overloaded`]: seawall_core::rejection::Overloaded
/// [`CircuitOpen`]: seawall_core::rejection::CircuitOpen
#[derive(Clone, Copy, Debug)]
pub struct RetryErrors<C = ErrorsAreFailures> {
    classifier: C,
    mark: bool,
}

impl Default for RetryErrors {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryErrors {
    /// Retries every error but the "do not retry" ones; does not mark give-ups.
    pub fn new() -> Self {
        Self {
            classifier: ErrorsAreFailures,
            mark: false,
        }
    }
}

impl<C> RetryErrors<C> {
    /// Retries what `classifier` calls a `Failure` (default [`ErrorsAreFailures`]: every
    /// error). "Do not retry" failures are still not retried.
    pub fn classifier<D>(self, classifier: D) -> RetryErrors<D> {
        RetryErrors {
            classifier,
            mark: self.mark,
        }
    }

    /// Wraps the failures this layer gives up on in [`DoNotRetry`] (default: off).
    pub fn mark_give_ups(mut self, mark: bool) -> Self {
        self.mark = mark;
        self
    }
}

impl<Req: Clone, Res, C> Policy<Req, Res, BoxError> for RetryErrors<C>
where
    C: Classify<Res, BoxError>,
{
    fn classify(&self, result: &Result<Res, BoxError>) -> Outcome {
        self.classifier.classify(result)
    }

    fn do_not_retry(&self, result: &Result<Res, BoxError>) -> bool {
        result
            .as_ref()
            .err()
            .is_some_and(|e| do_not_retry(e.as_ref()))
    }

    fn retry_after(&self, result: &Result<Res, BoxError>) -> Option<Duration> {
        result.as_ref().err().and_then(|e| retry_after(e.as_ref()))
    }

    fn clone_request(&self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }

    fn describe<'a>(&self, result: &'a Result<Res, BoxError>) -> Described<'a> {
        match result {
            Ok(_) => Described::Unknown,
            Err(e) => Described::Error(e.as_ref()),
        }
    }

    fn mark_give_up(&self, result: Result<Res, BoxError>) -> Result<Res, BoxError> {
        match result {
            Err(e) if self.mark => Err(DoNotRetry::mark(e)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seawall_core::rejection::{CircuitOpen, Overloaded};

    fn verdict<C: Classify<(), BoxError>>(policy: &RetryErrors<C>, e: BoxError) -> Verdict {
        Verdict::of::<_, (), _, _>(policy, &Err(e))
    }

    fn classify(e: BoxError) -> Verdict {
        verdict(&RetryErrors::new(), e)
    }

    #[test]
    fn seawall_rejections_and_marks_are_not_retried() {
        assert_eq!(classify("boom".into()), Verdict::Retry { after: None });
        assert_eq!(classify(Overloaded::new(None).into()), Verdict::DoNotRetry);
        assert_eq!(
            classify(CircuitOpen::new(Some(Duration::from_secs(1))).into()),
            Verdict::DoNotRetry
        );
        let marking = RetryErrors::new().mark_give_ups(true);
        let marked =
            Policy::<(), (), BoxError>::mark_give_up(&marking, Err("boom".into())).unwrap_err();
        assert_eq!(
            marked.to_string(),
            "boom",
            "the mark displays as the failure"
        );
        assert!(marked.is::<DoNotRetry>());
        assert_eq!(classify(marked), Verdict::DoNotRetry);
        let unmarked =
            Policy::<(), (), BoxError>::mark_give_up(&RetryErrors::new(), Err("boom".into()));
        assert!(!unmarked.unwrap_err().is::<DoNotRetry>(), "off by default");
    }

    #[test]
    fn defaults_need_no_annotation() {
        let policy = RetryErrors::default();
        assert_eq!(
            verdict(&policy, "boom".into()),
            Verdict::Retry { after: None }
        );
    }

    #[test]
    fn the_classifier_decides_what_is_a_failure() {
        // Only timeouts count: the same closure could count failures for a breaker.
        let timeouts_only = |r: &Result<(), BoxError>| match r {
            Err(e) if e.to_string().contains("timed out") => Outcome::Failure,
            Err(_) => Outcome::Ignored,
            Ok(()) => Outcome::Success,
        };
        let policy = RetryErrors::new().classifier(timeouts_only);
        assert_eq!(
            verdict(&policy, "timed out".into()),
            Verdict::Retry { after: None }
        );
        assert_eq!(verdict(&policy, "bad request".into()), Verdict::Done);
        assert_eq!(
            verdict(&policy, Overloaded::new(None).into()),
            Verdict::DoNotRetry,
            "an ignored rejection still reports do-not-retry"
        );
    }
}
