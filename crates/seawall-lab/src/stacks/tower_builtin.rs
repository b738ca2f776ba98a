//! tower's own pieces, configured as most code configures them.

use seawall_sim::Upstream;

use super::{erase, LabService, Stack};

/// tower's `Retry` with a policy that counts only attempts (3 retries of any error).
pub(super) const RETRY_ATTEMPTS: Stack = Stack {
    name: "tower Retry (attempts only)",
    build: retry_attempts,
};

/// tower's retry policy as most code writes it: retry any error, up to `.0` more times.
#[derive(Clone, Copy)]
pub(super) struct Attempts(pub(super) u32);

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for Attempts {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if result.is_err() && self.0 > 0 {
            self.0 -= 1;
            Some(std::future::ready(()))
        } else {
            None
        }
    }

    fn clone_request(&mut self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

fn retry_attempts(upstream: Upstream, _seed: u64) -> LabService {
    erase(tower::retry::Retry::new(Attempts(3), upstream))
}
