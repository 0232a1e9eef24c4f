//! Events over real HTTP against the `gatehouse-server` binary, on SQLite and PostgreSQL: a
//! webhook registered through the admin API receives a SCIM change, signed, within a second of
//! the change (the server's delivery worker); an event whose delivery failed when the server was
//! killed is delivered by the restarted server; the events API pages from a cursor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{free_port, operator_token, Server};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage::testing::{TestDatabase, ENGINES};

/// Records `(signature header, body)` of each POST; answers the scripted statuses, then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(String, String)>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::new()));
    let (g, s) = (got.clone(), script.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let (mut len, mut signature) = (0usize, String::new());
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.trim().to_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "gatehouse-signature" => signature = v.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            g.lock()
                .unwrap()
                .push((signature, String::from_utf8(body).unwrap()));
            let status = s.lock().unwrap().pop_front().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Receiver { url, got, script }
}

impl Receiver {
    /// Wait up to `within` for the n-th request (1-based); returns the elapsed time.
    fn wait_for(&self, n: usize, within: Duration) -> Duration {
        let start = Instant::now();
        while self.got.lock().unwrap().len() < n {
            assert!(
                start.elapsed() < within,
                "request {n} not received within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        start.elapsed()
    }
}

fn scim_user(http: &Client, base_url: &str, token: &str, user_name: &str) {
    let r = http
        .post(format!("{base_url}/Users"))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": user_name})
            .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

#[test]
fn webhooks_are_delivered_by_the_server_within_a_second_and_survive_a_kill() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let op = operator_token(&db, "http://127.0.0.1:1");
        let port = free_port();
        let server = Server::start(&db.url, port, None, &[]);
        let http = Client::new();
        let admin = |path: &str| format!("{}/admin/v1{path}", server.base);
        let rx = receiver();

        let r = http
            .post(admin("/tenants"))
            .bearer_auth(&op)
            .json(&json!({"slug": "acme", "display_name": "Acme"}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let r = http
            .post(admin("/webhooks"))
            .bearer_auth(&op)
            .json(&json!({"tenant": "acme", "url": rx.url}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let created: Value = r.json().unwrap();
        let secret = created["secret"].as_str().unwrap().to_owned();
        let hooks: Value = http
            .get(admin("/webhooks"))
            .bearer_auth(&op)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(hooks.as_array().unwrap().len(), 1);
        assert!(!hooks.to_string().contains(&secret));

        let dir: Value = http
            .post(admin("/tenants/acme/scim-directories"))
            .bearer_auth(&op)
            .json(&json!({"name": "Okta"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let base_url = dir["base_url"].as_str().unwrap().to_owned();
        let issued: Value = http
            .post(admin(&format!(
                "/scim-directories/{}/tokens",
                dir["id"].as_str().unwrap()
            )))
            .bearer_auth(&op)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();

        // A change reaches the app within a second, signed.
        scim_user(&http, &base_url, &token, "carol@acme.example");
        rx.wait_for(1, Duration::from_secs(1));
        let (signature, body) = rx.got.lock().unwrap()[0].clone();
        let t: i64 = signature
            .strip_prefix("t=")
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(gatehouse::verify_webhook_signature(
            &secret,
            &signature,
            body.as_bytes(),
            t,
            0
        ));
        let event: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(event["type"], "user.created", "{engine:?}");
        assert_eq!(event["seq"], 1);

        // The receiver fails the next delivery; the server is killed before it retries.
        rx.script.lock().unwrap().push_back(500);
        scim_user(&http, &base_url, &token, "dave@acme.example");
        rx.wait_for(2, Duration::from_secs(2));
        // Give the worker a moment to record the failure (were it killed before that, the
        // 30 s lease would delay the retry, not lose it).
        std::thread::sleep(Duration::from_millis(500));
        drop(server);
        let restarted = Server::start(&db.url, port, None, &[]);
        // Backoff after one failure is 1 s; the restarted server delivers it.
        rx.wait_for(3, Duration::from_secs(40));
        let (_, body) = rx.got.lock().unwrap()[2].clone();
        let event: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(event["seq"], 2, "{engine:?}");

        // The events API, from a cursor.
        let page: Value = http
            .get(format!(
                "{}/admin/v1/tenants/acme/events?after=1&limit=10",
                restarted.base
            ))
            .bearer_auth(&op)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let seqs: Vec<i64> = page
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, [2]);
        // Unknown ids are 404s; revocation routes need the operator token.
        let r = http
            .post(format!(
                "{}/admin/v1/sessions/ses_nope/revoke",
                restarted.base
            ))
            .bearer_auth(&op)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        let r = http
            .get(format!(
                "{}/admin/v1/users/usr_nope/sessions",
                restarted.base
            ))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
}
