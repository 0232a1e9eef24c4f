//! The built `gatehouse` binary against a fresh SQLite file and a fresh PostgreSQL database:
//! what an operator types, what they see, and the exit codes scripts rely on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const PUBLIC_URL: &str = "https://sso.example.test";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

/// One finished run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// A database plus the environment the binary needs to reach it.
struct Setup {
    engine: Engine,
    db: TestDatabase,
}

impl Setup {
    fn new(engine: Engine) -> Setup {
        let db = TestDatabase::new(engine).unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        Setup { engine, db }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(&[], args)
    }

    /// `run` with extra environment variables (`$USER`, `GATEHOUSE_ACTOR`, ...).
    fn run_with_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        // A clean environment: nothing from the developer's shell (GATEHOUSE_CONFIG, a
        // production GATEHOUSE_MODE, their $USER) may change what the binary does under test.
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEHOUSE_DATABASE_URL", &self.db.url)
            .env("GATEHOUSE_SECRET_KEY", SECRET_KEY)
            .env("GATEHOUSE_PUBLIC_URL", PUBLIC_URL)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(&all).ok().json()
    }

    /// A tenant `acme` with domain acme.test; returns its id.
    fn acme(&self) -> String {
        let t = self.json(&[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme Corp",
            "--domain",
            "acme.test",
        ]);
        t["id"].as_str().unwrap().to_owned()
    }

    /// An Okta connection for `acme` from the Okta metadata fixture; returns its view.
    fn okta_connection(&self) -> Value {
        let metadata = fixture("saml/metadata/okta.xml");
        self.json(&[
            "saml",
            "create",
            "acme",
            "--name",
            "Okta production",
            "--vendor",
            "okta",
            "--metadata-file",
            metadata.to_str().unwrap(),
        ])
    }
}

fn each_engine(test: impl Fn(&Setup)) {
    for engine in ENGINES {
        let setup = Setup::new(engine);
        test(&setup);
    }
}

#[test]
fn migrate_reports_an_up_to_date_database() {
    each_engine(|s| {
        let run = s.run(&["migrate"]).ok();
        assert_eq!(run.stdout.trim(), "up to date", "{:?}", s.engine);
        assert_eq!(s.json(&["migrate"])["applied"], serde_json::json!([]));
    });
}

#[test]
fn tenants_are_created_listed_and_shown() {
    each_engine(|s| {
        let e = s.engine;
        let created = s
            .run(&[
                "tenant",
                "create",
                "acme",
                "--name",
                "Acme Corp",
                "--external-id",
                "org-42",
                "--domain",
                "acme.test",
                "--domain",
                "acme.example",
            ])
            .ok();
        assert!(
            created.stdout.contains("slug:"),
            "{e:?}: {}",
            created.stdout
        );
        assert!(created.stdout.contains("Acme Corp"), "{e:?}");

        let list = s.run(&["tenant", "list"]).ok();
        let lines: Vec<&str> = list.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{e:?}: header and one row\n{}", list.stdout);
        assert!(lines[0].starts_with("SLUG"), "{e:?}");
        assert!(lines[1].starts_with("acme "), "{e:?}");

        let listed = s.json(&["tenant", "list"]);
        let tenants = listed.as_array().unwrap();
        assert_eq!(tenants.len(), 1, "{e:?}");
        let id = tenants[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(tenants[0]["external_id"], "org-42", "{e:?}");

        // By slug and by id, the same tenant.
        let by_slug = s.json(&["tenant", "show", "acme"]);
        let by_id = s.json(&["tenant", "show", &id]);
        assert_eq!(by_slug, by_id, "{e:?}");
        assert_eq!(
            by_slug["domains"].as_array().unwrap().len(),
            2,
            "{e:?}: {by_slug}"
        );

        let added = s.json(&["tenant", "add-domain", "acme", "Acme.Org"]);
        assert!(
            added["domains"]
                .as_array()
                .unwrap()
                .contains(&Value::from("acme.org")),
            "{e:?}: {added}"
        );
        let changed = s.json(&["tenant", "set-session-lifetime", "acme", "3600"]);
        assert_eq!(changed["session_lifetime_secs"], 3600, "{e:?}");
    });
}

#[test]
fn operator_mistakes_exit_2_with_a_clear_message() {
    each_engine(|s| {
        let e = s.engine;
        s.acme();
        let dup = s.run(&["tenant", "create", "acme", "--name", "Other"]);
        assert_eq!(dup.code, 2, "{e:?}: {}", dup.stderr);
        assert_eq!(
            dup.stderr.trim(),
            "error: tenant acme already exists",
            "{e:?}"
        );
        assert!(dup.stdout.is_empty(), "{e:?}");
        // A new slug with a taken external id: the message cannot blame the slug alone.
        s.run(&[
            "tenant",
            "create",
            "hooli",
            "--name",
            "H",
            "--external-id",
            "crm-7",
        ]);
        let ext = s.run(&[
            "tenant",
            "create",
            "initech",
            "--name",
            "I",
            "--external-id",
            "crm-7",
        ]);
        assert_eq!(ext.code, 2, "{e:?}: {}", ext.stderr);
        assert_eq!(
            ext.stderr.trim(),
            "error: a tenant with slug initech or external id crm-7 already exists",
            "{e:?}"
        );

        let missing = s.run(&["tenant", "show", "globex"]);
        assert_eq!(missing.code, 2, "{e:?}");
        assert!(missing.stderr.starts_with("error: "), "{e:?}");
        assert!(missing.stderr.contains("not found"), "{e:?}");

        let bad_slug = s.run(&["tenant", "create", "Not A Slug", "--name", "X"]);
        assert_eq!(bad_slug.code, 2, "{e:?}");
        assert!(
            bad_slug.stderr.contains("slug"),
            "{e:?}: {}",
            bad_slug.stderr
        );

        let lifetime = s.run(&["tenant", "set-session-lifetime", "acme", "5"]);
        assert_eq!(lifetime.code, 2, "{e:?}");

        let domain_taken = s.run(&["tenant", "add-domain", "acme", "acme.test"]);
        assert_eq!(domain_taken.code, 2, "{e:?}");
        assert!(domain_taken.stderr.contains("already exists"), "{e:?}");

        // clap's own usage errors use the same code.
        let usage = s.run(&["tenant", "create", "x"]);
        assert_eq!(usage.code, 2, "{e:?}");
    });
}

#[test]
fn bad_configuration_is_reported_and_exits_1() {
    let s = Setup::new(Engine::Sqlite);
    let run = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["tenant", "list"])
        .env_clear()
        .env("GATEHOUSE_DATABASE_URL", &s.db.url)
        .env("GATEHOUSE_SECRET_KEY", "too-short")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.starts_with("error: invalid configuration"),
        "{stderr}"
    );
    assert!(stderr.contains("GATEHOUSE_SECRET_KEY"), "{stderr}");
}

