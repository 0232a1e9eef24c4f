//! `tidy` holds only tests: repository-wide checks that keep the architecture honest. This
//! library is empty on purpose (so it has no runnable example either).
//!
//! `tests/tidy.rs` reads every `Cargo.toml` under `crates/` and `bins/` and asserts the layering
//! of `docs/architecture.md` (which workspace crate may depend on which, and which third-party
//! crates only one layer may use), that every crate inherits the workspace lints, that every
//! library opens with a `//!` overview, that no `todo!`/`unimplemented!` ships in non-test code,
//! and that `docs/openapi.json` parses and documents exactly the routes the server registers,
//! with request and response schemas whose fields match the facade's serde structs.
//!
//! Run it with `cargo test -p tidy`.
