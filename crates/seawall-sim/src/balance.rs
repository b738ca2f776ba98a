//! A seeded power-of-two-choices balancer over simulated replicas.

use tower::balance::p2c::Balance;
use tower::buffer::Buffer;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PendingRequests};
use tower::util::BoxCloneService;
use tower::{BoxError, Service, ServiceExt};

use crate::Request;

/// p2c's random choices drawn from Seawall's seeded generator (tower's default generator
/// seeds itself from the process's hash seed, and a run would not repeat).
struct Seeded(seawall_core::rng::Rng);

impl tower::util::rng::Rng for Seeded {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// tower's p2c balancer over `endpoints`, each measured by its pending requests, its
/// choices drawn from a generator seeded with `seed`, behind a buffer (1,024 requests) so
/// that every request's task can clone it. Responses become `()`.
///
/// Spawns the buffer's worker: call it inside a runtime, such as [`run_paused`](crate::run_paused)'s.
pub fn balanced<S>(endpoints: Vec<S>, seed: u64) -> BoxCloneService<Request, (), BoxError>
where
    S: Service<Request> + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError> + Send + Sync,
{
    let endpoints: Vec<_> = endpoints
        .into_iter()
        .map(|s| PendingRequests::new(s, CompleteOnResponse::default()))
        .collect();
    let rng = Seeded(seawall_core::rng::Rng::from_seed(seed));
    let balance = Balance::from_rng(ServiceList::new(endpoints), rng);
    BoxCloneService::new(Buffer::new(balance, 1024).map_response(|_| ()))
}
