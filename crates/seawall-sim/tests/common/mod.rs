//! Helpers shared by the simulator's tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use seawall_sim::{Reply, Request, Upstream, UpstreamError};
use tokio::time::Instant;
use tower::ServiceExt;

/// What one request saw, recorded by [`recorder`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    pub(crate) id: u64,
    pub(crate) sent: Instant,
    pub(crate) done: Instant,
    pub(crate) reply: Option<Reply>,
}

pub(crate) type Log = Arc<Mutex<Vec<Seen>>>;

/// A service in front of `upstream` that records, for each request that gets an answer,
/// when it was sent, when the answer came and the reply.
pub(crate) fn recorder(
    upstream: &Upstream,
) -> (
    impl tower::Service<Request, Response = Reply, Error = UpstreamError, Future = impl Send>
        + Clone
        + Send
        + 'static,
    Log,
) {
    let log: Log = Arc::default();
    let up = upstream.clone();
    let l = log.clone();
    let svc = tower::service_fn(move |r: Request| {
        let up = up.clone();
        let log = l.clone();
        async move {
            let sent = Instant::now();
            let result = ServiceExt::<Request>::oneshot(up, r).await;
            log.lock().unwrap().push(Seen {
                id: r.id,
                sent,
                done: Instant::now(),
                reply: result.ok(),
            });
            result
        }
    });
    (svc, log)
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
