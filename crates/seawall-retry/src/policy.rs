use std::error::Error;
use std::fmt;
use std::time::Duration;

use seawall_core::{find_rejection, BoxError};

use crate::error::{has_do_not_retry, DoNotRetry};

/// What a [`Policy`] makes of one attempt's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The result goes back to the caller: a success, or a failure no retry can help.
    Done,
    /// A failure worth another attempt, if attempts and budget allow; `after` is the wait
    /// the callee asked for (`Retry-After`), which replaces the backoff.
    Retry {
        /// The wait the callee asked for, if any.
        after: Option<Duration>,
    },
    /// A failure whose callee said "do not retry" (a Seawall rejection, a tier below that
    /// already retried): it goes back to the caller untouched and an event is recorded.
    DoNotRetry,
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
/// [`RetryErrors`] is the policy for services whose errors are `BoxError`s, `HttpPolicy`
/// (feature `http`) the one for HTTP clients. Implement this trait for anything else.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a retry policy for requests `{Req}` and results `Result<{Res}, {E}>`",
    label = "this retry layer's policy cannot judge these requests and results",
    note = "an HTTP client needs `.policy(HttpPolicy::new())` on the `RetryLayer` builder, with a `ReplayableBodyLayer` outside the `RetryLayer`",
    note = "the default policy `RetryErrors` serves only services whose error type is `BoxError` and whose requests are `Clone`"
)]
pub trait Policy<Req, Res, E> {
    /// Classifies one attempt's result.
    fn classify(&self, result: &Result<Res, E>) -> Verdict;

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

/// The policy for services whose error type is `BoxError`: every error is retried, except
/// those that say "do not retry" — a Seawall rejection whose
/// [`retryable`](seawall_core::Rejection::retryable) is `false` ([`Overloaded`],
/// [`CircuitOpen`], …) or a [`DoNotRetry`] mark from a retry layer below — and `Ok`
/// responses are done. Requests are replayed with `Clone`.
///
/// With [`mark_give_ups`](Self::mark_give_ups), the failures this layer gives up on are
/// wrapped in [`DoNotRetry`], so that a retry layer above (in this process, or across a
/// service boundary that carries the mark) does not retry them: only the tier directly above
/// a failure retries. It is off by default, so the caller gets the very error the service
/// returned; turn it on where a tier's errors reach another retrying tier.
///
/// [`Overloaded`]: seawall_core::rejection::Overloaded
/// [`CircuitOpen`]: seawall_core::rejection::CircuitOpen
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryErrors {
    mark: bool,
}

impl RetryErrors {
    /// Retries every error but the "do not retry" ones; does not mark give-ups.
    pub fn new() -> Self {
        Self { mark: false }
    }

    /// Wraps the failures this layer gives up on in [`DoNotRetry`] (default: off).
    pub fn mark_give_ups(mut self, mark: bool) -> Self {
        self.mark = mark;
        self
    }
}

impl<Req: Clone, Res> Policy<Req, Res, BoxError> for RetryErrors {
    fn classify(&self, result: &Result<Res, BoxError>) -> Verdict {
        match result {
            Ok(_) => Verdict::Done,
            Err(e) => {
                let e: &(dyn std::error::Error + 'static) = e.as_ref();
                if has_do_not_retry(e) {
                    return Verdict::DoNotRetry;
                }
                match find_rejection(e) {
                    Some(r) if !r.retryable() => Verdict::DoNotRetry,
                    Some(r) => Verdict::Retry {
                        after: r.retry_after(),
                    },
                    None => Verdict::Retry { after: None },
                }
            }
        }
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
            Err(e) if self.mark && !has_do_not_retry(e.as_ref()) => {
                Err(Box::new(DoNotRetry::new(e)))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seawall_core::rejection::{CircuitOpen, Overloaded};

    fn classify(e: BoxError) -> Verdict {
        Policy::<(), (), BoxError>::classify(&RetryErrors::new(), &Err(e))
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
}