#[test]
fn settings_can_come_from_a_config_file() {
    let s = Setup::new(Engine::Sqlite);
    let file = std::env::temp_dir().join(format!("gatehouse-cli-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        format!(
            "database_url = \"{}\"\nsecret_key = \"{SECRET_KEY}\"\npublic_url = \"https://from-file.example.test\"\n",
            s.db.url
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("--config")
            .arg(&file)
            .args(args)
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["tenant", "create", "acme", "--name", "Acme"]);
    let metadata = fixture("saml/metadata/okta.xml");
    // `--config` is global: accepted after the subcommand too.
    let created = run(&[
        "saml",
        "create",
        "acme",
        "--name",
        "Okta",
        "--metadata-file",
        metadata.to_str().unwrap(),
        "--json",
        "--config",
        file.to_str().unwrap(),
    ]);
    let created: Value = serde_json::from_str(&created).unwrap();
    assert!(
        created["sp_entity_id"]
            .as_str()
            .unwrap()
            .starts_with("https://from-file.example.test/saml/"),
        "{created}"
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn client_secrets_are_printed_once() {
    each_engine(|s| {
        let e = s.engine;
        let run = s
            .run(&[
                "client",
                "register",
                "--name",
                "Acme app",
                "--redirect-uri",
                "https://app.acme.test/callback",
                "--redirect-uri",
                "http://127.0.0.1:3000/callback",
            ])
            .ok();
        let secret = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("client_secret: "))
            .unwrap_or_else(|| panic!("{e:?}: no secret in\n{}", run.stdout))
            .trim()
            .to_owned();
        assert_eq!(secret.len(), 64, "{e:?}");
        assert!(run.stderr.contains("warning:"), "{e:?}: {}", run.stderr);
        assert!(run.stderr.contains("only this once"), "{e:?}");

        let list = s.run(&["client", "list"]).ok();
        assert!(list.stdout.contains("Acme app"), "{e:?}");
        assert!(!list.stdout.contains(&secret), "{e:?}");
        let listed = s.json(&["client", "list"]);
        assert!(!listed.to_string().contains(&secret), "{e:?}");
        let client_id = listed[0]["client_id"].as_str().unwrap().to_owned();
        assert_eq!(listed[0]["redirect_uris"].as_array().unwrap().len(), 2);

        let rotated = s.json(&[
            "client",
            "rotate-secret",
            &client_id,
            "--overlap-secs",
            "600",
        ]);
        let new_secret = rotated["client_secret"].as_str().unwrap();
        assert_eq!(new_secret.len(), 64, "{e:?}");
        assert_ne!(new_secret, secret, "{e:?}");

        // A public client has no secret, so nothing is printed and nothing is warned about.
        let public = s
            .run(&[
                "client",
                "register",
                "--name",
                "SPA",
                "--public",
                "--redirect-uri",
                "https://spa.acme.test/cb",
            ])
            .ok();
        assert!(!public.stdout.contains("client_secret"), "{e:?}");
        assert!(public.stderr.is_empty(), "{e:?}: {}", public.stderr);

        let insecure = s.run(&[
            "client",
            "register",
            "--name",
            "X",
            "--redirect-uri",
            "http://app.acme.test/cb",
        ]);
        assert_eq!(insecure.code, 2, "{e:?}");
        assert!(insecure.stderr.contains("redirect_uri"), "{e:?}");

        let range = s.run(&[
            "client",
            "rotate-secret",
            &client_id,
            "--overlap-secs",
            "-1",
        ]);
        assert_eq!(range.code, 2, "{e:?}");
    });
}

#[test]
fn saml_connection_from_metadata_shows_certificate_expiry_and_sp_metadata() {
    each_engine(|s| {
        let e = s.engine;
        s.acme();
        let created = s.okta_connection();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(
            created["idp_entity_id"], "http://www.okta.com/exk1fxyz2abcDEF3g4h7",
            "{e:?}"
        );
        assert_eq!(created["vendor"], "okta", "{e:?}");

        // The certificate in okta.xml expires 2036-11-20T10:39:41Z (fixtures/saml/metadata/certs.json).
        let show = s.run(&["saml", "show", &id]).ok();
        assert!(
            show.stdout.contains("2036-11-20T10:39:41"),
            "{e:?}:\n{}",
            show.stdout
        );
        assert!(show.stdout.contains("days left"), "{e:?}");
        assert!(show.stdout.contains("CN=dev-1234567"), "{e:?}");
        let shown = s.json(&["saml", "show", &id]);
        let cert = &shown["idp_certificates"][0];
        assert_eq!(
            cert["sha256_fingerprint"],
            "45:82:F7:BB:59:5E:17:F7:32:C0:17:AA:9B:50:9E:AE:D7:47:66:F9:C8:FE:1B:E8:2F:FF:D9:F1:E7:8F:DF:D2",
            "{e:?}"
        );
        assert!(cert["expires_in_days"].as_i64().unwrap() > 0, "{e:?}");

        let sp_entity_id = shown["sp_entity_id"].as_str().unwrap().to_owned();
        assert!(
            sp_entity_id.starts_with(PUBLIC_URL),
            "{e:?}: {sp_entity_id}"
        );
        let xml = s.run(&["saml", "sp-metadata", &id]).ok().stdout;
        assert!(
            xml.contains(&format!("entityID=\"{sp_entity_id}\"")),
            "{e:?}:\n{xml}"
        );
        assert!(xml.contains("AssertionConsumerService"), "{e:?}");
        let file =
            std::env::temp_dir().join(format!("gatehouse-cli-sp-{}-{e:?}.xml", std::process::id()));
        s.run(&["saml", "sp-metadata", &id, "-o", file.to_str().unwrap()])
            .ok();
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), xml.trim());
        let _ = std::fs::remove_file(&file);

        let list = s.run(&["saml", "list", "acme"]).ok();
        assert!(list.stdout.contains(&id), "{e:?}");
        assert!(list.stdout.contains("enabled"), "{e:?}");

        let updated = s.json(&[
            "saml",
            "update",
            &id,
            "--name",
            "Okta (new)",
            "--sso-binding",
            "post",
        ]);
        assert_eq!(updated["name"], "Okta (new)", "{e:?}");
        assert_eq!(updated["sso_binding"], "post", "{e:?}");
        let nothing = s.run(&["saml", "update", &id]);
        assert_eq!(nothing.code, 2, "{e:?}");
        let disabled = s.json(&["saml", "disable", &id]);
        assert_eq!(disabled["enabled"], false, "{e:?}");
        let enabled = s.json(&["saml", "update", &id, "--enable"]);
        assert_eq!(enabled["enabled"], true, "{e:?}");

        // IdP-initiated needs a registered app and one of its redirect URIs.
        let refused = s.run(&["saml", "update", &id, "--allow-idp-initiated", "true"]);
        assert_eq!(refused.code, 2, "{e:?}: {}", refused.stderr);

        let unconfirmed = s.run(&["saml", "delete", &id]);
        assert_eq!(unconfirmed.code, 2, "{e:?}");
        assert!(unconfirmed.stderr.contains("--yes"), "{e:?}");
        s.run(&["saml", "show", &id]).ok();
        s.run(&["saml", "delete", &id, "--yes"]).ok();
        let gone = s.run(&["saml", "show", &id]);
        assert_eq!(gone.code, 2, "{e:?}");
        assert!(gone.stderr.contains("not found"), "{e:?}");
    });
}

