//! The HTTP policy: what counts against an upstream, and per-host or per-route keys.
//!
//! A breaker in front of an HTTP client should count what says the *upstream* is unwell:
//! the transient statuses (408, 429, 5xx but 501 and 505) and transient errors (connect
//! failures, resets, timeouts) that `seawall-http` defines for every Seawall layer. Other
//! 4xx responses are the caller's mistakes and count as successes; Seawall rejections from
//! layers below are ignored.
//!
//! `seawall_retry::http` has the same shape: it re-exports [`HttpClassifier`] and its
//! `builder()` starts a retry layer with the HTTP policy, whose `HttpPolicy::classifier`
//! takes the same classifier. Give both layers one `HttpClassifier` value and the breaker
//! counts exactly the failures the retry layer retries (the retry's default treats errors
//! that are neither transient nor rejections as `Ignored`; the breaker's counts them).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use seawall_breaker::{http, KeyedCircuitBreakerBuilder, State};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! let layer = KeyedCircuitBreakerBuilder::new(http::authority::<()>)
//!     .breaker(http::builder().consecutive_failures(2))
//!     .build()
//!     .unwrap();
//! let client = layer.layer(service_fn(|req: ::http::Request<()>| async move {
//!     let status = if req.uri().host() == Some("down.example") { 503 } else { 404 };
//!     Ok::<_, std::io::Error>(::http::Response::builder().status(status).body(()).unwrap())
//! }));
//! for host in ["down.example", "down.example", "up.example", "up.example"] {
//!     let req = ::http::Request::get(format!("http://{host}/")).body(()).unwrap();
//!     let _ = client.clone().oneshot(req).await;
//! }
//! assert_eq!(layer.handle(&"down.example".to_string()).unwrap().state(), State::Open);
//! assert_eq!(layer.handle(&"up.example".to_string()).unwrap().state(), State::Closed, "404s are successes");
//! # }
//! ```

use http::uri::Authority;
use http::Request;
pub use seawall_http::HttpClassifier;

use crate::config::CircuitBreakerBuilder;

/// A breaker builder with the HTTP policy ([`HttpClassifier`]) and the default settings.
pub fn builder() -> CircuitBreakerBuilder<HttpClassifier> {
    CircuitBreakerBuilder::default().classify(HttpClassifier::new())
}

/// A request's authority (`host[:port]`, lowercased), from its URI or else its `Host`
/// header; empty when it has neither. The key for one breaker per upstream host.
pub fn authority<B>(request: &Request<B>) -> String {
    let raw = match request.uri().authority() {
        Some(authority) => authority.as_str(),
        None => request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(""),
    };
    // Userinfo is not part of the host.
    let host = raw.rsplit('@').next().unwrap_or(raw);
    host.to_ascii_lowercase()
}

/// A request's authority as an [`Authority`] (`host[:port]`): the key for one breaker per
/// upstream host without an allocation per request. [`authority`] builds a lowercased
/// `String` for every call; this clones the URI's authority, which is a reference count, and
/// `http` compares and hashes an `Authority` without regard to case, so `API.example` and
/// `api.example` share a breaker.
///
/// From the `Host` header (copied) when the URI has no authority, and without its userinfo
/// (copied) when it has one. `None` when the request has neither: with
/// [`KeyedCircuitBreakerBuilder::optional`](crate::KeyedCircuitBreakerBuilder::optional),
/// such a request goes past the breakers.
pub fn authority_key<B>(request: &Request<B>) -> Option<Authority> {
    match request.uri().authority() {
        Some(authority) if !authority.as_str().contains('@') => Some(authority.clone()),
        Some(authority) => host_of(authority.as_str()),
        None => request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(host_of),
    }
}

/// `raw` without its userinfo, as an [`Authority`].
fn host_of(raw: &str) -> Option<Authority> {
    raw.rsplit('@').next().unwrap_or(raw).parse().ok()
}

/// A request's method and path (`GET /users`), for one breaker per route. Paths with ids
/// in them make unbounded keys; the keyed breaker's bound protects memory, but a route
/// template from the router is a better key when there is one.
pub fn route<B>(request: &Request<B>) -> String {
    format!("{} {}", request.method(), request.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_requests() {
        let r = Request::get("http://User@API.Example:8080/a?b")
            .body(())
            .unwrap();
        assert_eq!(authority(&r), "api.example:8080");
        let r = Request::post("/users/7")
            .header("host", "Svc.Internal")
            .body(())
            .unwrap();
        assert_eq!(authority(&r), "svc.internal");
        assert_eq!(route(&r), "POST /users/7");
        assert_eq!(authority(&Request::get("/").body(()).unwrap()), "");
    }

    #[test]
    fn authority_keys_ignore_case_and_userinfo_and_do_not_copy() {
        use std::collections::HashSet;

        let key = |uri: &str| authority_key(&Request::get(uri).body(()).unwrap());
        let upper = key("http://API.Example:8080/a").unwrap();
        let lower = key("http://api.example:8080/b").unwrap();
        let user = key("http://User@api.example:8080/c").unwrap();
        assert_eq!(upper, lower);
        assert_eq!(user, lower);
        assert_eq!(user.as_str(), "api.example:8080");
        // Equal keys hash alike, so one breaker serves every spelling.
        assert_eq!(HashSet::from([upper, lower, user]).len(), 1);
        // Another port is another upstream.
        assert_ne!(
            key("http://api.example:8081/").unwrap(),
            key("http://api.example:8080/").unwrap()
        );

        // The URI's authority is shared, not copied.
        let request = Request::get("http://api.example/").body(()).unwrap();
        let from_uri = request.uri().authority().unwrap().as_str().as_ptr();
        assert_eq!(authority_key(&request).unwrap().as_str().as_ptr(), from_uri);

        let r = Request::post("/users/7")
            .header("host", "Svc.Internal")
            .body(())
            .unwrap();
        assert_eq!(authority_key(&r).unwrap(), "svc.internal");
        assert_eq!(authority_key(&Request::get("/").body(()).unwrap()), None);
    }
}
