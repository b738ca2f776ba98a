//! What a keyed rate limit keys requests by.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

/// Something that finds a key in requests; the key type is fixed here, apart from the
/// request type, so that a layer can build its table before it sees a request.
///
/// Seawall's extractors: [`PeerIp`] (with the `axum` feature), [`FromHeader`] (with
/// `http`) and [`KeyFn`] (any function, made by
/// [`RateLimitBuilder::key_by_fn`](crate::RateLimitBuilder::key_by_fn)).
pub trait KeyExtractor {
    /// The key: one limiter per distinct value.
    type Key: Hash + Eq + Clone + Send + Sync + 'static;
}

/// A [`KeyExtractor`] that can find its key in requests of type `Req`.
pub trait ExtractKey<Req>: KeyExtractor {
    /// The key of `request`.
    fn extract(&self, request: &Req) -> Self::Key;
}

/// A function of the request as a [`KeyExtractor`]; made by
/// [`RateLimitBuilder::key_by_fn`](crate::RateLimitBuilder::key_by_fn).
pub struct KeyFn<F, K> {
    f: F,
    _key: PhantomData<fn() -> K>,
}

impl<F, K> KeyFn<F, K> {
    /// Wraps `f`.
    pub fn new<Req>(f: F) -> Self
    where
        F: Fn(&Req) -> K,
    {
        Self {
            f,
            _key: PhantomData,
        }
    }
}

impl<F: Clone, K> Clone for KeyFn<F, K> {
    fn clone(&self) -> Self {
        Self {
            f: self.f.clone(),
            _key: PhantomData,
        }
    }
}

impl<F, K> fmt::Debug for KeyFn<F, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFn").finish_non_exhaustive()
    }
}

impl<F, K: Hash + Eq + Clone + Send + Sync + 'static> KeyExtractor for KeyFn<F, K> {
    type Key = K;
}

impl<Req, F, K> ExtractKey<Req> for KeyFn<F, K>
where
    F: Fn(&Req) -> K,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    #[inline]
    fn extract(&self, request: &Req) -> K {
        (self.f)(request)
    }
}

/// Keys HTTP requests by the value of one header; requests without it share the key `None`
/// (one limiter for all of them, so leaving the header out does not escape the limit).
///
/// Only key by a header that a trusted proxy sets or that is checked before this layer
/// (an API key, a tenant): otherwise every request can pick its own key, and the limit is
/// the table's [overflow](crate#bounded-memory) limiter's.
#[cfg(feature = "http")]
#[derive(Clone, Debug)]
pub struct FromHeader {
    name: http::HeaderName,
}

#[cfg(feature = "http")]
impl FromHeader {
    /// Keys by the header `name`.
    pub fn new(name: http::HeaderName) -> Self {
        Self { name }
    }
}

#[cfg(feature = "http")]
impl KeyExtractor for FromHeader {
    type Key = Option<http::HeaderValue>;
}

#[cfg(feature = "http")]
impl<B> ExtractKey<http::Request<B>> for FromHeader {
    #[inline]
    fn extract(&self, request: &http::Request<B>) -> Self::Key {
        request.headers().get(&self.name).cloned()
    }
}

/// Keys HTTP requests by the peer's IP address, from axum's
/// [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo) (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`). Requests without it share the key
/// `None`: a server that was not given connect info has one limit for everyone, not none.
///
/// Behind a proxy the peer is the proxy: key by the header it sets instead
/// ([`FromHeader`]).
#[cfg(feature = "axum")]
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerIp;

#[cfg(feature = "axum")]
impl KeyExtractor for PeerIp {
    type Key = Option<std::net::IpAddr>;
}

#[cfg(feature = "axum")]
impl<B> ExtractKey<http::Request<B>> for PeerIp {
    #[inline]
    fn extract(&self, request: &http::Request<B>) -> Self::Key {
        use axum::extract::ConnectInfo;
        use std::net::SocketAddr;
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    }
}
