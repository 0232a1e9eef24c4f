//! The REST admin API over real HTTP against the `gatehouse-server` binary, on SQLite and
//! PostgreSQL, for the routes the facade tests cover only below HTTP: tenant changes (`PATCH`),
//! role rules and their dry run, hand-granted roles and the IdP-managed refusal, recovery admins
//! and one-time recovery links, the audit query with its filters and cursor, the audit export,
//! and the OAuth endpoints' challenges. Every admin refusal must be the admin error body — a
//! stable `error` code, a message safe for an operator, the correlation id — and never database
//! detail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{operator_token, Server};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{HeaderMap, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use storage::testing::{TestDatabase, ENGINES};
use storage::Engine;

/// A server on a fresh database, an operator token, and a client that never follows redirects.
struct Admin {
    engine: Engine,
    server: Server,
    _db: TestDatabase,
    op: String,
    http: Client,
}

/// One answer: status, headers, the body as text.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text))
    }

    fn header(&self, name: reqwest::header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// Words that would betray the storage engine or a query in an error message.
const DATABASE_DETAIL: [&str; 8] = [
    "diesel",
    "sqlite",
    "postgres",
    "sql",
    "constraint",
    "duplicate key",
    "violates",
    "relation",
];

impl Admin {
    fn start(engine: Engine) -> Admin {
        let db = TestDatabase::new(engine).unwrap();
        let op = operator_token(&db, "http://127.0.0.1:1");
        let server = Server::start(&db.url, 0, None, &[]);
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Admin {
            engine,
            server,
            _db: db,
            op,
            http,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/admin/v1{path}", self.server.base)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.op)
    }

    fn send(&self, req: RequestBuilder) -> Answer {
        let r = req.send().unwrap();
        Answer {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().unwrap(),
        }
    }

    /// `method path` with an optional JSON body; the status must be `want`; the JSON answer.
    fn json(&self, method: Method, path: &str, body: Option<Value>, want: u16) -> Value {
        let mut req = self.request(method.clone(), path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let a = self.send(req);
        assert_eq!(
            a.status, want,
            "{:?}: {method} {path}: {}",
            self.engine, a.text
        );
        if a.text.is_empty() {
            Value::Null
        } else {
            a.json()
        }
    }

    fn get(&self, path: &str) -> Value {
        self.json(Method::GET, path, None, 200)
    }

    /// The answer must be the admin error body with `status` and `code`; returns its message.
    fn refused(&self, a: Answer, status: u16, code: &str) -> String {
        let e = self.engine;
        assert_eq!(a.status, status, "{e:?}: {}", a.text);
        assert!(
            a.header(CONTENT_TYPE).starts_with("application/json"),
            "{e:?}: an admin error is JSON, got {:?}: {}",
            a.header(CONTENT_TYPE),
            a.text
        );
        let body = a.json();
        let keys: BTreeSet<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["correlation_id", "error", "message"]),
            "{e:?}: {body}"
        );
        assert_eq!(body["error"], code, "{e:?}: {body}");
        assert_eq!(
            body["correlation_id"].as_str().unwrap(),
            a.header("x-correlation-id".parse().unwrap()),
            "{e:?}"
        );
        let message = body["message"].as_str().unwrap().to_owned();
        let lower = message.to_lowercase();
        for word in DATABASE_DETAIL {
            assert!(
                !lower.contains(word),
                "{e:?}: database detail ({word}) in an error message: {message}"
            );
        }
        message
    }

    /// `method path` with a JSON body must be refused with `status` and `code`.
    fn refuses(&self, method: Method, path: &str, body: Value, status: u16, code: &str) -> String {
        let a = self.send(self.request(method, path).json(&body));
        self.refused(a, status, code)
    }

    /// A confidential app redirecting to `APP_REDIRECT`: its client id and secret.
    fn app(&self) -> (String, String) {
        let app = self.json(
            Method::POST,
            "/clients",
            Some(json!({"name": "App", "redirect_uris": [APP_REDIRECT]})),
            201,
        );
        (
            app["client"]["client_id"].as_str().unwrap().to_owned(),
            app["client_secret"].as_str().unwrap().to_owned(),
        )
    }
    fn tenant(&self, slug: &str) -> Value {
        self.json(
            Method::POST,
            "/tenants",
            Some(json!({"slug": slug, "display_name": "Acme"})),
            201,
        )
    }

    /// A user created by hand (no connection, no directory): returns its id.
    fn hand_made_user(&self, email: &str) -> String {
        let u = self.json(
            Method::POST,
            "/tenants/acme/users",
            Some(json!({"email": email})),
            201,
        );
        assert_eq!(u["directory_id"], Value::Null);
        u["id"].as_str().unwrap().to_owned()
    }

    /// A user provisioned by a SCIM directory of `acme`, over SCIM: returns its id.
    fn scim_user(&self, user_name: &str) -> String {
        let dir = self.json(
            Method::POST,
            "/tenants/acme/scim-directories",
            Some(json!({"name": "Okta"})),
            201,
        );
        let issued = self.json(
            Method::POST,
            &format!("/scim-directories/{}/tokens", dir["id"].as_str().unwrap()),
            None,
            201,
        );
        let a = self.send(
            self.http
                .post(format!("{}/Users", dir["base_url"].as_str().unwrap()))
                .bearer_auth(issued["token"].as_str().unwrap())
                .header(CONTENT_TYPE, "application/scim+json")
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "userName": user_name})
                    .to_string(),
                ),
        );
        assert_eq!(a.status, 201, "{:?}: {}", self.engine, a.text);
        a.json()["id"].as_str().unwrap().to_owned()
    }

    /// Every audit record of `acme` matching `query` (one page of up to 1000).
    fn audit(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/tenants/acme/audit?limit=1000&{query}"))
            .as_array()
            .unwrap()
            .clone()
    }
}

