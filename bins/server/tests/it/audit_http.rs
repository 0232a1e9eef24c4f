//! The audit API over real HTTP against the `gatehouse-server` binary, on SQLite and PostgreSQL:
//! an export is recorded as the operator's `admin.action` and ends with that record, and
//! `/audit/verify` names a record whose indexed column was edited in the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use crate::support::{operator_token, Server};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use storage::testing::{TestDatabase, ENGINES};

#[test]
fn an_api_export_is_recorded_as_the_operators_admin_action_and_verify_sees_edited_columns() {
    for engine in ENGINES {
        let db = TestDatabase::new(engine).unwrap();
        let op = operator_token(&db, "http://127.0.0.1:1");
        let server = Server::start(&db.url, 0, None, &[]);
        let http = Client::new();
        let admin = |path: &str| format!("{}/admin/v1{path}", server.base);
        let created: Value = http
            .post(admin("/tenants"))
            .bearer_auth(&op)
            .json(&json!({"slug": "acme", "display_name": "Acme"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let tenant_id = created["id"].as_str().unwrap();

        let r = http
            .get(admin(
                "/tenants/acme/audit/export?format=jsonl&event_type=config.*",
            ))
            .bearer_auth(&op)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{engine:?}");
        let lines: Vec<Value> = r
            .text()
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The filter keeps the export's own record out of this export; it is in the chain.
        assert_eq!(lines.len(), 1, "{engine:?}");
        let operator = lines[0]["actor"].clone();
        assert!(
            operator["id"].as_str().unwrap().starts_with("opt_"),
            "{operator}"
        );
        let records: Value = http
            .get(admin("/tenants/acme/audit?event_type=admin.action"))
            .bearer_auth(&op)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            records.as_array().unwrap().len(),
            1,
            "{engine:?}: {records}"
        );
        let own = &records[0];
        assert_eq!(own["seq"], 2);
        assert_eq!(own["actor"], operator, "the token that exported");
        assert_eq!(
            own["event"],
            json!({
                "type": "admin.action",
                "action": "audit.export",
                "summary": r#"{"format":"jsonl","type":"config.*"}"#,
            })
        );

        let verify = |http: &Client| -> Value {
            http.get(admin("/tenants/acme/audit/verify"))
                .bearer_auth(&op)
                .send()
                .unwrap()
                .json()
                .unwrap()
        };
        assert_eq!(verify(&http), json!({"intact": true, "records": 2}));
        db.execute(&format!(
            "UPDATE audit_log SET event_type = 'login.failed' \
             WHERE tenant_id = '{tenant_id}' AND seq = 2"
        ))
        .unwrap();
        let report = verify(&http);
        assert_eq!(report["intact"], false, "{engine:?}: {report}");
        assert_eq!(report["first_broken_seq"], 2, "{engine:?}: {report}");
        assert!(
            report["reason"]
                .as_str()
                .unwrap()
                .contains("column event_type"),
            "{report}"
        );
    }
}
