//! Deployment settings: an optional TOML file overlaid by `GATEHOUSE_*` environment variables,
//! validated once at start with errors that say what to fix. The environment is passed in as a
//! lookup function so this stays testable and free of globals.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Development (the default: a generated secret key file is acceptable) or production (every
/// secret must be configured explicitly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Local use and demos.
    Development,
    /// A real deployment.
    Production,
}

/// Where the at-rest encryption key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretKeySource {
    /// `GATEHOUSE_SECRET_KEY` / `secret_key` (base64 or hex of 32 bytes).
    Configured(String),
    /// Development only: a key file next to the database, created on first run.
    DevKeyFile(PathBuf),
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address (`GATEHOUSE_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Database URL (`GATEHOUSE_DATABASE_URL`, default `sqlite://gatehouse.db`).
    pub database_url: String,
    /// Public base URL (`GATEHOUSE_PUBLIC_URL`, default `http://<listen>`).
    pub public_url: url::Url,
    /// Secret key source.
    pub secret_key: SecretKeySource,
    /// Mode (`GATEHOUSE_MODE`).
    pub mode: Mode,
    /// Demo tenant, app and bundled test IdP (`GATEHOUSE_DEMO=1`; refused in production).
    pub demo: bool,
    /// Log format: `text` or `json` (`GATEHOUSE_LOG_FORMAT`).
    pub log_json: bool,
    /// Connection pool size for PostgreSQL (`GATEHOUSE_DB_POOL`, default 16).
    pub db_pool: u32,
    /// HTTP worker threads (`GATEHOUSE_WORKERS`); `None`: the server's default, twice the
    /// available cores (SCIM reads wait for the database on the worker thread, so more workers
    /// than cores keep the cores busy).
    pub workers: Option<u32>,
}

/// Why settings are unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    /// The config file could not be read or parsed.
    #[error("config file {path}: {detail}")]
    File {
        /// File path.
        path: String,
        /// What failed.
        detail: String,
    },
    /// One setting has a bad value.
    #[error("setting {name}: {detail}")]
    Invalid {
        /// Setting name as the user writes it (env var name).
        name: &'static str,
        /// What is wrong and what is expected.
        detail: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    secret_key: Option<String>,
    mode: Option<Mode>,
    demo: Option<bool>,
    log_format: Option<String>,
    db_pool: Option<u32>,
    workers: Option<u32>,
}

fn invalid(name: &'static str, detail: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        name,
        detail: detail.into(),
    }
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, SettingsError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(name, "expected true or false")),
    }
}

impl Settings {
    /// Load from an optional file (`GATEHOUSE_CONFIG` or the given path) and the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let file_path = file
            .map(Path::to_path_buf)
            .or_else(|| env("GATEHOUSE_CONFIG").map(PathBuf::from));
        let fs: FileSettings = match &file_path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| SettingsError::File {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| SettingsError::File {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })?
            }
            None => FileSettings::default(),
        };
        let pick = |var: &str, from_file: Option<String>| env(var).or(from_file);

        let mode = match env("GATEHOUSE_MODE") {
            Some(m) => match m.as_str() {
                "development" | "dev" => Mode::Development,
                "production" | "prod" => Mode::Production,
                _ => {
                    return Err(invalid(
                        "GATEHOUSE_MODE",
                        "expected development or production",
                    ))
                }
            },
            None => fs.mode.unwrap_or(Mode::Development),
        };
        let listen_text =
            pick("GATEHOUSE_LISTEN", fs.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "GATEHOUSE_LISTEN",
                format!("{listen_text:?} is not host:port (e.g. 127.0.0.1:8080)"),
            )
        })?;
        let database_url = pick("GATEHOUSE_DATABASE_URL", fs.database_url)
            .unwrap_or_else(|| "sqlite://gatehouse.db".into());
        if database_url.trim().is_empty() {
            return Err(invalid("GATEHOUSE_DATABASE_URL", "must not be empty"));
        }
        let public_text = pick("GATEHOUSE_PUBLIC_URL", fs.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        let public_url = url::Url::parse(&public_text)
            .map_err(|_| invalid("GATEHOUSE_PUBLIC_URL", "not an absolute URL"))?;
        if !matches!(public_url.scheme(), "http" | "https")
            || public_url.query().is_some()
            || public_url.fragment().is_some()
        {
            return Err(invalid(
                "GATEHOUSE_PUBLIC_URL",
                "must be an http(s) URL without query or fragment",
            ));
        }
        if mode == Mode::Production && public_url.scheme() != "https" {
            return Err(invalid(
                "GATEHOUSE_PUBLIC_URL",
                "must be https in production mode",
            ));
        }
        let secret_key = match pick("GATEHOUSE_SECRET_KEY", fs.secret_key) {
            Some(k) => {
                crate::SecretBox::from_encoded(&k)
                    .map_err(|e| invalid("GATEHOUSE_SECRET_KEY", e.to_string()))?;
                SecretKeySource::Configured(k)
            }
            None if mode == Mode::Production => return Err(invalid(
                "GATEHOUSE_SECRET_KEY",
                "required in production mode (32 random bytes, base64: `openssl rand -base64 32`)",
            )),
            None => SecretKeySource::DevKeyFile(dev_key_path(&database_url)),
        };
        let demo = match env("GATEHOUSE_DEMO") {
            Some(v) => parse_bool("GATEHOUSE_DEMO", &v)?,
            None => fs.demo.unwrap_or(false),
        };
        if demo && mode == Mode::Production {
            return Err(invalid(
                "GATEHOUSE_DEMO",
                "the demo tenant and test IdP are refused in production mode",
            ));
        }
        let log_json = match pick("GATEHOUSE_LOG_FORMAT", fs.log_format).as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(_) => return Err(invalid("GATEHOUSE_LOG_FORMAT", "expected text or json")),
        };
        let db_pool = match env("GATEHOUSE_DB_POOL") {
            Some(v) => v
                .parse()
                .map_err(|_| invalid("GATEHOUSE_DB_POOL", "expected a number"))?,
            None => fs.db_pool.unwrap_or(16),
        };
        if !(1..=256).contains(&db_pool) {
            return Err(invalid("GATEHOUSE_DB_POOL", "between 1 and 256"));
        }
        let workers = match env("GATEHOUSE_WORKERS") {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| invalid("GATEHOUSE_WORKERS", "expected a number"))?,
            ),
            None => fs.workers,
        };
        if workers.is_some_and(|w| !(1..=256).contains(&w)) {
            return Err(invalid("GATEHOUSE_WORKERS", "between 1 and 256"));
        }
        Ok(Settings {
            listen,
            database_url,
            public_url,
            secret_key,
            mode,
            demo,
            log_json,
            db_pool,
            workers,
        })
    }

    /// Resolve the secret box, creating the development key file if needed.
    pub fn secret_box(
        &self,
        entropy: &mut dyn gatehouse_types::Entropy,
    ) -> Result<crate::SecretBox, SettingsError> {
        match &self.secret_key {
            SecretKeySource::Configured(k) => crate::SecretBox::from_encoded(k)
                .map_err(|e| invalid("GATEHOUSE_SECRET_KEY", e.to_string())),
            SecretKeySource::DevKeyFile(path) => {
                let file_err = |e: std::io::Error| SettingsError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                };
                if !path.exists() {
                    let mut key = [0u8; 32];
                    entropy.fill(&mut key);
                    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                    write_private_file(path, &hex).map_err(file_err)?;
                }
                let text = std::fs::read_to_string(path).map_err(file_err)?;
                crate::SecretBox::from_encoded(&text).map_err(|e| SettingsError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })
            }
        }
    }
}

fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// The development key lives beside a SQLite database (or in the working directory).
fn dev_key_path(database_url: &str) -> PathBuf {
    if storage::Engine::of(database_url) == storage::Engine::Sqlite {
        let path = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .unwrap_or(database_url);
        let mut p = PathBuf::from(path);
        p.set_extension("secret-key");
        return p;
    }
    PathBuf::from("gatehouse.secret-key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(None, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_sqlite_setup() {
        let s = load(&[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://gatehouse.db");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(
            s.secret_key,
            SecretKeySource::DevKeyFile(PathBuf::from("gatehouse.secret-key"))
        );
        assert!(!s.demo);
    }

    #[test]
    fn workers_default_to_the_server_s_choice_and_are_bounded() {
        assert_eq!(load(&[]).unwrap().workers, None);
        assert_eq!(
            load(&[("GATEHOUSE_WORKERS", "6")]).unwrap().workers,
            Some(6)
        );
        for bad in ["0", "257", "four"] {
            let e = load(&[("GATEHOUSE_WORKERS", bad)]).unwrap_err();
            assert!(
                matches!(
                    e,
                    SettingsError::Invalid {
                        name: "GATEHOUSE_WORKERS",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn production_without_a_secret_key_is_a_start_up_error() {
        let e = load(&[
            ("GATEHOUSE_MODE", "production"),
            ("GATEHOUSE_PUBLIC_URL", "https://sso.example.com"),
        ])
        .unwrap_err();
        assert!(
            matches!(
                e,
                SettingsError::Invalid {
                    name: "GATEHOUSE_SECRET_KEY",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (var, value) in [
            ("GATEHOUSE_LISTEN", "nowhere"),
            ("GATEHOUSE_PUBLIC_URL", "not a url"),
            ("GATEHOUSE_SECRET_KEY", "short"),
            ("GATEHOUSE_DEMO", "maybe"),
            ("GATEHOUSE_MODE", "staging"),
        ] {
            match load(&[(var, value)]) {
                Err(SettingsError::Invalid { name, .. }) => assert_eq!(name, var),
                other => panic!("{var}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn demo_is_refused_in_production() {
        let e = load(&[
            ("GATEHOUSE_MODE", "production"),
            ("GATEHOUSE_DEMO", "1"),
            ("GATEHOUSE_PUBLIC_URL", "https://sso.example.com"),
            ("GATEHOUSE_SECRET_KEY", &"ab".repeat(32)),
        ])
        .unwrap_err();
        assert!(matches!(
            e,
            SettingsError::Invalid {
                name: "GATEHOUSE_DEMO",
                ..
            }
        ));
    }
}
