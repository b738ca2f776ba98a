//! The response future of [`KeyedCircuitBreaker`](super::KeyedCircuitBreaker): the same
//! future as the single breaker's, whose `Bypass` state carries a request that has no key.

pub use crate::future::ResponseFuture;
