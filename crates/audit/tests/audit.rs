//! Wire-format goldens, chain verification and tamper detection, exports, the in-memory sink.
// Test helpers outside `#[test]` fns: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::panic)]

use audit::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use expect_test::{expect, Expect};
use std::collections::BTreeMap;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// One event of every type, in `AuditEvent::TYPES` order.
fn sample_events() -> Vec<AuditEvent> {
    let grant = |role: &str, scopes: &[(&str, &str)]| AuditGrant {
        role: role.into(),
        scopes: scopes
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect::<BTreeMap<_, _>>(),
    };
    vec![
        AuditEvent::LoginSucceeded {
            connection_id: "conn_okta".into(),
            subject: "alice@acme.com".into(),
            user_id: "u_1".into(),
            session_id: "s_1".into(),
            amr: vec!["pwd".into()],
        },
        AuditEvent::LoginFailed {
            reason_code: "signature_invalid".into(),
            connection_id: "conn_okta".into(),
            subject: None,
        },
        AuditEvent::SessionCreated {
            session_id: "s_1".into(),
            user_id: "u_1".into(),
            expires_at: t0() + Duration::hours(8),
        },
        AuditEvent::SessionRefreshed {
            session_id: "s_1".into(),
            expires_at: t0() + Duration::hours(9),
        },
        AuditEvent::SessionTerminated {
            session_id: "s_1".into(),
            reason: SessionEndReason::IdpLogout,
        },
        AuditEvent::UserCreated {
            user_id: "u_1".into(),
            source: ChangeSource::Jit,
        },
        AuditEvent::UserUpdated {
            user_id: "u_1".into(),
            source: ChangeSource::Scim,
            changed_fields: vec!["family_name".into(), "email".into()],
        },
        AuditEvent::UserDeactivated {
            user_id: "u_1".into(),
            source: ChangeSource::Scim,
        },
        AuditEvent::UserReactivated {
            user_id: "u_1".into(),
            source: ChangeSource::Admin,
        },
        AuditEvent::UserDeleted {
            user_id: "u_1".into(),
            source: ChangeSource::System,
        },
        AuditEvent::UserRolesChanged {
            user_id: "u_1".into(),
            before: vec![grant("sales_representative", &[("market", "India")])],
            after: vec![
                grant("regional_manager", &[("market", "India")]),
                grant("super_administrator", &[]),
            ],
            ruleset_version: Some(7),
        },
        AuditEvent::ScimOperation {
            directory_id: "dir_1".into(),
            token_id: "tok_1".into(),
            method: "PATCH".into(),
            resource_type: "User".into(),
            resource_id: Some("u_1".into()),
            status: 200,
            summary: "replace active=false".into(),
        },
        AuditEvent::ConfigChanged {
            object_type: "role_rules".into(),
            object_id: "rules_acme".into(),
            action: ConfigAction::Updated,
            summary: "version 6 -> 7".into(),
        },
        AuditEvent::BreakglassIssued {
            credential_id: "bg_1".into(),
            user_id: "u_admin".into(),
            expires_at: t0() + Duration::minutes(30),
            reason: "IdP outage INC-42".into(),
        },
        AuditEvent::BreakglassUsed {
            credential_id: "bg_1".into(),
            user_id: "u_admin".into(),
            session_id: "s_9".into(),
        },
        AuditEvent::AdminAction {
            action: "audit.export".into(),
            summary: "csv, 2026-11".into(),
        },
        AuditEvent::LogoutFailed {
            reason_code: "bad_signature".into(),
            connection_id: "conn_okta".into(),
        },
    ]
}

fn draft(tenant: &str, event: AuditEvent) -> AuditDraft {
    AuditDraft {
        tenant_id: tenant.into(),
        actor: Actor {
            kind: ActorKind::Operator,
            id: "op_1".into(),
        },
        target: Some("u_1".into()),
        correlation_id: "req-1".into(),
        event,
    }
}