fn each(test: impl Fn(&Admin)) {
    for engine in ENGINES {
        test(&Admin::start(engine));
    }
}

fn summaries(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            r["event"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn tenant_patch_sets_the_session_lifetime_and_name_refuses_bad_input_and_is_audited() {
    each(|a| {
        let e = a.engine;
        assert_eq!(a.tenant("acme")["session_lifetime_secs"], 900, "{e:?}");

        let t = a.json(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"session_lifetime_secs": 600})),
            200,
        );
        assert_eq!(t["session_lifetime_secs"], 600, "{e:?}: {t}");
        assert_eq!(
            t["display_name"], "Acme",
            "{e:?}: only the lifetime changed"
        );
        assert_eq!(a.get("/tenants/acme")["session_lifetime_secs"], 600);
        let t = a.json(
            Method::PATCH,
            &format!("/tenants/{}", t["id"].as_str().unwrap()),
            Some(json!({"display_name": "  Acme Inc.  "})),
            200,
        );
        assert_eq!(t["display_name"], "Acme Inc.", "{e:?}: trimmed, by id");
        assert_eq!(t["session_lifetime_secs"], 600, "{e:?}: the lifetime stays");

        let m = a.refuses(
            Method::PATCH,
            "/tenants/acme",
            json!({"session_lifetime_secs": 59}),
            400,
            "invalid_input",
        );
        assert!(m.contains("session_lifetime_secs"), "{e:?}: {m}");
        assert!(m.contains("between 60 and 86400"), "{e:?}: {m}");
        a.refuses(
            Method::PATCH,
            "/tenants/acme",
            json!({"session_lifetime_secs": 86_401, "display_name": "Globex"}),
            400,
            "invalid_input",
        );
        let m = a.refuses(
            Method::PATCH,
            "/tenants/acme",
            json!({}),
            400,
            "invalid_input",
        );
        assert!(m.contains("nothing to change"), "{e:?}: {m}");
        let m = a.refuses(
            Method::PATCH,
            "/tenants/acme",
            json!({"session_lifetime": 300}),
            400,
            "invalid_input",
        );
        assert!(m.contains("unknown field"), "{e:?}: a misspelt field: {m}");
        a.refuses(
            Method::PATCH,
            "/tenants/acme",
            json!({"session_lifetime_secs": "300"}),
            400,
            "invalid_input",
        );
        a.refuses(
            Method::PATCH,
            "/tenants/acme",
            json!({"display_name": " "}),
            400,
            "invalid_input",
        );
        let not_json = a.send(
            a.request(Method::PATCH, "/tenants/acme")
                .header(CONTENT_TYPE, "application/json")
                .body("session_lifetime_secs=300"),
        );
        a.refused(not_json, 400, "invalid_input");
        // Nothing refused changed anything.
        let t = a.get("/tenants/acme");
        assert_eq!(
            (&t["display_name"], &t["session_lifetime_secs"]),
            (&json!("Acme Inc."), &json!(600)),
            "{e:?}"
        );

        a.refuses(
            Method::PATCH,
            "/tenants/globex",
            json!({"session_lifetime_secs": 600}),
            404,
            "not_found",
        );
        let anonymous = a.send(
            a.http
                .patch(a.url("/tenants/acme"))
                .json(&json!({"session_lifetime_secs": 60})),
        );
        a.refused(anonymous, 401, "unauthorized");

        // Audited as the CLI's set-session-lifetime is: one config.changed per applied change.
        let changes = a.audit("event_type=config.changed");
        let s = summaries(&changes);
        assert_eq!(
            s.iter()
                .filter(|s| s.starts_with("session_lifetime"))
                .collect::<Vec<_>>(),
            ["session_lifetime: 600"],
            "{e:?}: {s:?}"
        );
        assert!(s.contains(&"display_name: Acme Inc.".to_owned()), "{s:?}");
        assert!(changes.iter().all(|r| r["actor"]["kind"] == "operator"));

        // A storage-level conflict reaches the operator without the database's words.
        a.json(
            Method::POST,
            "/tenants/acme/domains",
            Some(json!({"domain": "acme.test"})),
            200,
        );
        let m = a.refuses(
            Method::POST,
            "/tenants/acme/domains",
            json!({"domain": "ACME.test"}),
            409,
            "conflict",
        );
        assert_eq!(m, "domain acme.test already exists", "{e:?}");
    });
}

