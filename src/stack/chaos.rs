//! Fault injection settings: the rate, the switch and the seed of an injection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::in_section;
use crate::chaos::{InjectFaultLayer, InjectLatencyLayer, InjectedFault, Injection, DEFAULT_RATE};
use crate::core::duration;
use crate::core::latency::Latency;
use crate::core::ConfigError;

/// Fault injection (`[chaos]`): which share of requests is hit, from which seed, and
/// whether it starts on.
///
/// | field | default | |
/// |---|---|---|
/// | `rate` | 0.001 | the share of requests hit (0..=1) |
/// | `enabled` | true | whether injection starts on (an operator switches it with the `ChaosHandle`) |
/// | `seed` | from entropy | the same seed hits the same requests, in call order |
/// | `name` | none | tells apart the events of two injections |
/// | `latency` | none | the delay [`into_latency_layer`](Self::into_latency_layer) adds (required there) |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosConfig {
    /// The share of requests hit.
    pub rate: f64,
    /// Whether injection starts on.
    pub enabled: bool,
    /// The generator's seed; from entropy when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The injection's name in events and metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The delay of a latency injection.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub latency: Option<Duration>,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        Self {
            rate: DEFAULT_RATE,
            enabled: true,
            seed: None,
            name: None,
            latency: None,
        }
    }
}

impl ChaosConfig {
    /// The [`Injection`] these settings describe, for any of the chaos layers.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `chaos.rate` when it is not in 0..=1.
    pub fn injection(&self) -> Result<Injection, ConfigError> {
        let mut builder = Injection::builder().rate(self.rate).enabled(self.enabled);
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        if let Some(name) = &self.name {
            builder = builder.name(name.clone());
        }
        builder.build().map_err(in_section("chaos"))
    }

    /// An [`InjectFaultLayer`]: the requests hit fail with [`InjectedFault`] without
    /// reaching the service.
    ///
    /// # Errors
    ///
    /// As [`injection`](Self::injection).
    pub fn into_fault_layer(self) -> Result<InjectFaultLayer<fn() -> InjectedFault>, ConfigError> {
        Ok(InjectFaultLayer::new(
            self.injection()?,
            InjectedFault::new as fn() -> InjectedFault,
        ))
    }

    /// An [`InjectLatencyLayer`]: the requests hit wait `latency` before the call.
    ///
    /// # Errors
    ///
    /// As [`injection`](Self::injection), and naming `chaos.latency` when it is absent.
    pub fn into_latency_layer(self) -> Result<InjectLatencyLayer, ConfigError> {
        let Some(latency) = self.latency else {
            return Err(ConfigError::new(
                "chaos.latency must be set for a latency injection",
            ));
        };
        InjectLatencyLayer::new(self.injection()?, Latency::constant(latency))
            .map_err(in_section("chaos"))
    }
}
