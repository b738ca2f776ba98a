//! The guides in the repository's `docs/` folder, one per layer, rendered here so that
//! their examples are compiled and run as doctests (`cargo test --doc --all-features`).
//!
//! | guide | layer |
//! |---|---|
//! | `retry` | budgeted retries (`docs/retry.md`) |
//! | `breakers` | circuit breakers, inbound and outbound (`docs/breakers.md`) |
//! | `shedding` | load shedding and adaptive limits (`docs/shedding.md`) |
//! | `hedging` | hedged requests (`docs/hedging.md`) |
//! | `deadlines` | timeouts and deadlines (`docs/deadlines.md`) |
//! | `chaos` | fault injection (`docs/chaos.md`) |
//! | `rate_limiting` | rate limiting (`docs/rate-limiting.md`) |
//! | `coming_from` | Polly, resilience4j, tower and tower-resilience, option by option (`docs/coming-from.md`) |
//!
//! Each guide is here when the features its examples use are on (all of them with `full`).
//! Links between guides point at the Markdown files, which read best in the repository.

#[cfg(feature = "retry")]
#[doc = include_str!("../docs/retry.md")]
pub mod retry {}

#[cfg(feature = "breaker")]
#[doc = include_str!("../docs/breakers.md")]
pub mod breakers {}

#[cfg(feature = "shed")]
#[doc = include_str!("../docs/shedding.md")]
pub mod shedding {}

#[cfg(feature = "hedge")]
#[doc = include_str!("../docs/hedging.md")]
pub mod hedging {}

#[cfg(feature = "timeout")]
#[doc = include_str!("../docs/deadlines.md")]
pub mod deadlines {}

#[cfg(all(feature = "chaos", feature = "retry"))]
#[doc = include_str!("../docs/chaos.md")]
pub mod chaos {}

#[cfg(feature = "rate-limit")]
#[doc = include_str!("../docs/rate-limiting.md")]
pub mod rate_limiting {}

#[doc = include_str!("../docs/coming-from.md")]
pub mod coming_from {}