const RULES: &str = r#"{"version":1,"dimensions":{"market":{}},"rules":[{"id":"india","condition":{"group":{"name":"RegionalManagers-India"}},"grants":[{"role":"regional_manager","scopes":{"market":"India"}}]}],"unmatched_policy":"deny"}"#;

#[test]
fn role_rules_explain_and_hand_granted_roles_with_the_idp_managed_refusal() {
    each(|a| {
        let e = a.engine;
        a.tenant("acme");
        a.refused(
            a.send(a.request(Method::GET, "/tenants/acme/role-rules")),
            404,
            "not_found",
        );
        a.refuses(
            Method::POST,
            "/tenants/acme/role-rules/explain",
            json!({"groups": ["RegionalManagers-India"]}),
            404,
            "not_found",
        );
        let bob = a.scim_user("bob@acme.test");
        let carol = a.hand_made_user("carol@acme.test");
        let viewer = json!({"grants": [{"role": "viewer", "scopes": {"account": "acct-42"}}]});

        // No rules: nobody's roles are managed by the IdP, so even a SCIM user's are hand-edited.
        let r = a.get(&format!("/tenants/acme/users/{bob}/roles"));
        assert_eq!(r["managed_by"], "admin", "{e:?}: {r}");
        assert_eq!(r["grants"], json!([]));
        let r = a.json(
            Method::PUT,
            &format!("/tenants/acme/users/{bob}/roles"),
            Some(viewer.clone()),
            200,
        );
        assert_eq!(r["grants"], viewer["grants"], "{e:?}");
        assert_eq!(
            a.get(&format!("/tenants/acme/users/{bob}/roles"))["grants"],
            viewer["grants"]
        );

        // Rules are stored as sent, versioned, and read back.
        let put_rules = |text: &str| {
            a.send(
                a.request(Method::PUT, "/tenants/acme/role-rules")
                    .header(CONTENT_TYPE, "application/json")
                    .body(text.to_owned()),
            )
        };
        let stored = put_rules(RULES);
        assert_eq!(stored.status, 200, "{e:?}: {}", stored.text);
        assert_eq!(stored.json()["version"], 1);
        assert_eq!(put_rules(RULES).json()["version"], 2);
        let m = a.refused(
            put_rules(r#"{"version":1,"rules":[{"id":"x","condition":{"group":{"name":"A"}},"grants":[{"role":"r","scopes":{"nope":"v"}}]}],"unmatched_policy":"deny"}"#),
            400,
            "invalid_input",
        );
        assert!(m.starts_with("invalid rules"), "{e:?}: {m}");
        assert!(
            m.contains("nope"),
            "{e:?}: names the undeclared dimension: {m}"
        );
        a.refused(put_rules("not json"), 400, "invalid_input");
        let shown = a.get("/tenants/acme/role-rules");
        assert_eq!(shown["version"], 2, "{e:?}: a refused set stores nothing");
        assert_eq!(shown["rules"]["rules"][0]["id"], "india");

        // The dry run.
        let yes = a.json(
            Method::POST,
            "/tenants/acme/role-rules/explain",
            Some(json!({"groups": ["RegionalManagers-India", "Marketing"]})),
            200,
        );
        assert_eq!(yes["decision"], "granted", "{e:?}: {yes}");
        assert_eq!(
            yes["grants"],
            json!([{"role": "regional_manager", "scopes": {"market": "India"}}])
        );
        assert_eq!(yes["unmatched_groups"], json!(["Marketing"]));
        assert!(yes["explanation"].as_str().unwrap().contains("india"));
        let no = a.json(
            Method::POST,
            "/tenants/acme/role-rules/explain",
            Some(json!({"groups": ["Marketing"]})),
            200,
        );
        assert_eq!(no["decision"], "denied", "{e:?}: {no}");
        assert_eq!(no["grants"], json!([]));
        a.refuses(
            Method::POST,
            "/tenants/acme/role-rules/explain",
            json!({"groups": "Marketing"}),
            400,
            "invalid_input",
        );

        // With rules, the SCIM user's roles belong to the IdP: shown so, and hand edits refused.
        let r = a.get(&format!("/tenants/acme/users/{bob}/roles"));
        assert_eq!(r["managed_by"], "identity_provider", "{e:?}: {r}");
        let m = a.refuses(
            Method::PUT,
            &format!("/tenants/acme/users/{bob}/roles"),
            json!({"grants": []}),
            409,
            "managed_by_identity_provider",
        );
        assert!(m.contains("role mapping rules"), "{e:?}: {m}");
        assert_eq!(
            a.get(&format!("/tenants/acme/users/{bob}/roles"))["grants"],
            viewer["grants"],
            "{e:?}: the refused edit changed nothing"
        );

        // A user made by hand stays hand-granted, within the rules' dimensions.
        let grant = json!({"grants": [{"role": "billing_admin", "scopes": {"market": "India"}}]});
        let r = a.json(
            Method::PUT,
            &format!("/tenants/acme/users/{carol}/roles"),
            Some(grant.clone()),
            200,
        );
        assert_eq!(
            (&r["managed_by"], &r["grants"]),
            (&json!("admin"), &grant["grants"]),
            "{e:?}"
        );
        let m = a.refuses(
            Method::PUT,
            &format!("/tenants/acme/users/{carol}/roles"),
            viewer.clone(),
            400,
            "invalid_input",
        );
        assert!(m.starts_with("invalid grants"), "{e:?}: {m}");
        a.refuses(
            Method::PUT,
            "/tenants/acme/users/usr_nope/roles",
            json!({"grants": []}),
            404,
            "not_found",
        );

        let changed = a.audit(&format!("event_type=user.roles_changed&target={carol}"));
        assert_eq!(changed.len(), 1, "{e:?}: {changed:?}");
        assert_eq!(changed[0]["event"]["after"], grant["grants"]);
    });
}

/// The claims of a JWT (its signature is the facade tests' business).
fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

const APP_REDIRECT: &str = "https://app.example.test/callback";

#[test]
fn recovery_admins_and_single_use_recovery_links_sign_in_with_the_tenant_lifetime() {
    each(|a| {
        let e = a.engine;
        a.tenant("acme");
        let (client_id, client_secret) = a.app();
        let carol = a.hand_made_user("carol@acme.test");
        let link = json!({"user_id": carol, "client_id": client_id,
                          "redirect_uri": APP_REDIRECT, "reason": "INC-1234 IdP down"});

        let m = a.refuses(
            Method::POST,
            "/tenants/acme/recovery-links",
            link.clone(),
            400,
            "invalid_input",
        );
        assert!(m.contains("not a designated"), "{e:?}: {m}");
        assert_eq!(a.get("/tenants/acme/recovery-admins"), json!([]));
        let admin = a.json(
            Method::POST,
            "/tenants/acme/recovery-admins",
            Some(json!({"user_id": carol})),
            200,
        );
        assert_eq!(admin["email"], "carol@acme.test", "{e:?}");
        let listed = a.get("/tenants/acme/recovery-admins");
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["user_id"], carol.as_str());
        a.refuses(
            Method::POST,
            "/tenants/acme/recovery-admins",
            json!({"user_id": "usr_nope"}),
            404,
            "not_found",
        );
        for (field, bad) in [
            ("redirect_uri", json!("https://evil.example/cb")),
            ("ttl_secs", json!(5)),
            ("reason", json!("  ")),
        ] {
            let mut body = link.clone();
            body[field] = bad;
            let m = a.refuses(
                Method::POST,
                "/tenants/acme/recovery-links",
                body,
                400,
                "invalid_input",
            );
            assert!(m.contains(field), "{e:?}: {m}");
        }

        a.json(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"session_lifetime_secs": 600})),
            200,
        );
        let issued = a.send(
            a.request(Method::POST, "/tenants/acme/recovery-links")
                .json(&link),
        );
        assert_eq!(issued.status, 201, "{e:?}: {}", issued.text);
        assert_eq!(issued.header(CACHE_CONTROL), "no-store");
        let url = issued.json()["url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{}/recovery/ghb_", a.server.base)),
            "{e:?}: {url}"
        );

        // GET only shows the confirmation (a link preview must not burn it); POST uses it.
        let page = a.send(a.http.get(&url));
        assert_eq!(page.status, 200, "{e:?}");
        assert!(page.text.contains("<form method=\"post\""), "{}", page.text);
        let used = a.send(a.http.post(&url));
        assert_eq!(used.status, 303, "{e:?}: {}", used.text);
        let to = url::Url::parse(used.header(LOCATION)).unwrap();
        assert!(to.as_str().starts_with(APP_REDIRECT), "{e:?}: {to}");
        let code = to
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let again = a.send(a.http.post(&url));
        assert_eq!(again.status, 403, "{e:?}: single use");
        assert!(again.header(CONTENT_TYPE).starts_with("text/html"));
        assert!(
            !again.text.contains("recovery_link_used"),
            "{e:?}: the browser sees no reason: {}",
            again.text
        );

        // The session it opened lasts the tenant's lifetime, which is what the app is told.
        let tokens = a.send(
            a.http
                .post(format!("{}/oauth/token", a.server.base))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", APP_REDIRECT),
                    ("client_id", &client_id),
                    ("client_secret", &client_secret),
                ]),
        );
        assert_eq!(tokens.status, 200, "{e:?}: {}", tokens.text);
        let tokens = tokens.json();
        let expires_in = tokens["expires_in"].as_i64().unwrap();
        assert!((595..=600).contains(&expires_in), "{e:?}: {expires_in}");
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!((595..=600).contains(&lifetime), "{e:?}: {claims}");
        assert_eq!(claims["idp"], "recovery");

        let types: Vec<String> = a
            .audit(&format!("target={carol}"))
            .iter()
            .map(|r| r["event"]["type"].as_str().unwrap().to_owned())
            .collect();
        for t in ["breakglass.issued", "breakglass.used", "login.failed"] {
            assert_eq!(
                types.iter().filter(|x| *x == t).count(),
                1,
                "{e:?}: {t} in {types:?}"
            );
        }

        let gone = a.send(a.request(
            Method::DELETE,
            &format!("/tenants/acme/recovery-admins/{carol}"),
        ));
        assert_eq!(gone.status, 204, "{e:?}: {}", gone.text);
        let again = a.send(a.request(
            Method::DELETE,
            &format!("/tenants/acme/recovery-admins/{carol}"),
        ));
        a.refused(again, 404, "not_found");
    });
}

fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

#[test]
fn audit_query_filters_and_pages_and_export_is_jsonl_or_csv() {
    each(|a| {
        let e = a.engine;
        a.tenant("acme");
        for d in ["acme.test", "acme.example", "acme.org"] {
            a.json(
                Method::POST,
                "/tenants/acme/domains",
                Some(json!({"domain": d})),
                200,
            );
        }
        a.json(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"session_lifetime_secs": 1200})),
            200,
        );
        let carol = a.hand_made_user("carol@acme.test");

        let all = a.audit("");
        assert!(all.len() >= 6, "{e:?}: {all:?}");
        assert_eq!(
            seqs(&all),
            (1..=all.len() as u64).collect::<Vec<_>>(),
            "{e:?}: chain order, no gaps"
        );

        // The cursor: pages of two, each starting after the last seq seen, add up to the whole.
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = a.get(&format!("/tenants/acme/audit?limit=2&after_seq={after}"));
            let page = page.as_array().unwrap();
            assert!(page.len() <= 2, "{e:?}");
            let Some(last) = page.last() else { break };
            after = last["seq"].as_u64().unwrap();
            paged.extend(page.iter().cloned());
        }
        assert_eq!(paged, all, "{e:?}");

        // Filters.
        let config = a.audit("event_type=config.changed");
        assert_eq!(config.len(), 5, "{e:?}: created, three domains, lifetime");
        assert!(config
            .iter()
            .all(|r| r["event"]["type"] == "config.changed"));
        assert_eq!(a.audit("event_type=config.*"), config, "{e:?}: prefix");
        let created = a.audit("event_type=user.created");
        assert_eq!(created.len(), 1, "{e:?}");
        assert_eq!(created[0]["target"], carol.as_str());
        let about_carol = a.audit(&format!("target={carol}"));
        assert!(
            !about_carol.is_empty() && about_carol.iter().all(|r| r["target"] == carol.as_str())
        );
        let operator = format!("operator:{}", all[0]["actor"]["id"].as_str().unwrap());
        assert_eq!(all[0]["actor"]["kind"], "operator", "{e:?}");
        assert_eq!(
            a.audit(&format!("actor={operator}")).len(),
            all.len(),
            "{e:?}"
        );
        assert_eq!(a.audit("actor=operator:opt_nobody"), Vec::<Value>::new());
        assert_eq!(a.audit("from=2099-01-01T00:00:00Z"), Vec::<Value>::new());
        assert_eq!(a.audit("to=2000-01-01T00:00:00Z"), Vec::<Value>::new());
        assert_eq!(a.audit("from=2000-01-01T00:00:00Z").len(), all.len());
        assert_eq!(
            a.get("/tenants/acme/audit?event_type=config.changed&limit=2&after_seq=1")
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["seq"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            seqs(&config[1..3]),
            "{e:?}: filter and cursor together"
        );
        for bad in ["limit=many", "from=yesterday", "after_seq=-x"] {
            let r = a.send(a.request(Method::GET, &format!("/tenants/acme/audit?{bad}")));
            a.refused(r, 400, "invalid_input");
        }
        a.refused(
            a.send(a.request(Method::GET, "/tenants/globex/audit")),
            404,
            "not_found",
        );

        // Export: every matching record, as JSON Lines or CSV.
        let jsonl = a.send(a.request(Method::GET, "/tenants/acme/audit/export?format=jsonl"));
        assert_eq!(jsonl.status, 200, "{e:?}: {}", jsonl.text);
        assert_eq!(jsonl.header(CONTENT_TYPE), "application/x-ndjson");
        let lines: Vec<Value> = jsonl
            .text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The export is itself on record: it ends at its own `audit.export` admin action.
        assert_eq!(lines.len(), all.len() + 1, "{e:?}");
        assert_eq!(
            lines[..all.len()],
            all,
            "{e:?}: the stored records, in order"
        );
        assert_eq!(lines[all.len()]["event"]["type"], "admin.action", "{e:?}");
        assert_eq!(lines[all.len()]["event"]["action"], "audit.export", "{e:?}");
        let filtered = a.send(a.request(
            Method::GET,
            "/tenants/acme/audit/export?format=jsonl&event_type=config.changed",
        ));
        assert_eq!(filtered.text.lines().count(), config.len(), "{e:?}");
        let csv = a.send(a.request(Method::GET, "/tenants/acme/audit/export?format=csv"));
        assert_eq!(csv.status, 200, "{e:?}: {}", csv.text);
        assert_eq!(csv.header(CONTENT_TYPE), "text/csv; charset=utf-8");
        let rows: Vec<&str> = csv.text.lines().collect();
        assert!(
            rows[0].starts_with("tenant_id,seq,at,actor_kind,"),
            "{e:?}: {}",
            rows[0]
        );
        assert_eq!(
            rows.len(),
            1 + all.len() + 3,
            "{e:?}: a header, and one row for each record, the three exports' own included"
        );
        let tenant_id = all[0]["tenant_id"].as_str().unwrap();
        assert!(
            rows[1].starts_with(&format!("{tenant_id},1,")),
            "{e:?}: {}",
            rows[1]
        );
        let empty = a.send(a.request(
            Method::GET,
            "/tenants/acme/audit/export?format=csv&from=2099-01-01T00:00:00Z",
        ));
        assert_eq!(empty.text.lines().count(), 1, "{e:?}: only the header");
        for bad in ["format=xml", "event_type=config.changed"] {
            let r = a.send(a.request(Method::GET, &format!("/tenants/acme/audit/export?{bad}")));
            a.refused(r, 400, "invalid_input");
        }
    });
}

