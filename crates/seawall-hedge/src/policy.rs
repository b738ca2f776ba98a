//! What an attempt's answer means to the hedge, and how a request is sent again.

use std::error::Error;
use std::time::Duration;

use seawall_core::{find_rejection, BoxError, Classify, ErrorsAreFailures, Outcome};

/// What a [`Policy`] makes of one attempt's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An acceptable answer: the first one wins, and the other attempts are cancelled.
    Accept,
    /// A failure that another attempt may fix: it does not win; the next attempt is sent at
    /// once, or after `after` when the callee asked for a wait (`Retry-After`). If every
    /// attempt ends so, the caller gets the last one.
    Retry {
        /// The wait the callee asked for, if any.
        after: Option<Duration>,
    },
    /// A failure that says "do not retry": it ends the request at once and the other
    /// attempts are cancelled.
    Fatal,
}

/// Decides which answers win and how a request is copied for another attempt.
///
/// [`HedgeErrors`] serves services whose errors are `BoxError`s; `HttpPolicy` (feature
/// `http`) serves HTTP clients.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a hedge policy for requests `{Req}` and results `Result<{Res}, {E}>`",
    label = "this hedge layer's policy cannot judge these requests and results",
    note = "an HTTP client needs `.policy(HttpPolicy::new())` on the `HedgeLayer` builder, with a `ReplayLayer` outside the `HedgeLayer`",
    note = "the default policy `HedgeErrors` serves only services whose error type is `BoxError` and whose requests are `Clone`"
)]
pub trait Policy<Req, Res, E> {
    /// Classifies one attempt's answer.
    fn classify(&self, result: &Result<Res, E>) -> Verdict;

    /// A copy of `request` for another attempt, or `None` when it must not be sent twice
    /// (the request is then never hedged). Called once per call, before the first attempt,
    /// and again for each attempt sent while more may follow.
    fn clone_request(&self, request: &Req) -> Option<Req>;

    /// Whether a copy made earlier can still be sent, asked when an attempt is due (a
    /// replayable body can stop being replayable while the first attempt reads it). `true`
    /// by default.
    fn can_replay(&self, replay: &Req) -> bool {
        let _ = replay;
        true
    }

    /// The key whose latencies `request` shares (a hash of its route or authority), for a
    /// layer with [`per_key`](crate::HedgeLayerBuilder::per_key) delays; `None` (the default)
    /// puts it with every other request.
    fn key(&self, request: &Req) -> Option<u64> {
        let _ = request;
        None
    }
}

/// Whether `error`, or an error in its chain of sources, says "do not retry": a Seawall
/// rejection that is not [`retryable`](seawall_core::Rejection::retryable) (overloaded, open
/// circuit, …) or a [`DoNotRetry`](seawall_core::DoNotRetry) mark from a retry layer below.
///
/// The same answer as [`seawall_core::do_not_retry`], which it calls: kept so that existing
/// callers of the hedge's name go on compiling.
pub fn says_do_not_retry(error: &(dyn Error + 'static)) -> bool {
    seawall_core::do_not_retry(error)
}

/// The policy for services whose error type is `BoxError`: the classifier `C` (default
/// [`ErrorsAreFailures`]) decides what is a failure; a success, and an answer it ignores, are
/// acceptable; a failure is [retried](Verdict::Retry) (after its rejection's retry-after hint,
/// if any) unless it [says "do not retry"](says_do_not_retry), which is
/// [fatal](Verdict::Fatal). Requests are copied with `Clone`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HedgeErrors<C = ErrorsAreFailures> {
    classify: C,
}

impl HedgeErrors {
    /// Every `Ok` is acceptable, every error a failure.
    pub fn new() -> Self {
        Self {
            classify: ErrorsAreFailures,
        }
    }

    /// Classifies answers with `classify` instead (an `Ok` it calls a failure is retried).
    pub fn classify<C>(self, classify: C) -> HedgeErrors<C> {
        HedgeErrors { classify }
    }
}

impl<Req, Res, C> Policy<Req, Res, BoxError> for HedgeErrors<C>
where
    Req: Clone,
    C: Classify<Res, BoxError>,
{
    fn classify(&self, result: &Result<Res, BoxError>) -> Verdict {
        match (self.classify.classify(result), result) {
            (Outcome::Success | Outcome::Ignored, _) => Verdict::Accept,
            (Outcome::Failure, Ok(_)) => Verdict::Retry { after: None },
            (Outcome::Failure, Err(e)) => {
                let e: &(dyn Error + 'static) = e.as_ref();
                if says_do_not_retry(e) {
                    Verdict::Fatal
                } else {
                    Verdict::Retry {
                        after: find_rejection(e).and_then(|r| r.retry_after()),
                    }
                }
            }
        }
    }

    fn clone_request(&self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seawall_core::rejection::{CircuitOpen, Overloaded};

    fn verdict(result: Result<u16, BoxError>) -> Verdict {
        Policy::<(), u16, BoxError>::classify(&HedgeErrors::new(), &result)
    }

    #[test]
    fn successes_win_failures_retry_pushback_is_fatal() {
        assert_eq!(verdict(Ok(200)), Verdict::Accept);
        assert_eq!(verdict(Err("reset".into())), Verdict::Retry { after: None });
        assert_eq!(verdict(Err(Overloaded::new(None).into())), Verdict::Fatal);
        assert_eq!(
            verdict(Err(CircuitOpen::new(Some(Duration::from_secs(1))).into())),
            Verdict::Fatal
        );
        let only_500 = HedgeErrors::new().classify(|r: &Result<u16, BoxError>| match r {
            Ok(500) | Err(_) => Outcome::Failure,
            Ok(_) => Outcome::Success,
        });
        assert_eq!(
            Policy::<(), u16, BoxError>::classify(&only_500, &Ok(500)),
            Verdict::Retry { after: None }
        );
    }
}
