//! When a request's slot is given back: at the response, or at the end of its body.

use seawall_core::permit::PermitGuard;

use crate::controller::ShedPermit;

/// Where an admitted request's permit goes when its response arrives.
///
/// [`UntilResponse`] (the default) gives the slot back when the inner service answers.
/// With the `http` feature, [`UntilBodyEnd`] moves it into the response body
/// (`seawall_http::body::GuardedBody`), so a streaming response keeps its slot until the
/// body ends: tower's `ConcurrencyLimit` frees it at the headers (tower-http #447).
pub trait Hold<Res> {
    /// The response the layer returns.
    type Response;

    /// Attaches `guard` to `response` or releases it. The guard may already be released
    /// (the response was classified a failure), and then must be passed along untouched.
    fn hold(&self, response: Res, guard: PermitGuard<ShedPermit>) -> Self::Response;
}

/// Gives the slot back when the inner service's future completes.
#[derive(Clone, Copy, Debug, Default)]
pub struct UntilResponse;

impl<Res> Hold<Res> for UntilResponse {
    type Response = Res;

    fn hold(&self, response: Res, mut guard: PermitGuard<ShedPermit>) -> Res {
        guard.release(seawall_core::permit::End::Complete);
        response
    }
}

/// Holds the slot until the HTTP response body ends, fails or is dropped.
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug, Default)]
pub struct UntilBodyEnd;

#[cfg(feature = "http")]
impl<B: http_body::Body> Hold<http::Response<B>> for UntilBodyEnd {
    type Response = http::Response<seawall_http::body::GuardedBody<B, ShedPermit>>;

    fn hold(&self, response: http::Response<B>, guard: PermitGuard<ShedPermit>) -> Self::Response {
        response.map(|body| seawall_http::body::GuardedBody::new(body, guard))
    }
}
