# Everyday commands (https://just.systems). Each recipe is one plain command you can also type.

# List the recipes.
default:
    @just --list

# The demo server: SQLite, a demo tenant, app and bundled test IdP at http://127.0.0.1:8080/demo/app.
run:
    GATEHOUSE_DEMO=1 cargo run -p gatehouse-server

# The project's test command (SQLite and PostgreSQL, third-party peers); extra args go to cargo test.
test *args:
    scripts/test {{args}}

# Formatting and clippy with warnings as errors, over every crate and target.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Layering, licenses and sources of the resolved dependency graph (deny.toml).
deny:
    cargo deny check bans licenses sources

# Criterion benchmarks; `just bench -p saml-core` for one crate.
bench *args:
    cargo bench {{args}}

# A cargo-fuzz target (needs nightly and cargo-fuzz): `just fuzz scim-model patch_apply 300`.
fuzz crate="scim-model" target="filter_parse" seconds="60":
    cd crates/{{crate}}/fuzz && cargo +nightly fuzz run {{target}} -- -max_total_time={{seconds}}
