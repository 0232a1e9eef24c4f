//! The Gatehouse facade: every use-case of the identity broker as one plain (synchronous) Rust
//! API over a [`storage::Store`]. The actix-web server and the `gatehouse` CLI are thin shells
//! over it; a Rust application can embed it directly.
//!
//! Every operation takes a [`Call`] carrying `now`, a correlation id and the acting principal:
//! the facade never reads the clock, and randomness comes from the [`gatehouse_types::Entropy`]
//! the embedder supplies. The facade owns transactions: one operation, one transaction.
//!
//! ```no_run
//! use gatehouse::{Gatehouse, GatehouseConfig, Call, SecretBox};
//! # fn entropy() -> Box<dyn gatehouse_types::Entropy> { Box::new(gatehouse_types::FixedEntropy::new(1)) }
//! let store = storage::Store::open("sqlite://gatehouse.db").unwrap();
//! store.migrate().unwrap();
//! let config = GatehouseConfig::new("http://127.0.0.1:8080".parse().unwrap(), SecretBox::new([0; 32]));
//! let gh = Gatehouse::new(store, config, entropy());
//! let call = Call::operator(chrono::Utc::now(), "cli");
//! let tenant = gh.create_tenant(&call, gatehouse::NewTenant::new("acme", "Acme Corp")).unwrap();
//! # let _ = tenant;
//! ```

mod admin;
mod audit_log;
pub mod cache;
mod connections;
pub mod demo;
mod error;
mod events;
mod journal;
mod login;
mod logout;
pub mod os;
mod recovery;
mod roles;
mod scim;
mod secrets;
pub mod settings;
mod tokens;
mod util;

pub use admin::*;
pub use audit_log::*;
pub use connections::*;
pub use error::{GatehouseError, Result};
pub use events::*;
pub use login::*;
pub use logout::{LogoutOutcome, SloMessage};
pub use recovery::*;
pub use roles::*;
pub use scim::*;
pub use secrets::SecretBox;
pub use tokens::*;

use chrono::{DateTime, Duration, Utc};
use gatehouse_types::Entropy;
use std::sync::Mutex;
use url::Url;

/// Who is acting, for authorization and audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator using the admin API or CLI (id of the token, or `cli`).
    Operator(String),
    /// An end user's browser in a login flow.
    Browser,
    /// An app (OIDC client) calling the token/introspection endpoints.
    App(String),
    /// Gatehouse itself (sweeps, key rotation).
    System,
    /// A SCIM client of a directory, authenticated by one of its tokens.
    Scim {
        /// The directory.
        directory_id: String,
        /// The token used (its id, never the secret).
        token_id: String,
    },
}

impl Actor {
    /// `kind:id` as stored in audit records.
    pub fn label(&self) -> String {
        match self {
            Actor::Operator(id) => format!("operator:{id}"),
            Actor::Browser => "browser:-".to_owned(),
            Actor::App(id) => format!("app:{id}"),
            Actor::System => "system:-".to_owned(),
            Actor::Scim { token_id, .. } => format!("scim_token:{token_id}"),
        }
    }
}

/// The operator id of the command line; a named operator is `cli:<name>` (see [`Call::cli`]).
pub const CLI_OPERATOR: &str = "cli";
/// Longest operator name [`Call::cli`] accepts.
pub const MAX_CLI_OPERATOR_NAME: usize = 64;

/// The context of one facade call: captured once at the entry point and passed down.
#[derive(Debug, Clone)]
pub struct Call {
    /// The time of the call.
    pub now: DateTime<Utc>,
    /// Correlates logs, audit records and what the user is shown.
    pub correlation_id: String,
    /// Who is acting.
    pub actor: Actor,
}

impl Call {
    /// A call by an operator.
    pub fn operator(now: DateTime<Utc>, who: &str) -> Call {
        Call {
            now,
            correlation_id: format!("op-{}", now.timestamp_micros()),
            actor: Actor::Operator(who.to_owned()),
        }
    }

    /// A call from the `gatehouse` command line on behalf of the operator `name` (its
    /// `--actor`, `GATEHOUSE_ACTOR` or the OS user), audited as `operator:cli:<name>`; with no
    /// name, as plain `operator:cli`. The name is a claim the CLI cannot check (whoever can run
    /// it can reach the database), so it is only attribution, and it is kept short and plain:
    /// 1 to [`MAX_CLI_OPERATOR_NAME`] ASCII letters, digits, `.`, `_`, `-` or `@`. No `:`, so
    /// the stored actor key splits unambiguously into kind, `cli` and name.
    pub fn cli(now: DateTime<Utc>, name: Option<&str>) -> Result<Call> {
        let id = match name {
            None => CLI_OPERATOR.to_owned(),
            Some(name) => {
                let plain =
                    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
                if name.is_empty() || name.len() > MAX_CLI_OPERATOR_NAME || !name.chars().all(plain)
                {
                    return Err(GatehouseError::invalid(
                        "actor",
                        format!(
                            "{name:?}: expected 1 to {MAX_CLI_OPERATOR_NAME} ASCII letters, digits, '.', '_', '-' or '@'"
                        ),
                    ));
                }
                format!("{CLI_OPERATOR}:{name}")
            }
        };
        Ok(Call::operator(now, &id))
    }

