//! Every TOML example in `docs/stacks.md` is read and built: its first line names the
//! configuration it is (`# ClientConfig`), so that the guide cannot show a key that does
//! not exist or a value that is refused.
#![cfg(all(feature = "stack", feature = "chaos", feature = "rate-limit"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seawall::stack::{
    from_toml, BreakerConfig, ChaosConfig, ClientConfig, DeadlineConfig, EndpointBreakerConfig,
    HedgeConfig, HedgingConfig, RateLimitConfig, RetryConfig, ServerConfig, ShedConfig,
    ThrottleConfig, TimeoutConfig,
};

const GUIDE: &str = include_str!("../docs/stacks.md");

/// The guide's TOML blocks, each with the configuration its first line names.
fn examples() -> Vec<(&'static str, String)> {
    let mut blocks = Vec::new();
    let mut rest = GUIDE;
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + "```toml\n".len()..];
        let end = body.find("```").expect("an unclosed block");
        let text = &body[..end];
        let kind = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# "))
            .unwrap_or_else(|| panic!("a TOML block without its configuration's name:\n{text}"));
        blocks.push((kind, text.to_owned()));
        rest = &body[end + 3..];
    }
    blocks
}

#[tokio::test]
async fn every_toml_example_in_the_guide_reads_and_builds() {
    let examples = examples();
    assert!(examples.len() >= 13, "found {}", examples.len());
    for (kind, text) in examples {
        let built = match kind {
            "ClientConfig" => ClientConfig::from_toml(&text)
                .and_then(|c| c.build(reqwest::Client::new()))
                .map(drop),
            "HedgingConfig" => HedgingConfig::from_toml(&text)
                .and_then(|c| c.build(reqwest::Client::new()))
                .map(drop),
            "ServerConfig" => ServerConfig::from_toml(&text)
                .and_then(|c| c.layer())
                .map(drop),
            "RetryConfig" => from_toml::<RetryConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "BreakerConfig" => from_toml::<BreakerConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "EndpointBreakerConfig" => from_toml::<EndpointBreakerConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "ShedConfig" => from_toml::<ShedConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "ThrottleConfig" => from_toml::<ThrottleConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "HedgeConfig" => from_toml::<HedgeConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "TimeoutConfig" => from_toml::<TimeoutConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "DeadlineConfig" => from_toml::<DeadlineConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            "ChaosConfig" => from_toml::<ChaosConfig>(&text)
                .and_then(|c| c.into_latency_layer())
                .map(drop),
            "RateLimitConfig" => from_toml::<RateLimitConfig>(&text)
                .and_then(|c| c.into_layer())
                .map(drop),
            other => panic!("the guide names no configuration {other:?}"),
        };
        if let Err(error) = built {
            panic!("docs/stacks.md, {kind}:\n{text}\n{error}");
        }
    }
}

#[test]
fn the_client_example_is_the_default_written_out() {
    // The guide's full client file gives every field its default.
    let (_, text) = examples()
        .into_iter()
        .find(|(kind, _)| *kind == "ClientConfig")
        .unwrap();
    assert_eq!(
        ClientConfig::from_toml(&text).unwrap(),
        ClientConfig::default()
    );
}
