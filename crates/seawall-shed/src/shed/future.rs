//! The response future of [`Shed`](super::Shed).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use seawall_core::permit::{End, PermitGuard};
use seawall_core::rejection::Overloaded;
use seawall_core::stripe::Handle;
use seawall_core::{BoxError, Classify, Outcome};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::hold::Hold;
use crate::controller::{Controller, ShedPermit};
use crate::priority::Priority;

/// A place in the wait queue. Dropping it before it is served takes it out of the queue, or
/// gives back the slot it was granted.
pub(crate) struct Ticket {
    controller: Arc<Controller>,
    priority: Priority,
    id: u64,
    rx: oneshot::Receiver<()>,
    done: bool,
}

impl Ticket {
    pub(crate) fn new(
        controller: Arc<Controller>,
        priority: Priority,
        id: u64,
        rx: oneshot::Receiver<()>,
    ) -> Self {
        Self {
            controller,
            priority,
            id,
            rx,
            done: false,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done && !self.controller.leave(self.priority, self.id) {
            // Not in the queue any more: it was granted a slot, or refused.
            self.rx.close();
            if self.rx.try_recv().is_ok() {
                self.controller.free_slot();
            }
        }
    }
}

pin_project! {
    /// The future [`Shed`](super::Shed) returns: the inner call holding its slot, a wait in
    /// the queue, or a rejection ready at once.
    pub struct ResponseFuture<F, S, Req, C, H> {
        #[pin]
        state: State<F, S, Req>,
        guard: Option<PermitGuard<ShedPermit>>,
        controller: Option<Handle<Controller>>,
        classify: C,
        hold: H,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, Req> {
        Running { #[pin] future: F },
        Waiting { #[pin] sleep: Sleep, ticket: Ticket, call: Option<(S, Req)> },
        Rejected { error: Option<Overloaded> },
    }
}

impl<F, S, Req, C, H> ResponseFuture<F, S, Req, C, H> {
    pub(crate) fn running(future: F, guard: PermitGuard<ShedPermit>, classify: C, hold: H) -> Self {
        Self {
            state: State::Running { future },
            guard: Some(guard),
            controller: None,
            classify,
            hold,
        }
    }

    pub(crate) fn waiting(
        controller: Handle<Controller>,
        ticket: Ticket,
        wait: Duration,
        service: S,
        request: Req,
        classify: C,
        hold: H,
    ) -> Self {
        let controller = Some(controller);
        Self {
            state: State::Waiting {
                sleep: tokio::time::sleep(wait),
                ticket,
                call: Some((service, request)),
            },
            guard: None,
            controller,
            classify,
            hold,
        }
    }

    pub(crate) fn rejected(
        error: Overloaded,
        controller: Handle<Controller>,
        classify: C,
        hold: H,
    ) -> Self {
        Self {
            state: State::Rejected { error: Some(error) },
            guard: None,
            controller: Some(controller),
            classify,
            hold,
        }
    }
}

impl<F, S, Req, C, H, Res, E> Future for ResponseFuture<F, S, Req, C, H>
where
    F: Future<Output = Result<Res, E>>,
    S: Service<Req, Future = F, Response = Res, Error = E>,
    E: Into<BoxError>,
    C: Classify<Res, E>,
    H: Hold<Res>,
{
    type Output = Result<H::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Running { future } => {
                    let result = ready!(future.poll(cx));
                    let outcome = this.classify.classify(&result);
                    let Some(mut guard) = this.guard.take() else {
                        // Polled again after completion: a contract violation by the caller.
                        return Poll::Ready(Err("shed future polled after completion".into()));
                    };
                    if let Some(permit) = guard.get_ref() {
                        permit.calls().outcome(outcome);
                    }
                    match outcome {
                        Outcome::Success => {}
                        Outcome::Failure => {
                            guard.release(End::Error);
                        }
                        Outcome::Ignored => {
                            guard.release(End::Cancelled);
                        }
                    }
                    return Poll::Ready(match result {
                        Ok(response) => Ok(this.hold.hold(response, guard)),
                        Err(e) => {
                            guard.release(End::Complete);
                            Err(e.into())
                        }
                    });
                }
                StateProj::Waiting {
                    mut sleep,
                    ticket,
                    call,
                } => {
                    match Pin::new(&mut ticket.rx).poll(cx) {
                        Poll::Ready(Ok(())) => {
                            ticket.done = true;
                            let Some(controller) = this.controller.clone() else {
                                return Poll::Ready(Err("shed future without its state".into()));
                            };
                            let in_flight = controller.in_flight();
                            let Some((mut service, request)) = call.take() else {
                                return Poll::Ready(Err(
                                    "shed future polled after completion".into()
                                ));
                            };
                            *this.guard =
                                Some(PermitGuard::new(ShedPermit::new(controller, in_flight)));
                            let future = service.call(request);
                            this.state.set(State::Running { future });
                        }
                        Poll::Ready(Err(_)) => {
                            // Pushed out of the queue by a more important request.
                            ticket.done = true;
                            return Poll::Ready(Err(ticket.controller.refuse("displaced").into()));
                        }
                        Poll::Pending => {
                            ready!(sleep.as_mut().poll(cx));
                            if ticket.controller.leave(ticket.priority, ticket.id) {
                                ticket.done = true;
                                let refused = ticket.controller.refuse("queue_timeout");
                                return Poll::Ready(Err(refused.into()));
                            }
                            // Granted or refused at the same moment: the channel says which.
                            let deadline = Instant::now() + Duration::from_secs(3600);
                            sleep.reset(deadline);
                        }
                    }
                }
                StateProj::Rejected { error } => {
                    let error = error.take().unwrap_or_else(|| Overloaded::new(None));
                    return Poll::Ready(Err(error.into()));
                }
            }
        }
    }
}

impl<F, S, Req, C, H> fmt::Debug for ResponseFuture<F, S, Req, C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Running { .. } => "running",
            State::Waiting { .. } => "waiting",
            State::Rejected { .. } => "rejected",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
