# Conveniences for developers; CI and the README's commands do not need `just`.

default: ci

fmt:
    cargo fmt --all

check-fmt:
    cargo fmt --all -- --check

clippy:
    cargo clippy --workspace --all-targets --all-features -- -D warnings

doc:
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --all-features --no-deps

test:
    cargo test --workspace --all-features

examples:
    cargo run --example reqwest_client --all-features
    if [ -f examples/axum_server.rs ]; then cargo run --example axum_server --all-features; fi
    cargo run --example chaos --all-features

lab *ARGS:
    cargo run --release -p seawall-lab -- {{ARGS}}

# Every benchmark (the facade's dev-dependency on itself turns on `full`; `--all-features`
# adds the simulator, which no benchmark needs).
bench:
    cargo bench

ci:
    bash .ci/run
