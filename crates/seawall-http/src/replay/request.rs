use http::Request;

use super::body::ReplayableBody;
use super::error::NotReplayable;
use crate::classify::is_idempotent;

/// Makes `request`'s body replayable, keeping up to `cap` bytes of it.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use seawall_http::replay::{make_replayable, try_clone_request, DEFAULT_REPLAY_CAP};
///
/// let request = http::Request::post("http://localhost/orders")
///     .header("content-type", "application/json")
///     .body(Full::new(Bytes::from_static(b"{\"id\":1}")))
///     .unwrap();
/// let request = make_replayable(request, DEFAULT_REPLAY_CAP);
/// let again = try_clone_request(&request).expect("a small body is replayable");
/// assert_eq!(again.method(), request.method());
/// assert_eq!(again.headers(), request.headers());
/// ```
pub fn make_replayable<B>(request: Request<B>, cap: usize) -> Request<ReplayableBody<B>>
where
    B: http_body::Body,
{
    request.map(|body| ReplayableBody::new(body, cap))
}

/// Whether `request`'s body can (still) be sent again.
pub fn is_replayable<B>(request: &Request<ReplayableBody<B>>) -> bool {
    request.body().is_replayable()
}

/// A copy of `request` for another attempt, when sending it twice is safe
/// ([`is_idempotent`]) and possible: `Ok(None)` for a request whose method makes a second
/// send unsafe, `Ok(Some(copy))` otherwise, as [`try_clone_request`] makes it. What the HTTP
/// policies of the retry and hedge layers send again.
///
/// # Errors
///
/// As [`try_clone_request`]: the body can no longer be replayed.
pub fn try_clone_idempotent<B>(
    request: &Request<ReplayableBody<B>>,
    allow_keyed_post: bool,
) -> Result<Option<Request<ReplayableBody<B>>>, NotReplayable> {
    if !is_idempotent(request, allow_keyed_post) {
        return Ok(None);
    }
    try_clone_request(request).map(Some)
}

/// A copy of `request` for another attempt: the same method, URI, version, headers and
/// extensions, and a replay of its body from the first byte.
///
/// # Errors
///
/// When the body can no longer be replayed: it is larger than the buffer's cap or it failed
/// while being read. The request must then not be sent again, and this function says so in a
/// `DEBUG` tracing event, so a layer that retries or hedges only through it needs no event of
/// its own.
pub fn try_clone_request<B>(
    request: &Request<ReplayableBody<B>>,
) -> Result<Request<ReplayableBody<B>>, NotReplayable> {
    let body = match request.body().try_clone() {
        Some(body) => body,
        None => {
            let reason = match request.body().replay_status() {
                Err(reason) => reason,
                // The status can only move from replayable to not, never back.
                Ok(()) => NotReplayable::SourceFailed,
            };
            tracing::debug!(
                method = %request.method(),
                uri = %request.uri(),
                %reason,
                "request body is not replayable; the request will not be sent again"
            );
            return Err(reason);
        }
    };
    let mut clone = Request::new(body);
    *clone.method_mut() = request.method().clone();
    *clone.uri_mut() = request.uri().clone();
    *clone.version_mut() = request.version();
    *clone.headers_mut() = request.headers().clone();
    *clone.extensions_mut() = request.extensions().clone();
    Ok(clone)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;
    use http_body_util::Full;

    use super::*;

    fn request(
        method: &str,
        key: Option<&str>,
        body: &'static [u8],
    ) -> Request<ReplayableBody<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(method)
            .uri("http://example.test/");
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        make_replayable(
            builder.body(Full::new(Bytes::from_static(body))).unwrap(),
            4,
        )
    }

    #[test]
    fn only_requests_safe_to_send_twice_are_copied_for_another_attempt() {
        let copy = try_clone_idempotent(&request("PUT", None, b"doc"), false).unwrap();
        assert_eq!(copy.map(|c| c.method().clone()), Some(http::Method::PUT));
        let post = request("POST", None, b"doc");
        assert!(try_clone_idempotent(&post, true).unwrap().is_none());
        let keyed = request("POST", Some("k-1"), b"doc");
        assert!(try_clone_idempotent(&keyed, false).unwrap().is_none());
        assert!(try_clone_idempotent(&keyed, true).unwrap().is_some());
        assert_eq!(
            try_clone_idempotent(&request("GET", None, b"too big"), false).unwrap_err(),
            NotReplayable::TooLarge { cap: 4 }
        );
    }
}
