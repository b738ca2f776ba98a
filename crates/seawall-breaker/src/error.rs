//! Errors: a rejected call's error is [`CircuitOpen`], and a bad setting's is
//! [`ConfigError`]; both are shared with every Seawall layer (they live in `seawall_core`).

pub use seawall_core::rejection::CircuitOpen;
pub use seawall_core::ConfigError;
