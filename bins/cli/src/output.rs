//! Human-readable rendering of facade values: aligned tables for lists, `key: value` blocks for
//! single objects. `--json` bypasses all of this and prints the facade's serde JSON.

use gatehouse::{ClientView, OperatorTokenView, SamlConnectionView, SigningKeyView, TenantView};
use std::io::Write;

/// Write `text` (plus a newline) to standard output. A closed pipe (`gatehouse ... | head`) is
/// not an error worth reporting: the reader has what it wanted.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Print `value` as pretty JSON.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// A warning for the operator on standard error (kept off stdout so scripts can capture output).
pub fn warn(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
}

/// Columns padded to their widest cell; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            } else {
                out.push_str(cell);
            }
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![line(&mut headers.iter().copied())];
    for row in rows {
        lines.push(line(&mut row.iter().map(String::as_str)));
    }
    lines.join("\n")
}

/// `key: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}:{}{v}", " ".repeat(width - k.len() + 1)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

fn list_or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.join(", ")
    }
}

/// One tenant.
pub fn tenant(t: &TenantView) -> String {
    fields(&[
        ("id", t.id.clone()),
        ("slug", t.slug.clone()),
        ("name", t.display_name.clone()),
        ("external id", or_dash(t.external_id.as_deref())),
        ("domains", list_or_dash(&t.domains)),
        ("session lifetime", format!("{} s", t.session_lifetime_secs)),
        ("created", t.created_at.clone()),
    ])
}

/// Every tenant.
pub fn tenants(list: &[TenantView]) -> String {
    if list.is_empty() {
        return "no tenants".to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.slug.clone(),
                t.id.clone(),
                t.display_name.clone(),
                list_or_dash(&t.domains),
            ]
        })
        .collect();
    table(&["SLUG", "ID", "NAME", "DOMAINS"], &rows)
}

/// Days left in words, flagging certificates that need attention soon.
fn days_left(days: i64) -> String {
    match days {
        d if d < 0 => format!("EXPIRED {} days ago", -d),
        d if d < 30 => format!("{d} days left — renew soon"),
        d => format!("{d} days left"),
    }
}

/// One connection, including each IdP certificate's expiry.
pub fn connection(c: &SamlConnectionView) -> String {
    let mut pairs = vec![
        ("id", c.id.clone()),
        ("tenant", c.tenant_id.clone()),
        ("name", c.name.clone()),
        ("enabled", yes_no(c.enabled)),
        ("vendor", c.vendor.clone()),
        ("idp entity id", c.idp_entity_id.clone()),
        ("idp sso url", c.sso_url.clone()),
        ("sso binding", c.sso_binding.as_str().to_owned()),
        ("idp slo url", or_dash(c.slo_url.as_deref())),
        ("metadata url", or_dash(c.metadata_url.as_deref())),
        ("sp entity id", c.sp_entity_id.clone()),
        ("acs url", c.acs_url.clone()),
        ("sp metadata url", c.sp_metadata_url.clone()),
        ("sign requests", yes_no(c.sign_requests)),
        ("just-in-time users", yes_no(c.jit_enabled)),
        ("idp-initiated", yes_no(c.allow_idp_initiated)),
        ("default client", or_dash(c.default_client_id.as_deref())),
        (
            "default redirect",
            or_dash(c.default_redirect_uri.as_deref()),
        ),
    ];
    for cert in &c.idp_certificates {
        pairs.push(("certificate", cert.subject.clone()));
        pairs.push((
            "  expires",
            format!("{} ({})", cert.not_after, days_left(cert.expires_in_days)),
        ));
        pairs.push(("  sha256", cert.sha256_fingerprint.clone()));
    }
    fields(&pairs)
}

/// A tenant's connections.
pub fn connections(list: &[SamlConnectionView]) -> String {
    if list.is_empty() {
        return "no SAML connections".to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let soonest = c.idp_certificates.iter().map(|x| x.expires_in_days).min();
            vec![
                c.id.clone(),
                c.name.clone(),
                if c.enabled { "enabled" } else { "disabled" }.to_owned(),
                c.vendor.clone(),
                soonest.map_or("-".to_owned(), days_left),
                c.idp_entity_id.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "STATE",
            "VENDOR",
            "CERTIFICATE",
            "IDP ENTITY ID",
        ],
        &rows,
    )
}