/// The OAuth endpoints challenge as their RFCs say: a bad bearer token at userinfo with
/// `Bearer error="invalid_token"` (RFC 6750 §3), a failed client authentication with `Basic`
/// (RFC 6749 §5.2); introspection needs the app's secret and the `token` parameter (RFC 7662).
#[test]
fn oauth_endpoints_challenge_and_require_what_their_rfcs_say() {
    each(|a| {
        let e = a.engine;
        let (client_id, client_secret) = a.app();
        let oauth = |path: &str| format!("{}/oauth/{path}", a.server.base);

        let userinfo = a.send(a.http.get(oauth("userinfo")).bearer_auth("gha_nope"));
        assert_eq!(userinfo.status, 401, "{e:?}: {}", userinfo.text);
        assert_eq!(
            userinfo.header(WWW_AUTHENTICATE),
            "Bearer error=\"invalid_token\"",
            "{e:?}"
        );
        // No token at all: a bare challenge, no error code (RFC 6750 §3.1).
        let anonymous = a.send(a.http.get(oauth("userinfo")));
        assert_eq!(anonymous.status, 401, "{e:?}");
        assert_eq!(
            anonymous.header(WWW_AUTHENTICATE),
            "Bearer realm=\"gatehouse\"",
            "{e:?}"
        );

        let bad_client = a.send(
            a.http
                .post(oauth("token"))
                .basic_auth(&client_id, Some("wrong"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", "ghc_x"),
                    ("redirect_uri", APP_REDIRECT),
                ]),
        );
        assert_eq!(bad_client.status, 401, "{e:?}: {}", bad_client.text);
        assert_eq!(
            bad_client.header(WWW_AUTHENTICATE),
            "Basic realm=\"gatehouse\""
        );
        // No secret and no verifier: the confidential app is told to authenticate.
        let no_secret = a.send(a.http.post(oauth("token")).form(&[
            ("grant_type", "authorization_code"),
            ("code", "ghc_x"),
            ("redirect_uri", APP_REDIRECT),
            ("client_id", &client_id),
        ]));
        assert_eq!(no_secret.status, 401, "{e:?}: {}", no_secret.text);
        assert_eq!(no_secret.json()["error"], "invalid_client", "{e:?}");

        let introspect = |form: &[(&str, &str)]| {
            a.send(
                a.http
                    .post(oauth("introspect"))
                    .basic_auth(&client_id, Some(&client_secret))
                    .form(form),
            )
        };
        let no_token = introspect(&[("token_type_hint", "access_token")]);
        assert_eq!(no_token.status, 400, "{e:?}: {}", no_token.text);
        assert_eq!(no_token.json()["error"], "invalid_request", "{e:?}");
        let id_only = a.send(
            a.http
                .post(oauth("introspect"))
                .form(&[("token", "gha_x"), ("client_id", &client_id)]),
        );
        assert_eq!(id_only.status, 401, "{e:?}: {}", id_only.text);
        assert_eq!(id_only.json()["error"], "invalid_client", "{e:?}");
        let unknown = introspect(&[("token", "gha_x")]);
        assert_eq!(unknown.status, 200, "{e:?}: {}", unknown.text);
        assert_eq!(unknown.json(), json!({"active": false}), "{e:?}");
    });
}

