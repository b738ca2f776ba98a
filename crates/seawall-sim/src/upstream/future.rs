//! The upstream's response future, and the driver task that wakes futures when their
//! requests finish.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use super::model::Status;
use super::{Reply, Shared, UpstreamError};

/// The future an [`Upstream`](super::Upstream) call returns.
///
/// The request reaches the upstream when this future is first polled, not when `call`
/// returns it, so a future dropped unpolled costs the upstream nothing. Dropping it after
/// that tells the upstream the client has gone; what the server then does is the upstream's
/// [`Abandonment`](super::Abandonment) policy. It must be polled inside a tokio runtime with
/// time enabled (as any tokio timer must).
#[must_use = "futures do nothing unless polled"]
pub struct UpstreamFuture {
    shared: Arc<Shared>,
    /// The request's id once admitted.
    id: Option<u64>,
    done: bool,
    /// Set once the request is being served: a timer for the instant it finishes, so that
    /// the future wakes itself on that tick rather than through the driver task.
    until: Option<Pin<Box<Sleep>>>,
}

impl UpstreamFuture {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            id: None,
            done: false,
            until: None,
        }
    }
}

impl Future for UpstreamFuture {
    type Output = Result<Reply, UpstreamError>;

    /// Polls the model; while the request is served, also polls a timer for its finish.
    ///
    /// A layer that races this future against its own timer (a hedge, a timeout) and
    /// polls this future first must see an answer due on the timer's tick as ready, even if
    /// it polls only the futures that were woken (as a `FuturesUnordered` does). The
    /// driver task wakes every finished future, but it may run after the layer's task on
    /// that tick; this future's own timer fires on the tick itself and wakes the task that
    /// awaits it directly.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            let now = Instant::now();
            let status = this.shared.with_model(|model| {
                let id = *this.id.get_or_insert_with(|| model.admit(now));
                model.poll(id, now, cx.waker())
            });
            let finish = match status {
                Status::Done(result) => {
                    this.done = true;
                    this.until = None;
                    return Poll::Ready(result);
                }
                Status::Queued => return Poll::Pending,
                Status::Serving(finish) => finish,
            };
            match &mut this.until {
                Some(sleep) if sleep.deadline() == finish => {}
                Some(sleep) => sleep.as_mut().reset(finish),
                slot => *slot = Some(Box::pin(tokio::time::sleep_until(finish))),
            }
            let fired = this
                .until
                .as_mut()
                .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
            // The timer fires on the first tick at or after `finish`, so the model is done
            // with the request when polled again; a clock that disagrees waits for the driver.
            if !fired || Instant::now() < finish {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for UpstreamFuture {
    fn drop(&mut self) {
        if let (Some(id), false) = (self.id, self.done) {
            let now = Instant::now();
            self.shared.with_model(|model| model.abandon(id, now));
        }
    }
}

impl fmt::Debug for UpstreamFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamFuture")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish()
    }
}

/// Starts a driver for `shared` on the current runtime. Called with the model locked, after
/// it has recorded the driver as running.
pub(super) fn spawn_driver(shared: &Arc<Shared>, generation: u64) -> bool {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(drive(Arc::downgrade(shared), generation));
            true
        }
        Err(_) => false,
    }
}

/// Marks the driver stopped however its task ends (a runtime shutting down drops it).
struct DriverGuard {
    shared: Weak<Shared>,
    generation: u64,
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            let mut model = shared.lock();
            if model.driver.generation == self.generation {
                model.driver.running = false;
                model.driver.at = None;
                model.driver.waker = None;
            }
        }
    }
}

/// Sleeps until the model's next event, processes it and wakes the futures it finished;
/// ends when nothing is pending (the next request starts a new driver).
async fn drive(shared: Weak<Shared>, generation: u64) {
    let _guard = DriverGuard {
        shared: shared.clone(),
        generation,
    };
    let mut sleep = Box::pin(tokio::time::sleep_until(Instant::now()));
    std::future::poll_fn(|cx| loop {
        let Some(strong) = shared.upgrade() else {
            return Poll::Ready(());
        };
        let now = Instant::now();
        let (next, wake) = {
            let mut model = strong.lock();
            model.advance(now);
            let next = model.next_event();
            match next {
                Some(at) => {
                    model.driver.at = Some(at);
                    model.driver.waker = Some(cx.waker().clone());
                }
                None => {
                    model.driver.running = false;
                    model.driver.at = None;
                    model.driver.waker = None;
                }
            }
            (next, std::mem::take(&mut model.wake))
        };
        wake.into_iter().for_each(std::task::Waker::wake);
        let Some(at) = next else {
            return Poll::Ready(());
        };
        sleep.as_mut().reset(at);
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
    })
    .await;
}