fn yes_no(v: bool) -> String {
    if v { "yes" } else { "no" }.to_owned()
}

/// One app.
pub fn client(c: &ClientView) -> String {
    fields(&[
        ("client_id", c.client_id.clone()),
        ("name", c.name.clone()),
        (
            "type",
            if c.public { "public" } else { "confidential" }.to_owned(),
        ),
        ("redirect uris", list_or_dash(&c.redirect_uris)),
        (
            "backchannel logout",
            or_dash(c.backchannel_logout_uri.as_deref()),
        ),
    ])
}

/// Every app.
pub fn clients(list: &[ClientView]) -> String {
    if list.is_empty() {
        return "no clients".to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.client_id.clone(),
                c.name.clone(),
                if c.public { "public" } else { "confidential" }.to_owned(),
                c.redirect_uris.join(" "),
            ]
        })
        .collect();
    table(&["CLIENT_ID", "NAME", "TYPE", "REDIRECT URIS"], &rows)
}

/// Operator tokens (never their secrets: the facade does not have them).
pub fn operator_tokens(list: &[OperatorTokenView]) -> String {
    if list.is_empty() {
        return "no operator tokens".to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.name.clone(),
                t.created_at.clone(),
                if t.revoked { "revoked" } else { "active" }.to_owned(),
            ]
        })
        .collect();
    table(&["ID", "NAME", "CREATED", "STATE"], &rows)
}

/// Signing keys.
pub fn signing_keys(list: &[SigningKeyView]) -> String {
    if list.is_empty() {
        return "no signing keys (the server creates one at start; or run `gatehouse keys rotate`)"
            .to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.created_at.clone(),
                if k.active { "active" } else { "retired" }.to_owned(),
                or_dash(k.publish_until.as_deref()),
            ]
        })
        .collect();
    table(&["KID", "CREATED", "STATE", "PUBLISHED UNTIL"], &rows)
}

