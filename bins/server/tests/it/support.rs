//! What every server test needs: the real `gatehouse-server` on a loopback port (killed on drop)
//! and an operator token minted through the facade on the same database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use gatehouse::os::{now, OsEntropy};
use gatehouse::{Call, Gatehouse, GatehouseConfig, SecretBox};
use reqwest::blocking::Client;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use storage::testing::TestDatabase;

/// The at-rest key every test server runs with (test-only).
pub const SECRET_KEY: &str = "2f6e0f1c9a7b3d5e8c4a1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server process under test; SIGKILLed on drop (also when an assertion fails).
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
    temp_log: bool,
}

impl Server {
    /// Start on `port` (0: a free one) with `extra_env`, logging to `log` (`None`: a temp file
    /// removed on drop), and wait until `/healthz` answers.
    pub fn start(
        database_url: &str,
        port: u16,
        log: Option<&Path>,
        extra_env: &[(&str, &str)],
    ) -> Server {
        let port = if port == 0 { free_port() } else { port };
        let base = format!("http://127.0.0.1:{port}");
        let (log, temp_log) = match log {
            Some(p) => (p.to_path_buf(), false),
            None => (
                std::env::temp_dir().join(format!("gatehouse-server-test-{port}.log")),
                true,
            ),
        };
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse-server"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEHOUSE_DATABASE_URL", database_url)
            .env("GATEHOUSE_PUBLIC_URL", &base)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_SECRET_KEY", SECRET_KEY)
            .env("GATEHOUSE_DB_POOL", "4");
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            base,
            log,
            temp_log,
        };
        let http = Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("gatehouse-server exited ({status}):\n{}", server.log_text());
            }
            if http
                .get(format!("{}/healthz", server.base))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "gatehouse-server not healthy after 60 s:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL: the process gets no chance to finish anything.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.temp_log {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Mint an operator token by opening the database with the facade (before or beside the server).
pub fn operator_token(db: &TestDatabase, public_url: &str) -> String {
    let config = GatehouseConfig::new(
        public_url.parse().unwrap(),
        SecretBox::from_encoded(SECRET_KEY).unwrap(),
    );
    let gh = Gatehouse::new(db.store().unwrap(), config, Box::new(OsEntropy));
    gh.create_operator_token(&Call::operator(now(), "test"), "server test")
        .unwrap()
        .token
}