#[test]
fn unusable_idp_settings_exit_2() {
    each_engine(|s| {
        let e = s.engine;
        s.acme();
        let no_sso = fixture("saml/metadata/bad/no-sso-endpoint.xml");
        let run = s.run(&[
            "saml",
            "create",
            "acme",
            "--name",
            "Broken",
            "--metadata-file",
            no_sso.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 2, "{e:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{e:?}");

        let missing = s.run(&[
            "saml",
            "create",
            "acme",
            "--name",
            "Missing",
            "--metadata-file",
            "/nonexistent/metadata.xml",
        ]);
        assert_eq!(missing.code, 2, "{e:?}");
        assert!(
            missing.stderr.contains("/nonexistent/metadata.xml"),
            "{e:?}"
        );

        let no_idp = s.run(&["saml", "create", "acme", "--name", "Nothing"]);
        assert_eq!(no_idp.code, 2, "{e:?}");

        // Manual entry with a certificate PEM file works; a half-given manual entry is a usage error.
        let cert = fixture("saml/keys/idp.cert.pem");
        let manual = s.json(&[
            "saml",
            "create",
            "acme",
            "--name",
            "Manual",
            "--entity-id",
            "https://idp.acme.test",
            "--sso-url",
            "https://idp.acme.test/sso",
            "--certificate-file",
            cert.to_str().unwrap(),
        ]);
        assert_eq!(manual["idp_entity_id"], "https://idp.acme.test", "{e:?}");
        let half = s.run(&[
            "saml",
            "create",
            "acme",
            "--name",
            "Half",
            "--entity-id",
            "x",
        ]);
        assert_eq!(half.code, 2, "{e:?}");
        assert_eq!(
            s.json(&["saml", "list", "acme"]).as_array().unwrap().len(),
            1
        );
    });
}

/// Serve `body` over plain HTTP on loopback (which the facade allows for metadata URLs in tests)
/// to every request until the process ends; returns the URL.
fn serve_metadata(body: String) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn saml_connection_from_a_metadata_url() {
    let xml = std::fs::read_to_string(fixture("saml/metadata/okta.xml")).unwrap();
    let url = serve_metadata(xml);
    each_engine(|s| {
        let e = s.engine;
        s.acme();
        let created = s.json(&[
            "saml",
            "create",
            "acme",
            "--name",
            "Okta",
            "--metadata-url",
            &url,
        ]);
        assert_eq!(created["metadata_url"], url.as_str(), "{e:?}");
        assert_eq!(
            created["idp_entity_id"], "http://www.okta.com/exk1fxyz2abcDEF3g4h7",
            "{e:?}"
        );
        // Refreshing from the same URL replaces the IdP settings in place.
        let id = created["id"].as_str().unwrap();
        let refreshed = s.json(&["saml", "update", id, "--metadata-url", &url]);
        assert_eq!(refreshed["id"], created["id"], "{e:?}");
    });
}

#[test]
fn operator_tokens_are_shown_once_and_never_listed() {
    each_engine(|s| {
        let e = s.engine;
        let run = s.run(&["operator-token", "create", "--name", "ci"]).ok();
        let token = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("token:"))
            .unwrap()
            .trim()
            .to_owned();
        assert!(token.starts_with("gho_"), "{e:?}: {token}");
        assert!(run.stderr.contains("warning:"), "{e:?}");

        let list = s.run(&["operator-token", "list"]).ok();
        assert!(list.stdout.contains("ci"), "{e:?}");
        assert!(!list.stdout.contains(&token), "{e:?}");
        let listed = s.json(&["operator-token", "list"]);
        assert!(!listed.to_string().contains(&token), "{e:?}");
        let id = listed[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(listed[0]["revoked"], false, "{e:?}");

        s.run(&["operator-token", "revoke", &id]).ok();
        assert_eq!(
            s.json(&["operator-token", "list"])[0]["revoked"],
            true,
            "{e:?}"
        );
        let unknown = s.run(&["operator-token", "revoke", "opt_nope"]);
        assert_eq!(unknown.code, 2, "{e:?}");
    });
}

#[test]
fn signing_keys_rotate_and_list() {
    each_engine(|s| {
        let e = s.engine;
        let first = s.json(&["keys", "rotate"])["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let second = s.json(&["keys", "rotate"])["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(first, second, "{e:?}");
        let keys = s.json(&["keys", "list"]);
        let active: Vec<&str> = keys
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["active"] == true)
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(active, [second.as_str()], "{e:?}");
        let table = s.run(&["keys", "list"]).ok().stdout;
        assert!(table.contains("retired"), "{e:?}");
    });
}

#[test]
fn events_and_audit_verification() {
    each_engine(|s| {
        let e = s.engine;
        let tenant_id = s.acme();
        s.okta_connection();

        // No sign-ins yet: the default filter is login.*.
        let logins = s.run(&["events", "acme"]).ok();
        assert_eq!(logins.stdout.trim(), "no matching events", "{e:?}");
        let all = s.json(&["events", "acme", "--type", "*"]);
        let types: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["config.changed", "config.changed"], "{e:?}");
        assert_eq!(all[0]["actor"]["id"], "cli", "{e:?}");
        let page = s.json(&["events", "acme", "--type", "config.*", "--after", "1"]);
        assert_eq!(page.as_array().unwrap().len(), 1, "{e:?}");
        assert_eq!(page[0]["seq"], 2, "{e:?}");

        let verified = s.run(&["audit", "verify", "acme"]).ok();
        assert!(
            verified.stdout.contains("intact (2 records)"),
            "{e:?}: {}",
            verified.stdout
        );
        assert_eq!(
            s.json(&["audit", "verify", "acme"]),
            serde_json::json!({ "intact": true, "records": 2 })
        );
        // Apps, tokens and keys are on the system chain.
        s.run(&["operator-token", "create", "--name", "ci"]).ok();
        s.run(&["audit", "verify", "_system"]).ok();

        // Edit the first record in place, only its indexed event_type column: filtered queries
        // no longer see it, the chain's hashes are untouched, and verification still names it.
        let first = format!("WHERE tenant_id = '{tenant_id}' AND seq = 1");
        let edit = |sql: &str| assert_eq!(s.db.execute(sql).unwrap(), 1, "{e:?}: {sql}");
        edit(&format!(
            "UPDATE audit_log SET event_type = 'login.failed' {first}"
        ));
        let hidden = s.json(&["events", "acme", "--type", "config.*"]);
        assert_eq!(hidden.as_array().unwrap().len(), 1, "{e:?}");
        let broken = s.run(&["audit", "verify", "acme"]);
        assert_eq!(broken.code, 1, "{e:?}: {}", broken.stdout);
        assert!(
            broken.stdout.contains(
                "first broken record is seq 1: the indexed column event_type does not match"
            ),
            "{e:?}: {}",
            broken.stdout
        );
        edit(&format!(
            "UPDATE audit_log SET event_type = 'config.changed' {first}"
        ));
        s.run(&["audit", "verify", "acme"]).ok();
        // Now the record's JSON itself (who did it), leaving every column as it was.
        edit(&format!(
            "UPDATE audit_log SET record = REPLACE(record, '\"id\":\"cli\"', '\"id\":\"nobody\"') {first}"
        ));
        let broken_json = s.run(&["--json", "audit", "verify", "acme"]);
        assert_eq!(broken_json.code, 1, "{e:?}");
        let report = broken_json.json();
        assert_eq!(report["first_broken_seq"], 1, "{e:?}");
        assert!(
            report["reason"].as_str().unwrap().contains("was edited"),
            "{e:?}: {report}"
        );
        edit(&format!(
            "UPDATE audit_log SET record = REPLACE(record, '\"id\":\"nobody\"', '\"id\":\"cli\"') {first}"
        ));
        s.run(&["audit", "verify", "acme"]).ok();

        // Append a record whose content does not match its hash: verification names it and exits 1.
        let store = s.db.store().unwrap();
        store
            .transaction(|c| {
                let last = storage::queries::last_audit_row(c, &tenant_id)?.unwrap();
                let mut record: Value = serde_json::from_str(&last.record).unwrap();
                record["seq"] = Value::from(last.seq + 1);
                record["prev_hash"] = Value::from(last.hash.clone());
                let forged = storage::models::AuditRow {
                    seq: last.seq + 1,
                    record: record.to_string(),
                    ..last
                };
                storage::queries::insert_audit_row(c, &forged)
            })
            .unwrap();
        let broken = s.run(&["audit", "verify", "acme"]);
        assert_eq!(broken.code, 1, "{e:?}: {}", broken.stdout);
        assert!(broken.stdout.contains("seq 3"), "{e:?}: {}", broken.stdout);
        assert!(broken.stderr.starts_with("error: "), "{e:?}");
        let broken_json = s.run(&["--json", "audit", "verify", "acme"]);
        assert_eq!(broken_json.code, 1, "{e:?}");
        let report = broken_json.json();
        assert_eq!(report["intact"], false, "{e:?}");
        assert_eq!(report["first_broken_seq"], 3, "{e:?}");
    });
}