/// Audit records as a table; `event` holds each record's serialized event (its `type` plus the
/// event's own fields, shown as `key=value`).
pub fn audit_records(rows: &[(u64, String, String, Option<String>, serde_json::Value)]) -> String {
    if rows.is_empty() {
        return "no matching events".to_owned();
    }
    let rendered: Vec<Vec<String>> = rows
        .iter()
        .map(|(seq, at, actor, target, event)| {
            let kind = event
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("?")
                .to_owned();
            let details = match event {
                serde_json::Value::Object(map) => map
                    .iter()
                    .filter(|(k, _)| k.as_str() != "type")
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            vec![
                seq.to_string(),
                at.clone(),
                kind,
                actor.clone(),
                or_dash(target.as_deref()),
                details,
            ]
        })
        .collect();
    table(
        &["SEQ", "AT", "TYPE", "ACTOR", "TARGET", "DETAILS"],
        &rendered,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};
    use serde_json::json;

    fn check(actual: &str, expected: Expect) {
        expected.assert_eq(actual);
    }

    fn acme() -> TenantView {
        serde_json::from_value(json!({
            "id": "ten_0001", "slug": "acme", "display_name": "Acme Corp", "external_id": null,
            "domains": ["acme.test", "acme.example"], "session_lifetime_secs": 900,
            "created_at": "2026-11-23T10:00:00+00:00"
        }))
        .unwrap()
    }

    fn connection_view() -> SamlConnectionView {
        serde_json::from_value(json!({
            "id": "conn_0001", "tenant_id": "ten_0001", "name": "Okta production",
            "enabled": false, "vendor": "okta",
            "idp_entity_id": "http://www.okta.com/exk1", "sso_url": "https://acme.okta.test/sso",
            "sso_binding": "post", "slo_url": null,
            "idp_certificates": [
                { "subject": "CN=old", "not_after": "2026-12-01T00:00:00+00:00",
                  "expires_in_days": 7, "sha256_fingerprint": "AA:BB" },
                { "subject": "CN=new", "not_after": "2029-12-01T00:00:00+00:00",
                  "expires_in_days": 1103, "sha256_fingerprint": "CC:DD" }
            ],
            "sp_entity_id": "https://sso.test/saml/conn_0001/metadata",
            "acs_url": "https://sso.test/saml/conn_0001/acs",
            "sp_metadata_url": "https://sso.test/saml/conn_0001/metadata",
            "sign_requests": true, "jit_enabled": true, "allow_idp_initiated": false,
            "default_client_id": null, "default_redirect_uri": null,
            "attribute_mapping": { "subject": "name_id", "email": "email", "groups": ["groups"] },
            "metadata_url": null
        }))
        .unwrap()
    }

    #[test]
    fn tenant_block() {
        check(
            &tenant(&acme()),
            expect![[r#"
            id:               ten_0001
            slug:             acme
            name:             Acme Corp
            external id:      -
            domains:          acme.test, acme.example
            session lifetime: 900 s
            created:          2026-11-23T10:00:00+00:00"#]],
        );
    }

    #[test]
    fn tenant_table() {
        let mut other = acme();
        other.slug = "globex-international".into();
        other.id = "ten_0002".into();
        other.domains.clear();
        check(
            &tenants(&[acme(), other]),
            expect![[r#"
            SLUG                  ID        NAME       DOMAINS
            acme                  ten_0001  Acme Corp  acme.test, acme.example
            globex-international  ten_0002  Acme Corp  -"#]],
        );
        check(&tenants(&[]), expect!["no tenants"]);
    }

    #[test]
    fn connection_block_shows_every_certificate_expiry() {
        check(
            &connection(&connection_view()),
            expect![[r#"
                id:                 conn_0001
                tenant:             ten_0001
                name:               Okta production
                enabled:            no
                vendor:             okta
                idp entity id:      http://www.okta.com/exk1
                idp sso url:        https://acme.okta.test/sso
                sso binding:        post
                idp slo url:        -
                metadata url:       -
                sp entity id:       https://sso.test/saml/conn_0001/metadata
                acs url:            https://sso.test/saml/conn_0001/acs
                sp metadata url:    https://sso.test/saml/conn_0001/metadata
                sign requests:      yes
                just-in-time users: yes
                idp-initiated:      no
                default client:     -
                default redirect:   -
                certificate:        CN=old
                  expires:          2026-12-01T00:00:00+00:00 (7 days left — renew soon)
                  sha256:           AA:BB
                certificate:        CN=new
                  expires:          2029-12-01T00:00:00+00:00 (1103 days left)
                  sha256:           CC:DD"#]],
        );
    }

    #[test]
    fn connection_table_shows_the_soonest_expiry() {
        check(
            &connections(&[connection_view()]),
            expect![[r#"
            ID         NAME             STATE     VENDOR  CERTIFICATE               IDP ENTITY ID
            conn_0001  Okta production  disabled  okta    7 days left — renew soon  http://www.okta.com/exk1"#]],
        );
    }

    #[test]
    fn audit_table() {
        let rows = vec![
            (
                7,
                "2026-11-23T10:00:00Z".to_owned(),
                "anonymous:browser".to_owned(),
                Some("conn_0001".to_owned()),
                json!({ "type": "login.failed", "reason_code": "signature_invalid", "connection_id": "conn_0001" }),
            ),
            (
                8,
                "2026-11-23T10:00:05Z".to_owned(),
                "user:usr_1".to_owned(),
                None,
                json!({ "type": "login.succeeded", "amr": ["pwd", "mfa"] }),
            ),
        ];
        check(
            &audit_records(&rows),
            expect![[r#"
            SEQ  AT                    TYPE             ACTOR              TARGET     DETAILS
            7    2026-11-23T10:00:00Z  login.failed     anonymous:browser  conn_0001  connection_id=conn_0001 reason_code=signature_invalid
            8    2026-11-23T10:00:05Z  login.succeeded  user:usr_1         -          amr=["pwd","mfa"]"#]],
        );
    }

    #[test]
    fn table_pads_every_column_but_the_last() {
        let t = table(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["wide cell".into(), "x".into(), "last".into()],
                vec!["y".into(), "".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "A          LONG HEADER  C\nwide cell  x            last\ny"
        );
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(
            fields(&[("id", "1".into()), ("longer", "2".into())]),
            "id:     1\nlonger: 2"
        );
    }

    #[test]
    fn certificate_expiry_is_spelled_out() {
        assert_eq!(days_left(400), "400 days left");
        assert_eq!(days_left(3), "3 days left — renew soon");
        assert_eq!(days_left(-2), "EXPIRED 2 days ago");
    }
}