fn chain_of(events: Vec<AuditEvent>) -> Vec<AuditRecord> {
    let mut chain: Vec<AuditRecord> = Vec::new();
    for (i, event) in events.into_iter().enumerate() {
        let at = t0() + Duration::seconds(i as i64) + Duration::nanoseconds(123_456_789);
        let record = ChainBuilder::append(chain.last(), draft("acme", event), at).unwrap();
        chain.push(record);
    }
    chain
}

#[test]
fn every_event_type_serializes_as_pinned() {
    let events = sample_events();
    let tags: Vec<&str> = events.iter().map(AuditEvent::event_type).collect();
    assert_eq!(tags, AuditEvent::TYPES, "one sample per type, in order");
    let mut doc = String::new();
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(
            json["type"],
            event.event_type(),
            "serde tag and event_type() agree"
        );
        let back: AuditEvent = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, event);
        doc.push_str(&serde_json::to_string(event).unwrap());
        doc.push('\n');
    }
    expect![[r#"
        {"type":"login.succeeded","connection_id":"conn_okta","subject":"alice@acme.com","user_id":"u_1","session_id":"s_1","amr":["pwd"]}
        {"type":"login.failed","reason_code":"signature_invalid","connection_id":"conn_okta","subject":null}
        {"type":"session.created","session_id":"s_1","user_id":"u_1","expires_at":"2026-11-23T18:00:00.000000Z"}
        {"type":"session.refreshed","session_id":"s_1","expires_at":"2026-11-23T19:00:00.000000Z"}
        {"type":"session.terminated","session_id":"s_1","reason":"idp_logout"}
        {"type":"user.created","user_id":"u_1","source":"jit"}
        {"type":"user.updated","user_id":"u_1","source":"scim","changed_fields":["family_name","email"]}
        {"type":"user.deactivated","user_id":"u_1","source":"scim"}
        {"type":"user.reactivated","user_id":"u_1","source":"admin"}
        {"type":"user.deleted","user_id":"u_1","source":"system"}
        {"type":"user.roles_changed","user_id":"u_1","before":[{"role":"sales_representative","scopes":{"market":"India"}}],"after":[{"role":"regional_manager","scopes":{"market":"India"}},{"role":"super_administrator","scopes":{}}],"ruleset_version":7}
        {"type":"scim.operation","directory_id":"dir_1","token_id":"tok_1","method":"PATCH","resource_type":"User","resource_id":"u_1","status":200,"summary":"replace active=false"}
        {"type":"config.changed","object_type":"role_rules","object_id":"rules_acme","action":"updated","summary":"version 6 -> 7"}
        {"type":"breakglass.issued","credential_id":"bg_1","user_id":"u_admin","expires_at":"2026-11-23T10:30:00.000000Z","reason":"IdP outage INC-42"}
        {"type":"breakglass.used","credential_id":"bg_1","user_id":"u_admin","session_id":"s_9"}
        {"type":"admin.action","action":"audit.export","summary":"csv, 2026-11"}
        {"type":"logout.failed","reason_code":"bad_signature","connection_id":"conn_okta"}
    "#]].assert_eq(&doc);
}

#[test]
fn record_wire_form_canonical_bytes_and_hash_are_pinned() {
    let chain = chain_of(sample_events()[..2].to_vec());
    let r = &chain[1];
    expect![[r#"{"tenant_id":"acme","seq":2,"at":"2026-11-23T10:00:01.123456Z","actor":{"kind":"operator","id":"op_1"},"target":"u_1","correlation_id":"req-1","event":{"type":"login.failed","reason_code":"signature_invalid","connection_id":"conn_okta","subject":null},"schema_version":3,"prev_hash":"5a801e453420e0a4b0a6724cd7bdc26850df92a0c03917a28b7f59eb4ac1c0b4","hash":"82019b6cb9e823fc42cfa0cb093d1a6c41097b7ffc7f49081836eff0f1677958"}"#]].assert_eq(&r.to_json().unwrap());
    expect![[r#"{"actor":{"id":"op_1","kind":"operator"},"at":"2026-11-23T10:00:01.123456Z","correlation_id":"req-1","event":{"connection_id":"conn_okta","reason_code":"signature_invalid","subject":null,"type":"login.failed"},"prev_hash":"5a801e453420e0a4b0a6724cd7bdc26850df92a0c03917a28b7f59eb4ac1c0b4","schema_version":3,"seq":2,"target":"u_1","tenant_id":"acme"}"#]].assert_eq(&String::from_utf8(r.canonical_bytes().unwrap()).unwrap());
    assert_eq!(chain[0].prev_hash, GENESIS_HASH);
    assert_eq!(r.prev_hash, chain[0].hash);
    assert_eq!(r.hash.len(), 64);
    assert_eq!(
        r.at.timestamp_subsec_nanos(),
        123_456_000,
        "truncated to microseconds"
    );
}

#[test]
fn chain_verifies_and_survives_a_json_round_trip() {
    let chain = chain_of(sample_events());
    assert_eq!(verify_chain(&chain), Ok(()));
    assert_eq!(verify_chain(&[] as &[AuditRecord]), Ok(()));
    let reparsed: Vec<AuditRecord> = chain
        .iter()
        .map(|r| AuditRecord::from_json(&r.to_json().unwrap()).unwrap())
        .collect();
    assert_eq!(reparsed, chain);
    assert_eq!(verify_chain(&reparsed), Ok(()));
    assert_eq!(verify_chain_from(&chain[4], &chain[5..]), Ok(()));
    assert_eq!(
        verify_chain_from(&chain[4], &chain[6..]),
        Err(ChainBreak {
            seq: 7,
            reason: BreakReason::Gap { expected: 6 }
        })
    );
}

type Mutation = (&'static str, fn(&mut AuditRecord));

/// Every field of a record, each edited in a way a forger might try.
const MUTATIONS: &[Mutation] = &[
    ("tenant_id", |r| r.tenant_id.push('x')),
    ("seq", |r| r.seq += 1),
    ("at", |r| r.at += Duration::microseconds(1)),
    ("actor.kind", |r| r.actor.kind = ActorKind::System),
    ("actor.id", |r| r.actor.id = "op_2".into()),
    ("target", |r| r.target = None),
    ("correlation_id", |r| r.correlation_id = "req-2".into()),
    ("event", |r| {
        r.event = AuditEvent::AdminAction {
            action: "x".into(),
            summary: String::new(),
        }
    }),
    ("schema_version", |r| r.schema_version += 1),
    ("prev_hash", |r| {
        r.prev_hash = GENESIS_HASH.replace('0', "1")
    }),
    ("hash", |r| r.hash = GENESIS_HASH.into()),
];

#[test]
fn tampering_any_field_of_any_record_is_detected_at_that_record() {
    let chain = chain_of(sample_events());
    let mut report = String::new();
    for (field, mutate) in MUTATIONS {
        let mut seen = Vec::new();
        for i in 0..chain.len() {
            let mut forged = chain.clone();
            mutate(&mut forged[i]);
            let err = verify_chain(&forged).unwrap_err();
            assert_eq!(err.seq, forged[i].seq, "{field} at index {i}");
            seen.push(format!("{:?}", err.reason));
        }
        seen.dedup();
        report.push_str(&format!("{field}: {}\n", seen.join(" | ")));
    }
    expect![[r#"
        tenant_id: HashMismatch | TenantChanged
        seq: NotGenesis | Gap { expected: 2 } | Gap { expected: 3 } | Gap { expected: 4 } | Gap { expected: 5 } | Gap { expected: 6 } | Gap { expected: 7 } | Gap { expected: 8 } | Gap { expected: 9 } | Gap { expected: 10 } | Gap { expected: 11 } | Gap { expected: 12 } | Gap { expected: 13 } | Gap { expected: 14 } | Gap { expected: 15 } | Gap { expected: 16 } | Gap { expected: 17 }
        at: HashMismatch
        actor.kind: HashMismatch
        actor.id: HashMismatch
        target: HashMismatch
        correlation_id: HashMismatch
        event: HashMismatch
        schema_version: UnsupportedSchemaVersion { found: 4 }
        prev_hash: NotGenesis | PrevHashMismatch
        hash: HashMismatch
    "#]].assert_eq(&report);
}

#[test]
fn rehashing_an_edited_record_breaks_the_next_link() {
    let mut chain = chain_of(sample_events());
    chain[3].correlation_id = "forged".into();
    chain[3].hash = chain[3].compute_hash().unwrap();
    assert_eq!(
        verify_chain(&chain),
        Err(ChainBreak {
            seq: 5,
            reason: BreakReason::PrevHashMismatch
        })
    );
}

#[test]
fn missing_reordered_duplicated_and_foreign_records_are_named() {
    let chain = chain_of(sample_events());
    let check = |records: Vec<&AuditRecord>, expected: Expect| {
        expected.assert_eq(&format!("{:?}", verify_chain(records)));
    };
    let all: Vec<&AuditRecord> = chain.iter().collect();

    let mut missing = all.clone();
    missing.remove(5);
    check(
        missing,
        expect!["Err(ChainBreak { seq: 7, reason: Gap { expected: 6 } })"],
    );

    let mut swapped = all.clone();
    swapped.swap(7, 8);
    check(
        swapped,
        expect!["Err(ChainBreak { seq: 9, reason: Gap { expected: 8 } })"],
    );

    let mut duplicated = all.clone();
    duplicated.insert(3, all[2]);
    check(
        duplicated,
        expect!["Err(ChainBreak { seq: 3, reason: OutOfOrder { expected: 4 } })"],
    );

    check(
        all[1..].to_vec(),
        expect!["Err(ChainBreak { seq: 2, reason: NotGenesis })"],
    );

    let other = chain_of(sample_events()[..3].to_vec())
        .into_iter()
        .map(|mut r| {
            r.tenant_id = "globex".into();
            r
        })
        .collect::<Vec<_>>();
    check(
        vec![all[0], &other[1]],
        expect!["Err(ChainBreak { seq: 2, reason: TenantChanged })"],
    );
}

#[test]
fn append_refuses_another_tenants_head() {
    let chain = chain_of(sample_events()[..1].to_vec());
    let err = ChainBuilder::append(
        Some(&chain[0]),
        draft("globex", sample_events()[0].clone()),
        t0(),
    )
    .unwrap_err();
    assert!(matches!(err, AuditError::TenantMismatch { .. }), "{err:?}");
    let mut last = chain[0].clone();
    last.seq = u64::MAX;
    let err = ChainBuilder::append(Some(&last), draft("acme", sample_events()[0].clone()), t0())
        .unwrap_err();
    assert!(matches!(err, AuditError::SeqOverflow), "{err:?}");
}

/// What `append` seals, `from_json` reads back: a record over the bound is refused when it is
/// made, because the newest record is read as its successor's predecessor and an unreadable one
/// would stop the chain.
#[test]
fn append_refuses_a_record_it_could_not_read_back() {
    let huge = AuditEvent::AdminAction {
        action: "note".into(),
        summary: "a".repeat(MAX_RECORD_BYTES),
    };
    let err = ChainBuilder::append(None, draft("acme", huge), t0()).unwrap_err();
    assert!(matches!(err, AuditError::TooLarge { .. }), "{err:?}");
    let fits = AuditEvent::AdminAction {
        action: "note".into(),
        summary: "a".repeat(MAX_RECORD_BYTES / 2),
    };
    let sealed = ChainBuilder::append(None, draft("acme", fits), t0()).unwrap();
    assert_eq!(
        AuditRecord::from_json(&sealed.to_json().unwrap()).unwrap(),
        sealed
    );
}

#[test]
fn parsing_is_bounded_and_never_panics() {
    let big = format!("\"{}\"", "a".repeat(MAX_RECORD_BYTES));
    assert!(matches!(
        AuditRecord::from_json(&big),
        Err(AuditError::TooLarge { .. })
    ));
    let deep = "[".repeat(10_000);
    for junk in [
        "",
        "{}",
        "null",
        deep.as_str(),
        r#"{"type":"login.unknown"}"#,
    ] {
        assert!(
            matches!(AuditRecord::from_json(junk), Err(AuditError::Parse { .. })),
            "{junk:?}"
        );
    }
    // Fields no hash covers are refused, at the record and at the event level.
    let chain = chain_of(sample_events()[..1].to_vec());
    let json = chain[0].to_json().unwrap();
    for extra in [
        json.replacen("{\"tenant_id\"", "{\"note\":1,\"tenant_id\"", 1),
        json.replacen("{\"type\"", "{\"password\":\"x\",\"type\"", 1),
        json.replacen("\"kind\"", "\"extra\":0,\"kind\"", 1),
    ] {
        assert_ne!(extra, json);
        assert!(
            matches!(
                AuditRecord::from_json(&extra),
                Err(AuditError::Parse { .. })
            ),
            "{extra}"
        );
    }
    // A record whose timestamp carries nanoseconds cannot have been written by this crate.
    let json = chain[0]
        .to_json()
        .unwrap()
        .replace(".123456Z", ".123456789Z");
    assert!(matches!(
        AuditRecord::from_json(&json),
        Err(AuditError::Parse { .. })
    ));
}

#[test]
fn canonical_json_sorts_keys_and_escapes_like_serde_json() {
    let value = serde_json::json!({
        "b": [1, true, null, {"z": 1, "a": -2}],
        "a": "quote\" backslash\\ nl\n tab\t ctl\u{1} bell\u{7} é 😀 \u{2028}",
        "B": {},
    });
    let mut out = Vec::new();
    canonical_json(&value, &mut out);
    let text = String::from_utf8(out).unwrap();
    expect![[r#"{"B":{},"a":"quote\" backslash\\ nl\n tab\t ctl\u0001 bell\u0007 é 😀  ","b":[1,true,null,{"a":-2,"z":1}]}"#]].assert_eq(&text);
    // Same bytes as serde_json's compact output for the same (sorted) document.
    assert_eq!(text, serde_json::to_string(&value).unwrap());
}

#[test]
fn jsonl_export_round_trips_and_verifies() {
    let chain = chain_of(sample_events());
    let mut out = Vec::new();
    let mut calls = Vec::new();
    let n = write_jsonl(&mut out, &chain, |c| calls.push(c)).unwrap();
    assert_eq!(n, chain.len() as u64);
    assert_eq!(calls, (1..=chain.len() as u64).collect::<Vec<_>>());
    let text = String::from_utf8(out).unwrap();
    let parsed: Vec<AuditRecord> = text
        .lines()
        .map(|l| AuditRecord::from_json(l).unwrap())
        .collect();
    assert_eq!(parsed, chain);
    assert_eq!(verify_chain(&parsed), Ok(()));
}

#[test]
fn csv_export_escapes_quotes_commas_newlines_and_formulas() {
    let events = vec![
        AuditEvent::LoginFailed {
            reason_code: "unknown_user".into(),
            connection_id: "conn, \"quoted\"".into(),
            subject: Some("=HYPERLINK(\"http://evil\")".into()),
        },
        AuditEvent::AdminAction {
            action: "note".into(),
            summary: "line1\nline2".into(),
        },
    ];
    let mut chain: Vec<AuditRecord> = Vec::new();
    for (i, event) in events.into_iter().enumerate() {
        let mut d = draft("acme", event);
        d.target = [
            Some("-1+1".to_owned()),
            Some("line1\nline2, \"x\"".to_owned()),
        ][i]
            .clone();
        d.correlation_id = ["@SUM(A1)", "plain"][i].to_owned();
        d.actor = Actor {
            kind: ActorKind::Anonymous,
            id: String::new(),
        };
        let r = ChainBuilder::append(chain.last(), d, t0()).unwrap();
        chain.push(r);
    }
    let mut out = Vec::new();
    let mut last = 0;
    assert_eq!(write_csv(&mut out, &chain, |c| last = c).unwrap(), 2);
    assert_eq!(last, 2);
    let text = String::from_utf8(out).unwrap();
    // Show line ends explicitly: CRLF ends rows, a bare LF stays inside a quoted cell.
    expect![[r#"
        tenant_id,seq,at,actor_kind,actor_id,target,correlation_id,event_type,event,schema_version,prev_hash,hash⏎
        acme,1,2026-11-23T10:00:00.000000Z,anonymous,,"'-1+1","'@SUM(A1)",login.failed,"{""connection_id"":""conn, \""quoted\"""",""reason_code"":""unknown_user"",""subject"":""=HYPERLINK(\""http://evil\"")"",""type"":""login.failed""}",3,0000000000000000000000000000000000000000000000000000000000000000,61893bfdd339a2529aaa4b1cb7f099a33602da7c917d4a74346413a843085543⏎
        acme,2,2026-11-23T10:00:00.000000Z,anonymous,,"line1
        line2, ""x""",plain,admin.action,"{""action"":""note"",""summary"":""line1\nline2"",""type"":""admin.action""}",3,61893bfdd339a2529aaa4b1cb7f099a33602da7c917d4a74346413a843085543,bd490ba2e36537e2188b79614a6523924b304126a96c83774412d2e2775efdeb⏎
    "#]].assert_eq(&text.replace("\r\n", "⏎\n"));
}

#[test]
fn memory_sink_chains_per_tenant_and_filters_queries() {
    let sink = MemoryAuditSink::new();
    // The first sixteen types (the counts below are pinned to them; later types change nothing
    // about chaining or filtering).
    for (i, event) in sample_events().into_iter().take(16).enumerate() {
        let tenant = if i % 4 == 3 { "globex" } else { "acme" };
        let mut d = draft(tenant, event);
        if i % 2 == 0 {
            d.actor = Actor {
                kind: ActorKind::User,
                id: "u_1".into(),
            };
        }
        d.target = Some(format!("t{}", i % 3));
        sink.append(d, t0() + Duration::minutes(i as i64)).unwrap();
    }
    let acme = sink.chain("acme");
    let globex = sink.chain("globex");
    assert_eq!((acme.len(), globex.len()), (12, 4));
    assert_eq!(verify_chain(&acme), Ok(()));
    assert_eq!(verify_chain(&globex), Ok(()));

    let seqs =
        |q: AuditQuery| -> Vec<u64> { sink.query(&q).unwrap().iter().map(|r| r.seq).collect() };
    let all = AuditQuery::all("acme");
    assert_eq!(seqs(all.clone()), (1..=12).collect::<Vec<_>>());
    assert_eq!(
        seqs(AuditQuery {
            after_seq: 10,
            ..all.clone()
        }),
        vec![11, 12]
    );
    assert_eq!(
        seqs(AuditQuery {
            limit: 2,
            ..all.clone()
        }),
        vec![1, 2]
    );
    assert_eq!(
        seqs(AuditQuery {
            limit: 0,
            ..all.clone()
        }),
        vec![1],
        "limit is clamped to at least 1"
    );
    assert_eq!(
        seqs(AuditQuery {
            from: Some(t0() + Duration::minutes(4)),
            to: Some(t0() + Duration::minutes(6)),
            ..all.clone()
        }),
        vec![4, 5]
    );
    assert_eq!(
        seqs(AuditQuery {
            event_type: Some("user.deleted".into()),
            ..all.clone()
        }),
        vec![8]
    );
    assert_eq!(
        seqs(AuditQuery {
            actor: Some(Actor {
                kind: ActorKind::User,
                id: "u_1".into()
            }),
            ..all.clone()
        }),
        vec![1, 3, 4, 6, 7, 9, 10, 12]
    );
    assert_eq!(
        seqs(AuditQuery {
            target: Some("t0".into()),
            ..all.clone()
        }),
        vec![1, 6, 8, 10]
    );
    assert!(seqs(AuditQuery::all("nobody")).is_empty());
    assert_eq!(
        Actor {
            kind: ActorKind::ScimToken,
            id: "tok_1".into()
        }
        .key(),
        "scim_token:tok_1"
    );
}

/// Every prefix and many single-byte corruptions of a stored record: parsing never panics, and
/// whatever still parses fails verification.
#[test]
fn corrupted_stored_records_never_panic_or_verify_silently() {
    let chain = chain_of(sample_events());
    let json = chain[10].to_json().unwrap();
    let bytes = json.as_bytes();
    let mut parsed = 0;
    for cut in 0..bytes.len() {
        assert!(AuditRecord::from_json(&String::from_utf8_lossy(&bytes[..cut])).is_err());
        for replacement in [b'{', b'"', b'0', b'1', b'x', b'\\'] {
            let mut mutated = bytes.to_vec();
            if mutated[cut] == replacement {
                continue;
            }
            mutated[cut] = replacement;
            if let Ok(record) = AuditRecord::from_json(&String::from_utf8_lossy(&mutated)) {
                parsed += 1;
                let mut forged = chain.clone();
                forged[10] = record;
                assert!(
                    verify_chain(&forged).is_err(),
                    "undetected: {}",
                    String::from_utf8_lossy(&mutated)
                );
            }
        }
    }
    assert!(
        parsed > 100,
        "mutations mostly still parse (ids, hashes), so they must be checked"
    );
}

/// A chain written by a build of schema version 1 (after `login.succeeded.amr` and
/// `logout.failed` were added but before the version was bumped for them): one record of every
/// event type, plus a `login.succeeded` without `amr` as written before that field existed.
const CHAIN_V1: &str = include_str!("fixtures/chain-v1.jsonl");

#[test]
fn records_of_schema_version_1_still_verify_byte_for_byte() {
    let v1: Vec<AuditRecord> = CHAIN_V1
        .lines()
        .map(|line| AuditRecord::from_json(line).unwrap())
        .collect();
    assert_eq!(v1.len(), AuditEvent::TYPES.len() + 1);
    assert!(v1.iter().all(|r| r.schema_version == 1));
    assert_eq!(verify_chain(&v1), Ok(()));
    // Re-serializing does not add the (empty) amr or anything else: the stored bytes, and so
    // the hashes, are exactly what this build would write for the same values.
    for (line, record) in CHAIN_V1.lines().zip(&v1) {
        assert_eq!(record.to_json().unwrap(), line);
        assert_eq!(record.compute_hash().unwrap(), record.hash);
    }
    // A chain goes on across the bump: new records carry the new version and link to old ones.
    let next = ChainBuilder::append(
        v1.last(),
        draft(
            "acme",
            AuditEvent::LogoutFailed {
                reason_code: "replay".into(),
                connection_id: "conn_okta".into(),
            },
        ),
        t0() + Duration::minutes(5),
    )
    .unwrap();
    assert_eq!(next.schema_version, SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 3);
    let mixed: Vec<&AuditRecord> = v1.iter().chain([&next]).collect();
    assert_eq!(verify_chain(mixed), Ok(()));
}
