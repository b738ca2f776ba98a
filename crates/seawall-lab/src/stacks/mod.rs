//! The stacks the lab compares, one module per layer: what each layer's column is and how it
//! is configured. A layer's issue adds its module here and its columns to the scenarios.

use seawall_sim::{Request, Upstream};
use tower::util::BoxCloneService;
use tower::{BoxError, Service, ServiceExt};

mod balance;
mod baseline;
mod breaker;
pub(crate) mod brownout;
pub(crate) mod chain;
pub mod chaos;
mod hedge;
mod retry;
pub(crate) mod shed;
pub(crate) mod standard;
mod tower_builtin;
mod tower_resilience;

pub use tower_resilience::{wall_clock_peers, WallClockPeer};

/// The service type every stack in the lab is erased to.
pub type LabService = BoxCloneService<Request, (), BoxError>;

/// Erases a stack ending in the upstream to a [`LabService`]: responses become `()`, errors
/// `BoxError`.
pub fn erase<S>(service: S) -> LabService
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    BoxCloneService::new(ServiceExt::<Request>::map_response(service, |_| ()).map_err(Into::into))
}

/// A way of calling the upstream: a column in the lab's tables.
#[derive(Clone, Copy)]
pub struct Stack {
    /// The column's heading.
    pub name: &'static str,
    /// Builds the stack in front of the upstream; every random draw in it is seeded from the
    /// scenario's seed (the second argument), so the run repeats.
    pub build: fn(Upstream, u64) -> LabService,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("name", &self.name).finish()
    }
}

/// The stacks every scenario compares; later layers add their columns here.
pub fn baseline() -> Vec<Stack> {
    vec![baseline::NONE]
}

/// Retries: tower's `Retry` counting only attempts, tower-resilience's retry without and
/// with its AIMD budget, and Seawall's retry layer.
pub fn retries() -> Vec<Stack> {
    vec![
        tower_builtin::RETRY_ATTEMPTS,
        tower_resilience::RETRY,
        tower_resilience::RETRY_AIMD,
        retry::SEAWALL_RETRY,
    ]
}

/// Seawall's circuit breaker.
pub fn breakers() -> Vec<Stack> {
    vec![breaker::SEAWALL_BREAKER]
}

/// Faults scripted by injection in front of a healthy upstream: a brownout alone, and
/// behind Seawall's retry (see [`mod@chaos`]).
pub fn chaos() -> Vec<Stack> {
    vec![
        chaos::INJECTED_BROWNOUT,
        chaos::RETRY_OVER_INJECTED_BROWNOUT,
    ]
}

/// Hedged requests: tower's `Hedge`, tower-resilience's fixed-delay hedge (the hand-picked
/// 12 ms and a 50 ms guess), Seawall's hedge at its defaults, and Seawall's at the hand-picked
/// fixed delay.
pub fn hedges() -> Vec<Stack> {
    vec![
        hedge::TOWER_HEDGE,
        hedge::TOWER_RESILIENCE_HEDGE_12MS,
        hedge::TOWER_RESILIENCE_HEDGE_50MS,
        hedge::SEAWALL_HEDGE,
        hedge::SEAWALL_HEDGE_12MS,
    ]
}

/// No shedding with a bounded server queue, tower's `ConcurrencyLimit` + `LoadShed`,
/// Seawall's shedding layer with each adaptive limit at its defaults, and
/// tower-resilience's bulkhead rejecting when full.
pub fn shedding() -> Vec<Stack> {
    [shed::STACKS.to_vec(), vec![tower_resilience::BULKHEAD]].concat()
}

/// A client balancing over three replicas with tower's p2c, without and with a breaker per
/// endpoint (the `balance` module builds the replicas).
pub fn balancers() -> Vec<Stack> {
    vec![balance::P2C, balance::P2C_ENDPOINT_BREAKERS]
}