#[test]
fn changes_are_attributed_to_the_operator_named_by_flag_environment_or_os_user() {
    each_engine(|s| {
        let e = s.engine;
        // Creates tenant `slug` and returns who its `config.changed` record says did it.
        let creator = |slug: &str, env: &[(&str, &str)], flags: &[&str]| -> Value {
            let mut args = flags.to_vec();
            args.extend(["tenant", "create", slug, "--name", slug]);
            s.run_with_env(env, &args).ok();
            let records = s.json(&["events", slug, "--type", "*"]);
            assert_eq!(records.as_array().unwrap().len(), 1, "{e:?}: {records}");
            records[0]["actor"].clone()
        };
        let operator = |id: &str| serde_json::json!({ "kind": "operator", "id": id });
        assert_eq!(creator("t1", &[], &[]), operator("cli"), "{e:?}");
        assert_eq!(
            creator("t2", &[], &["--actor", "alice@corp.example"]),
            operator("cli:alice@corp.example"),
            "{e:?}"
        );
        assert_eq!(
            creator("t3", &[("USER", "carol"), ("LOGNAME", "x")], &[]),
            operator("cli:carol"),
            "{e:?}"
        );
        assert_eq!(
            creator("t4", &[("USER", ""), ("LOGNAME", "dave")], &[]),
            operator("cli:dave"),
            "{e:?}"
        );
        assert_eq!(
            creator("t5", &[("GATEHOUSE_ACTOR", "bob"), ("USER", "carol")], &[]),
            operator("cli:bob"),
            "{e:?}"
        );
        assert_eq!(
            creator("t6", &[("GATEHOUSE_ACTOR", "bob")], &["--actor", "alice"]),
            operator("cli:alice"),
            "{e:?}"
        );
        // The actor filter (`--by`) takes the same kind:id key; the old way of writing a
        // filter, `--actor KIND:ID`, now names the operator and is refused with a pointer.
        let by_alice = s.json(&["events", "t6", "--type", "*", "--by", "operator:cli:alice"]);
        assert_eq!(by_alice.as_array().unwrap().len(), 1, "{e:?}");
        let old_filter = s.run(&[
            "events",
            "t6",
            "--type",
            "*",
            "--actor",
            "operator:cli:alice",
        ]);
        assert_eq!(old_filter.code, 2, "{e:?}");
        assert!(
            old_filter.stderr.contains("use --by KIND:ID"),
            "{e:?}: {}",
            old_filter.stderr
        );

        // A name that is too long or not plain is refused before anything happens.
        let long = "a".repeat(65);
        for (env, flags) in [
            (vec![], vec!["--actor", "al ice"]),
            (vec![], vec!["--actor", long.as_str()]),
            (vec![("USER", "DOMAIN\\carol")], vec![]),
        ] {
            let mut args = flags.clone();
            args.extend(["tenant", "create", "nope", "--name", "nope"]);
            let refused = s.run_with_env(&env, &args);
            assert_eq!(
                refused.code, 2,
                "{e:?} {env:?} {flags:?}: {}",
                refused.stderr
            );
            assert!(
                refused.stderr.contains("pass --actor NAME"),
                "{e:?}: {}",
                refused.stderr
            );
        }
        let missing = s.run(&["tenant", "show", "nope"]);
        assert_eq!(missing.code, 2, "{e:?}");
    });
}