    /// A call by Gatehouse itself (start-up, sweeps).
    pub fn system(now: DateTime<Utc>) -> Call {
        Call {
            now,
            correlation_id: format!("sys-{}", now.timestamp_micros()),
            actor: Actor::System,
        }
    }
}

/// Deployment settings of the facade.
#[derive(Debug, Clone)]
pub struct GatehouseConfig {
    /// Public base URL (the OIDC issuer, and the base of every ACS / metadata URL).
    pub public_url: Url,
    /// Seals secrets at rest.
    pub secrets: SecretBox,
    /// Allowed clock difference with IdPs.
    pub clock_skew: Duration,
    /// How long a browser may take at the IdP.
    pub login_flow_ttl: Duration,
    /// Authorization code lifetime.
    pub code_ttl: Duration,
    /// Whether the bundled test IdP is enabled (demo mode only).
    pub demo_idp: bool,
}

impl GatehouseConfig {
    /// Settings with safe defaults: 3 minutes skew, 10 minutes at the IdP, 60 s codes, no demo IdP.
    pub fn new(public_url: Url, secrets: SecretBox) -> Self {
        GatehouseConfig {
            public_url,
            secrets,
            clock_skew: Duration::minutes(3),
            login_flow_ttl: Duration::minutes(10),
            code_ttl: Duration::seconds(60),
            demo_idp: false,
        }
    }
}

/// The facade. Cheap to share behind an `Arc`; every method is `&self`.
pub struct Gatehouse {
    store: storage::Store,
    config: GatehouseConfig,
    entropy: Mutex<Box<dyn Entropy>>,
    key_cache: tokens::KeyCache,
    runtime_cache: login::RuntimeCache,
    /// Rarely changing rows read on every request, while a change listener proves fresh.
    row_cache: cache::RowCache,
    demo_idp: Mutex<Option<std::sync::Arc<demo::DemoIdp>>>,
    /// The HTTP client of the event delivery worker, built on first use.
    http: std::sync::OnceLock<reqwest::blocking::Client>,
}

impl std::fmt::Debug for Gatehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatehouse")
            .field("store", &self.store)
            .field("public_url", &self.config.public_url.as_str())
            .finish()
    }
}

impl Gatehouse {
    /// Compose the facade. The store must already be migrated.
    pub fn new(store: storage::Store, config: GatehouseConfig, entropy: Box<dyn Entropy>) -> Self {
        Gatehouse {
            store,
            config,
            entropy: Mutex::new(entropy),
            key_cache: tokens::KeyCache::default(),
            runtime_cache: login::RuntimeCache::default(),
            row_cache: cache::RowCache::default(),
            demo_idp: Mutex::new(None),
            http: std::sync::OnceLock::new(),
        }
    }

    /// The deployment settings.
    pub fn config(&self) -> &GatehouseConfig {
        &self.config
    }

    /// The underlying store (for health checks and the embedding application's migrations).
    pub fn store(&self) -> &storage::Store {
        &self.store
    }

    /// `len` random bytes as hex.
    pub(crate) fn random_hex(&self, len: usize) -> String {
        let mut guard = match self.entropy.lock() {
            Ok(g) => g,
            // A panic elsewhere while holding the lock cannot leave an RNG in a dangerous state.
            Err(poisoned) => poisoned.into_inner(),
        };
        gatehouse_types::random_token(guard.as_mut(), len)
    }

    pub(crate) fn with_entropy<T>(&self, f: impl FnOnce(&mut dyn Entropy) -> T) -> T {
        let mut guard = match self.entropy.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(guard.as_mut())
    }

    /// A URL under the public base (`path` starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.config.public_url.as_str().trim_end_matches('/'),
            path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn actor_of(name: Option<&str>) -> Result<Actor> {
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        Call::cli(now, name).map(|call| call.actor)
    }

    #[test]
    fn cli_operators_are_named_plainly_and_briefly() {
        assert_eq!(actor_of(None).unwrap(), Actor::Operator("cli".into()));
        assert_eq!(
            actor_of(Some("alice")).unwrap(),
            Actor::Operator("cli:alice".into())
        );
        assert_eq!(
            actor_of(Some("ops.bot-2_a@corp.example")).unwrap(),
            Actor::Operator("cli:ops.bot-2_a@corp.example".into())
        );
        let longest = "a".repeat(MAX_CLI_OPERATOR_NAME);
        assert!(actor_of(Some(&longest)).is_ok());
        for bad in [
            "",
            "a".repeat(MAX_CLI_OPERATOR_NAME + 1).as_str(),
            "al ice",
            "alice:admin",
            "DOMAIN\\alice",
            "ålice",
            "alice\n",
            "=cmd",
        ] {
            match actor_of(Some(bad)) {
                Err(GatehouseError::InvalidInput { field: "actor", .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
