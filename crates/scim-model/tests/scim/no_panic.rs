//! Deterministic "never panics" loops: random inputs biased towards grammar tokens, through every
//! parser and through PATCH application. No assertions on results, only that each call returns.

use scim_model::{
    schema, AttrPath, BulkLimits, BulkRequest, Filter, PatchPath, PatchRequest, Projection,
};
use serde_json::{json, Value};

use crate::fixture;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "userName",
    "emails",
    "name.familyName",
    "members",
    "value",
    "type",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:",
    ":",
    ".",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "and",
    "or",
    "not",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\"work\"",
    "\"\\u00e9\\\"\"",
    "\\",
    "true",
    "false",
    "null",
    "42",
    "-1.5e9",
    "1e999",
    "$ref",
    " ",
    "  ",
    "\t",
    "é",
    "\u{0}",
];

fn random_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    let n = rng.below(24);
    for _ in 0..n {
        if rng.below(5) == 0 {
            let bytes: Vec<u8> = (0..rng.below(4)).map(|_| rng.next() as u8).collect();
            s.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            s.push_str(TOKENS[rng.below(TOKENS.len())]);
            if rng.below(2) == 0 {
                s.push(' ');
            }
        }
    }
    s
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(["True", "False", "x", ""][rng.below(4)]),
        3 => json!(rng.next() as i64),
        4 => Value::String(random_text(rng)),
        5 | 6 => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                let key = [
                    "value",
                    "type",
                    "primary",
                    "display",
                    "givenName",
                    "name.givenName",
                    "active",
                    "id",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "members",
                    "emails",
                ][rng.below(11)];
                m.insert(key.to_string(), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
    }
}

#[test]
fn parsers_never_panic_on_random_text() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let user = fixture("base/user.json");
    for _ in 0..20_000 {
        let text = random_text(&mut rng);
        if let Ok(f) = Filter::parse(&text) {
            let _ = f.matches(&user, &schema::USER);
            let _ = f.validate(&schema::USER);
            let _ = f.attribute_paths();
            // Display output must parse back to the same AST.
            assert_eq!(Filter::parse(&f.to_string()).ok(), Some(f), "{text}");
        }
        let _ = PatchPath::parse(&text);
        let _ = AttrPath::parse(&text);
        let _ = Projection::parse(Some(&text), Some(&text));
        let _ = BulkRequest::parse(
            text.as_bytes(),
            BulkLimits {
                max_operations: 10,
                max_payload_size: 4096,
            },
        );
    }
}

#[test]
fn raw_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = Filter::parse(&text);
        let _ = PatchPath::parse(&text);
    }
}

#[test]
fn patch_apply_never_panics_on_random_operations() {
    let mut rng = Rng(7);
    let user = fixture("base/user.json");
    let group = fixture("base/group.json");
    let paths = [
        "members",
        "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]",
        "emails[type eq \"work\"].value",
        "emails",
        "name",
        "name.givenName",
        "active",
        "id",
        "groups",
        "displayName",
        "userName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:x:y:z",
        "emails[primary eq true]",
    ];
    for i in 0..5_000 {
        let ops: Vec<Value> = (0..1 + rng.below(3))
            .map(|_| {
                let mut op = serde_json::Map::new();
                op.insert(
                    "op".into(),
                    json!(["add", "Replace", "REMOVE", "x"][rng.below(4)]),
                );
                if rng.below(4) != 0 {
                    let path = if rng.below(5) == 0 {
                        random_text(&mut rng)
                    } else {
                        paths[rng.below(paths.len())].to_string()
                    };
                    op.insert("path".into(), json!(path));
                }
                if rng.below(5) != 0 {
                    op.insert("value".into(), random_value(&mut rng, 0));
                }
                Value::Object(op)
            })
            .collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        if let Ok(req) = PatchRequest::parse(&body, 10) {
            let (schema, base) = if i % 2 == 0 {
                (&schema::USER, &user)
            } else {
                (&schema::GROUP, &group)
            };
            if let Ok(out) = req.apply(schema, base) {
                // Whatever a PATCH does, id and meta stay the server's.
                assert_eq!(out.resource.get("id"), base.get("id"), "{body}");
                assert_eq!(out.resource.get("meta"), base.get("meta"), "{body}");
            }
        }
    }
}