#[test]
fn role_rules_are_set_shown_and_explained() {
    each_engine(|s| {
        s.acme();
        let dir = std::env::temp_dir().join(format!(
            "gh-cli-roles-{}-{:?}",
            std::process::id(),
            s.engine
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = dir.join("rules.json");
        std::fs::write(
            &rules,
            r#"{"version":1,"dimensions":{"market":{}},"rules":[{"id":"india","condition":{"group":{"name":"RegionalManagers-India"}},"grants":[{"role":"regional_manager","scopes":{"market":"India"}}]}],"unmatched_policy":"deny"}"#,
        )
        .unwrap();
        let stored = s.json(&["roles", "set", "acme", "--file", rules.to_str().unwrap()]);
        assert_eq!(stored["version"], 1, "{:?}", s.engine);
        let again = s.json(&["roles", "set", "acme", "--file", rules.to_str().unwrap()]);
        assert_eq!(again["version"], 2);
        assert_eq!(
            s.json(&["roles", "show", "acme"])["rules"]["rules"][0]["id"],
            "india"
        );
        let yes = s.json(&[
            "roles",
            "explain",
            "acme",
            "--group",
            "RegionalManagers-India",
        ]);
        assert_eq!(yes["decision"], "granted");
        assert_eq!(yes["grants"][0]["scopes"]["market"], "India");
        let no = s
            .run(&["roles", "explain", "acme", "--group", "Marketing"])
            .ok();
        assert!(no.stdout.contains("Marketing"), "{}", no.stdout);
        std::fs::write(&rules, r#"{"rules":[{"id":"x","condition":{"group":{"name":"A"}},"grants":[{"role":"r","scopes":{"nope":"v"}}]}]}"#).unwrap();
        let bad = s.run(&["roles", "set", "acme", "--file", rules.to_str().unwrap()]);
        assert_eq!(bad.code, 2, "{}", bad.stderr);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// A user provisioned by `directory` (over the facade's SCIM API, as the server would): its id.
fn scim_user(s: &Setup, directory: &str, token: &str, user_name: &str) -> String {
    let config = gatehouse::GatehouseConfig::new(
        PUBLIC_URL.parse().unwrap(),
        gatehouse::SecretBox::from_encoded(SECRET_KEY).unwrap(),
    );
    let gh = gatehouse::Gatehouse::new(
        s.db.store().unwrap(),
        config,
        Box::new(gatehouse::os::OsEntropy),
    );
    let now = gatehouse::os::now();
    let client = gh.authenticate_scim(now, directory, token).unwrap();
    let call = gatehouse::Call {
        now,
        correlation_id: "cli-test".into(),
        actor: client.actor(),
    };
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
    });
    let created = gh
        .scim_create(&call, &client, gatehouse::ScimKind::User, &user)
        .unwrap();
    created.body.unwrap()["id"].as_str().unwrap().to_owned()
}

#[test]
fn set_roles_on_an_idp_managed_user_exits_2_with_the_reason() {
    each_engine(|s| {
        let e = s.engine;
        s.acme();
        let dir = s.json(&["scim", "directory-create", "acme", "--name", "Okta"]);
        let dir_id = dir["id"].as_str().unwrap().to_owned();
        let issued = s.json(&["scim", "token-issue", &dir_id]);
        let bob = scim_user(
            s,
            &dir_id,
            issued["token"].as_str().unwrap(),
            "bob@acme.test",
        );

        // Without role rules the tenant's IdP manages nobody's roles: a hand grant is fine.
        let granted = s.json(&["users", "set-roles", "acme", &bob, "--grant", "viewer"]);
        assert_eq!(granted["managed_by"], "admin", "{e:?}: {granted}");

        let dir = std::env::temp_dir().join(format!(
            "gh-cli-managed-{}-{:?}",
            std::process::id(),
            s.engine
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = dir.join("rules.json");
        std::fs::write(
            &rules,
            r#"{"version":1,"rules":[{"id":"admins","condition":{"group":{"name":"Admins"}},"grants":[{"role":"admin"}]}],"unmatched_policy":"allow_without_roles"}"#,
        )
        .unwrap();
        s.json(&["roles", "set", "acme", "--file", rules.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&dir);

        for json in [false, true] {
            let mut args = vec![
                "users",
                "set-roles",
                "acme",
                &bob,
                "--grant",
                "billing_admin",
            ];
            if json {
                args.insert(0, "--json");
            }
            let refused = s.run(&args);
            assert_eq!(refused.code, 2, "{e:?} (--json {json}): {}", refused.stderr);
            assert!(refused.stdout.is_empty(), "{e:?}: {}", refused.stdout);
            assert_eq!(
                refused.stderr.trim(),
                "error: refused: the roles of this user are managed by the identity provider \
                 through the role mapping rules of tenant acme; change the rules or the user's \
                 groups in the IdP instead",
                "{e:?}"
            );
        }
        let roles = s.json(&["users", "roles", "acme", &bob]);
        assert_eq!(roles["managed_by"], "identity_provider", "{e:?}: {roles}");
        assert_eq!(
            roles["grants"],
            serde_json::json!([{"role": "viewer"}]),
            "{e:?}: the refused edit changed nothing"
        );
    });
}

#[test]
fn scim_directories_tokens_users_and_seats() {
    each_engine(|s| {
        s.acme();
        let dir = s.json(&["scim", "directory-create", "acme", "--name", "Okta"]);
        let dir_id = dir["id"].as_str().unwrap().to_owned();
        assert!(
            dir["base_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/scim/v2/{dir_id}")),
            "{dir}"
        );
        assert_eq!(
            s.json(&["scim", "directory-list", "acme"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let issued = s.run(&["scim", "token-issue", &dir_id]).ok();
        assert!(issued.stderr.contains("only once"), "{}", issued.stderr);
        let token_line = issued
            .stdout
            .lines()
            .find(|l| l.starts_with("token ") && !l.starts_with("token id"))
            .unwrap()
            .to_owned();
        let token = token_line.split_whitespace().last().unwrap().to_owned();
        let listed = s.run(&["scim", "token-list", &dir_id]).ok();
        assert!(
            !listed.stdout.contains(&token),
            "a listed token must never show its secret"
        );
        let rotated = s.json(&["scim", "token-rotate", &dir_id, "--overlap-secs", "60"]);
        assert_ne!(rotated["token"].as_str().unwrap(), token);
        let token_id = rotated["token_id"].as_str().unwrap().to_owned();
        s.json(&["scim", "token-revoke", &dir_id, &token_id]);
        assert_eq!(
            s.json(&["seats", "acme"])["active_users"],
            0,
            "{:?}",
            s.engine
        );
        assert_eq!(
            s.json(&["users", "list", "acme"]).as_array().unwrap().len(),
            0
        );
        // An operator invites Erin (pre-provisioning for JIT-off connections); a second
        // invitation of the same e-mail is refused.
        let erin = s.json(&["users", "invite", "acme", "--email", "erin@acme.test"]);
        assert_eq!(erin["email"], "erin@acme.test", "{:?}", s.engine);
        let again = s.run(&["users", "invite", "acme", "--email", "Erin@acme.test"]);
        assert_ne!(again.code, 0, "{}", again.stderr);
        assert_eq!(
            s.json(&["users", "list", "acme"]).as_array().unwrap().len(),
            1
        );
        let refused = s.run(&["users", "delete", "acme", "usr_nope"]);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        let missing = s.run(&["users", "delete", "acme", "usr_nope", "--yes"]);
        assert_eq!(missing.code, 2, "{}", missing.stderr);
    });
}

#[test]
fn webhooks_are_created_with_a_secret_shown_once_listed_and_deleted_and_sessions_revoked() {
    each_engine(|s| {
        let e = s.engine;
        s.acme();
        let created = s
            .run(&[
                "--json",
                "webhooks",
                "create",
                "https://app.example.test/hooks",
                "--tenant",
                "acme",
            ])
            .ok()
            .json();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{e:?}");
        let id = created["endpoint"]["id"].as_str().unwrap().to_owned();
        let list = s.run(&["webhooks", "list"]).ok();
        assert!(list.stdout.contains(&id), "{e:?}");
        assert!(list.stdout.contains("https://app.example.test/hooks"));
        assert!(!list.stdout.contains(&secret));
        let plain_http = s.run(&["webhooks", "create", "http://app.example.test/hooks"]);
        assert_eq!(plain_http.code, 2, "{e:?}: {}", plain_http.stderr);
        s.run(&["webhooks", "delete", &id]).ok();
        assert!(!s.run(&["webhooks", "list"]).ok().stdout.contains(&id));
        let again = s.run(&["webhooks", "delete", &id]);
        assert_eq!(again.code, 2, "{e:?}");

        let missing = s.run(&["sessions", "revoke", "ses_nope"]);
        assert_eq!(missing.code, 2, "{e:?}");
        assert!(missing.stderr.contains("session not found"), "{e:?}");
        let missing = s.run(&["users", "revoke-sessions", "usr_nope"]);
        assert!(missing.stderr.contains("user not found"), "{e:?}");
        let missing = s.run(&["sessions", "list", "usr_nope"]);
        assert_eq!(missing.code, 2, "{e:?}");
    });
}

#[test]
fn audit_records_are_filtered_and_exported_as_jsonl_and_csv() {
    each_engine(|s| {
        s.acme();
        s.okta_connection();
        let mine = s.json(&["events", "acme", "--type", "*", "--by", "operator:cli"]);
        assert!(
            mine.as_array().unwrap().len() >= 2,
            "{:?}: {mine}",
            s.engine
        );
        let nobody = s.json(&["events", "acme", "--type", "*", "--by", "operator:nobody"]);
        assert_eq!(nobody.as_array().unwrap().len(), 0);
        let future = s.json(&[
            "events",
            "acme",
            "--type",
            "*",
            "--from",
            "2099-01-01T00:00:00Z",
        ]);
        assert_eq!(future.as_array().unwrap().len(), 0);
        let jsonl = s
            .run(&["--actor", "auditor", "audit", "export", "acme"])
            .ok();
        let lines: Vec<Value> = jsonl
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Everything so far, then the export's own record: who exported what.
        assert_eq!(lines.len(), mine.as_array().unwrap().len() + 1);
        let own = lines.last().unwrap();
        assert_eq!(own["actor"]["id"], "cli:auditor", "{own}");
        assert_eq!(own["event"]["type"], "admin.action", "{own}");
        assert_eq!(own["event"]["action"], "audit.export", "{own}");
        assert_eq!(
            own["event"]["summary"], r#"{"format":"jsonl","type":"*"}"#,
            "{own}"
        );
        assert!(
            jsonl
                .stderr
                .contains(&format!("exported {} records", lines.len())),
            "{}",
            jsonl.stderr
        );
        let dir = std::env::temp_dir().join(format!(
            "gh-cli-export-{}-{:?}",
            std::process::id(),
            s.engine
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("audit.csv");
        s.run(&[
            "audit",
            "export",
            "acme",
            "--format",
            "csv",
            "-o",
            csv.to_str().unwrap(),
        ])
        .ok();
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with("tenant_id,seq,"), "{text}");
        // The header, the records of the JSON Lines export, and this export's own record.
        assert_eq!(text.lines().count(), 1 + lines.len() + 1);
        let bad = s.run(&["audit", "export", "acme", "--format", "xml"]);
        assert_eq!(bad.code, 2);
        let exports = s.json(&["events", "acme", "--type", "admin.*"]);
        assert_eq!(
            exports.as_array().unwrap().len(),
            2,
            "a refused export is not one"
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_terminal_sees_a_progress_bar_and_the_exported_file_is_the_same() {
    let s = Setup::new(Engine::Sqlite);
    s.acme();
    s.okta_connection();
    let dir = std::env::temp_dir().join(format!("gh-cli-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for format in ["jsonl", "csv"] {
        // Under script(1) the binary's stdin, stdout and stderr are a pseudo-terminal; what
        // it draws there comes out of script's stdout.
        let tty_file = dir.join(format!("tty.{format}"));
        let command = format!(
            "{} audit export acme --format {format} -o {}",
            env!("CARGO_BIN_EXE_gatehouse"),
            tty_file.display()
        );
        let screen = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .env("GATEHOUSE_DATABASE_URL", &s.db.url)
            .env("GATEHOUSE_SECRET_KEY", SECRET_KEY)
            .env("GATEHOUSE_PUBLIC_URL", PUBLIC_URL)
            .output()
            .unwrap();
        assert!(screen.status.success(), "{screen:?}");
        let screen = String::from_utf8_lossy(&screen.stdout);
        let tty = std::fs::read_to_string(&tty_file).unwrap();
        let records = tty.lines().count() - usize::from(format == "csv");
        assert!(
            screen.contains(&format!("/{records} records (")),
            "no bar over {records} records: {screen:?}"
        );
        assert!(
            screen.contains(&format!("exported {records} records")),
            "{screen:?}"
        );

        // Without a terminal: the plain count, no drawing.
        let plain_file = dir.join(format!("plain.{format}"));
        let plain = s
            .run(&[
                "audit",
                "export",
                "acme",
                "--format",
                format,
                "-o",
                plain_file.to_str().unwrap(),
            ])
            .ok();
        assert!(!plain.stderr.contains('\u{1b}'), "{:?}", plain.stderr);
        assert!(
            plain
                .stderr
                .contains(&format!("exported {} records", records + 1)),
            "{}",
            plain.stderr
        );
        // The same bytes: this export is the previous one plus its own record.
        let plain = std::fs::read_to_string(&plain_file).unwrap();
        let rest = plain
            .strip_prefix(tty.as_str())
            .unwrap_or_else(|| panic!("{tty}\n---\n{plain}"));
        assert_eq!(rest.lines().count(), 1, "{rest}");
        assert!(rest.contains("audit.export"), "{rest}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