/// A NUL character that reaches the database (PostgreSQL's `text` cannot store it) is the
/// caller's error, answered `400 invalid_input`, never a `503` as if the database were down.
/// SQLite stores it, so there the same requests simply find nothing (or an empty page).
#[test]
fn nul_characters_are_the_callers_error_never_an_outage() {
    each(|a| {
        let e = a.engine;
        a.tenant("acme");
        for path in [
            "/tenants/%00",
            "/tenants/%00/seats",
            "/saml-connections/%00",
            "/tenants/acme/audit?event_type=x%00",
        ] {
            let r = a.send(a.request(Method::GET, path));
            match e {
                Engine::Postgres => {
                    a.refused(r, 400, "invalid_input");
                }
                Engine::Sqlite => {
                    assert!(
                        [200, 400, 404].contains(&r.status),
                        "{e:?}: {path}: {}",
                        r.text
                    )
                }
            }
        }
    });
}

/// Names and ids an operator sends are bounded and free of control characters, each refusal
/// naming its field. Found by an abuse run: a 100,000-character `client_id` was accepted and
/// its audit record was too large to read back, which stopped every later global operation
/// (key rotation, app registration) that appends to the same chain.
#[test]
fn oversized_or_control_character_names_are_refused_and_global_operations_go_on() {
    each(|a| {
        let e = a.engine;
        let cases = [
            (
                json!({"name": "App", "redirect_uris": [APP_REDIRECT], "client_id": "a".repeat(100_000)}),
                "client_id",
            ),
            (
                json!({"name": "a".repeat(100_000), "redirect_uris": [APP_REDIRECT]}),
                "name",
            ),
            (
                json!({"name": "A\u{0}pp", "redirect_uris": [APP_REDIRECT]}),
                "name",
            ),
            (
                json!({"name": "App", "redirect_uris": [APP_REDIRECT], "client_secret": "s".repeat(300)}),
                "client_secret",
            ),
        ];
        for (body, field) in cases {
            let m = a.refuses(Method::POST, "/clients", body, 400, "invalid_input");
            assert!(m.contains(field), "{e:?}: {m}");
        }
        let m = a.refuses(
            Method::POST,
            "/tenants",
            json!({"slug": "nul", "display_name": "a\u{0}b"}),
            400,
            "invalid_input",
        );
        assert!(m.contains("display_name"), "{e:?}: {m}");
        a.json(Method::POST, "/keys/rotate", None, 200);
        a.app();
    });
}

/// Routes whose body may be left out refuse a body they cannot read instead of applying their
/// defaults (found by an abuse run: `{"overlap_secs": "86400"}` rotated a secret with no
/// overlap at all, ending the old one at once).
#[test]
fn an_optional_body_that_does_not_parse_is_refused_not_ignored() {
    each(|a| {
        let e = a.engine;
        let (client_id, _) = a.app();
        let path = format!("/clients/{client_id}/rotate-secret");
        for bad in [
            json!({"overlap_secs": "86400"}),
            json!({"overlap_secs": true}),
        ] {
            a.refuses(Method::POST, &path, bad, 400, "invalid_input");
        }
        let garbage = a.send(a.request(Method::POST, &path).body("{not json"));
        a.refused(garbage, 400, "invalid_input");
        // Left out, or empty: the defaults.
        let rotated = a.send(a.request(Method::POST, &path));
        assert_eq!(rotated.status, 200, "{e:?}: {}", rotated.text);
        a.json(Method::POST, &path, Some(json!({"overlap_secs": 60})), 200);
    });
}
