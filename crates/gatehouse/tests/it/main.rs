//! The facade's integration tests, as one test binary (design.md § Practices 10): every module
//! drives the facade against SQLite and PostgreSQL alike.

mod audit_trail;
mod events;
mod login;
mod scim;
mod support;
