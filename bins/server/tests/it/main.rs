//! The server's integration tests, as one test binary (design.md § Practices 10): each module
//! starts the real `gatehouse-server` on a free loopback port, on SQLite and PostgreSQL.

mod admin_http;
mod audit_http;
mod e2e;
mod events_http;
mod replicas;
mod scim_http;
mod support;
