//! Repository-wide checks. Each check is a pure function from file contents to a list of
//! violations ("<crate>: <rule>: <what>"), so the seeded-violation tests at the end prove the
//! checks can fail, and the real tests run them over the repository.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::Table;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn assert_clean(what: &str, violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "{what}: {} violation(s)\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------

/// One `Cargo.toml` under `crates/` or `bins/`.
struct Manifest {
    /// Path relative to the repository root, for messages.
    rel: String,
    /// Directory holding it.
    dir: PathBuf,
    /// `package.name`.
    name: String,
    /// The parsed manifest.
    toml: Table,
    /// Under `bins/`: a binary, which may use the facade and everything below it.
    is_bin: bool,
    /// A standalone cargo-fuzz project (own `[workspace]`): outside the workspace, so the
    /// workspace-lints rule does not apply, and it may depend only on the crate it fuzzes.
    fuzz_target_of: Option<String>,
}

fn find_manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            // Build output and fuzz corpora hold no manifests of ours.
            if !matches!(name, "target" | "corpus" | "artifacts" | "node_modules")
                && !name.starts_with('.')
            {
                find_manifests(&path, out);
            }
        } else if name == "Cargo.toml" {
            out.push(path);
        }
    }
}

fn package_name(toml: &Table) -> Option<String> {
    toml.get("package")?
        .get("name")?
        .as_str()
        .map(str::to_owned)
}

fn load_manifests() -> Vec<Manifest> {
    let root = root();
    let mut paths = Vec::new();
    find_manifests(&root.join("crates"), &mut paths);
    find_manifests(&root.join("bins"), &mut paths);
    let mut manifests = Vec::new();
    for path in paths {
        let text = read(&path);
        let toml: Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: not TOML: {e}", path.display()));
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let rel = path
            .strip_prefix(&root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.display().to_string());
        let Some(name) = package_name(&toml) else {
            panic!(
                "{rel}: no package.name (virtual manifests do not belong under crates/ or bins/)"
            );
        };
        let fuzz_target_of = if toml.contains_key("workspace") {
            let parent = dir.parent().map(|p| p.join("Cargo.toml"));
            let parent_name = parent
                .filter(|p| p.exists())
                .and_then(|p| read(&p).parse::<Table>().ok())
                .and_then(|t| package_name(&t));
            Some(parent_name.unwrap_or_else(|| {
                panic!("{rel}: a standalone project under crates/ or bins/ must sit inside the crate it tests")
            }))
        } else {
            None
        };
        manifests.push(Manifest {
            is_bin: rel.starts_with("bins/"),
            rel,
            dir,
            name,
            toml,
            fuzz_target_of,
        });
    }
    manifests
}

fn workspace_dependencies() -> Table {
    let root: Table = read(&root().join("Cargo.toml"))
        .parse()
        .unwrap_or_else(|e| panic!("Cargo.toml: not TOML: {e}"));
    root.get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default()
}

/// A dependency as cargo resolves its name: `package = ".."` renames are followed, also through
/// `workspace = true` into `[workspace.dependencies]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dep {
    /// The crate's real package name.
    package: String,
    /// Which table it is in (`dependencies`, `dev-dependencies`, `target.'cfg(..)'.dependencies`).
    table: String,
}

fn dependencies(toml: &Table, workspace_deps: &Table) -> Vec<Dep> {
    const KINDS: [&str; 5] = [
        "dependencies",
        "dev-dependencies",
        "build-dependencies",
        "dev_dependencies",
        "build_dependencies",
    ];
    let mut tables: Vec<(String, &Table)> = Vec::new();
    for kind in KINDS {
        if let Some(t) = toml.get(kind).and_then(|t| t.as_table()) {
            tables.push((kind.to_owned(), t));
        }
    }
    if let Some(targets) = toml.get("target").and_then(|t| t.as_table()) {
        for (cfg, target) in targets {
            for kind in KINDS {
                if let Some(t) = target.get(kind).and_then(|t| t.as_table()) {
                    tables.push((format!("target.{cfg}.{kind}"), t));
                }
            }
        }
    }
    let mut deps = Vec::new();
    for (table, entries) in tables {
        for (key, value) in entries {
            let renamed =
                |v: &toml::Value| v.get("package").and_then(|p| p.as_str()).map(str::to_owned);
            let inherited = value.get("workspace").and_then(|w| w.as_bool()) == Some(true);
            let package = renamed(value)
                .or_else(|| {
                    inherited
                        .then(|| workspace_deps.get(key).and_then(renamed))
                        .flatten()
                })
                .unwrap_or_else(|| key.clone());
            deps.push(Dep {
                package,
                table: table.clone(),
            });
        }
    }
    deps
}

// ---------------------------------------------------------------------------------------------
// The layering table (docs/architecture.md, design brief § Layers and their invariants)
// ---------------------------------------------------------------------------------------------

const LIBRARIES: [&str; 8] = [
    "gatehouse-types",
    "saml-core",
    "oidc-core",
    "scim-model",
    "role-mapper",
    "audit",
    "storage",
    "gatehouse",
];
/// The binaries the layering table names (any other crate under `bins/` is a binary too).
const BINS: [&str; 2] = ["gatehouse-server", "gatehouse-cli"];

/// The workspace crates `name` may depend on; `None` for a crate the table does not know.
fn allowed_workspace_deps(name: &str, is_bin: bool) -> Option<Vec<&'static str>> {
    if is_bin {
        // A binary may use the facade and anything below it, never another binary.
        return Some(LIBRARIES.to_vec());
    }
    Some(match name {
        "gatehouse-types" | "storage" | "tidy" => vec![],
        "saml-core" | "oidc-core" | "scim-model" | "role-mapper" | "audit" => {
            vec!["gatehouse-types"]
        }
        "gatehouse" => LIBRARIES
            .iter()
            .copied()
            .filter(|l| *l != "gatehouse")
            .collect(),
        _ => return None,
    })
}

/// Third-party crates only some workspace crates may use, with the reason that goes into the
/// failure message.
struct Exclusive {
    rule: &'static str,
    matches: fn(&str) -> bool,
    allowed: &'static [&'static str],
    /// Every crate under `bins/` may use it too.
    binaries: bool,
}

const EXCLUSIVE: [Exclusive; 5] = [
    Exclusive {
        rule: "only storage may use diesel",
        matches: |p| p == "diesel" || p.starts_with("diesel_") || p.starts_with("diesel-"),
        allowed: &["storage"],
        binaries: false,
    },
    Exclusive {
        rule: "only gatehouse-server may use actix",
        matches: |p| p == "actix" || p.starts_with("actix-") || p.starts_with("actix_"),
        allowed: &["gatehouse-server"],
        binaries: false,
    },
    Exclusive {
        rule: "anyhow only in binaries",
        matches: |p| p == "anyhow",
        allowed: &[],
        binaries: true,
    },
    Exclusive {
        rule: "clap only in binaries",
        matches: |p| p == "clap",
        allowed: &[],
        binaries: true,
    },
    Exclusive {
        rule: "tracing-subscriber only in binaries (libraries emit, binaries decide where logs go)",
        matches: |p| p == "tracing-subscriber",
        allowed: &["tidy"],
        binaries: true,
    },
];

/// Layering: workspace dependencies point down the table only.
fn check_layering(
    m: &Manifest,
    workspace_deps: &Table,
    workspace_names: &BTreeSet<String>,
) -> Vec<String> {
    let allowed: Vec<String> = match &m.fuzz_target_of {
        Some(target) => vec![target.clone()],
        None => match allowed_workspace_deps(&m.name, m.is_bin) {
            Some(a) => a.into_iter().map(str::to_owned).collect(),
            None => {
                return vec![format!(
                    "{}: layering: crate is not in the layering table ({}); add it to docs/architecture.md and to tidy's allowed_workspace_deps",
                    m.name, m.rel
                )]
            }
        },
    };
    dependencies(&m.toml, workspace_deps)
        .into_iter()
        .filter(|d| workspace_names.contains(&d.package) && !allowed.contains(&d.package))
        .map(|d| {
            format!(
                "{}: layering: depends on `{}` in [{}], but may only depend on {:?}",
                m.name, d.package, d.table, allowed
            )
        })
        .collect()
}

/// Exclusive third-party crates.
fn check_exclusive(m: &Manifest, workspace_deps: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for d in dependencies(&m.toml, workspace_deps) {
        for rule in &EXCLUSIVE {
            let allowed = rule.allowed.contains(&m.name.as_str()) || (rule.binaries && m.is_bin);
            if (rule.matches)(&d.package) && !allowed {
                out.push(format!(
                    "{}: {}: depends on `{}` in [{}]",
                    m.name, rule.rule, d.package, d.table
                ));
            }
        }
    }
    out
}

/// Workspace crates inherit `[workspace.lints]`.
fn check_lints(m: &Manifest) -> Vec<String> {
    if m.fuzz_target_of.is_some() {
        return vec![];
    }
    let inherits = m
        .toml
        .get("lints")
        .and_then(|l| l.get("workspace"))
        .and_then(|w| w.as_bool())
        == Some(true);
    if inherits {
        vec![]
    } else {
        vec![format!(
            "{}: workspace lints: {} lacks `[lints] workspace = true`",
            m.name, m.rel
        )]
    }
}

/// A library's `lib.rs` opens with its `//!` overview.
fn check_lib_doc(crate_name: &str, lib_rs: &str) -> Vec<String> {
    if lib_rs.trim_start().starts_with("//!") {
        vec![]
    } else {
        vec![format!(
            "{crate_name}: crate docs: src/lib.rs must start with a `//!` overview"
        )]
    }
}

/// The part of a source file that is not test code: everything before the first
/// `#[cfg(test)]` (by convention test modules close a file), without comments.
fn non_test_code(source: &str) -> String {
    let before_tests = source.split("#[cfg(test)]").next().unwrap_or("");
    before_tests
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_no_placeholders(crate_name: &str, file: &str, source: &str) -> Vec<String> {
    let code = non_test_code(source);
    ["todo!(", "unimplemented!("]
        .iter()
        .filter(|m| code.contains(**m))
        .map(|m| format!("{crate_name}: no placeholders: `{m}` in {file}"))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}

/// Is this file under `src/` test code (a `tests.rs` module or a `tests/` directory)?
fn is_test_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()) == Some("tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests")
}

// ---------------------------------------------------------------------------------------------
// The checks over the repository
// ---------------------------------------------------------------------------------------------

fn workspace_members(manifests: &[Manifest]) -> impl Iterator<Item = &Manifest> {
    manifests.iter().filter(|m| m.fuzz_target_of.is_none())
}

#[test]
fn every_crate_of_the_layering_table_is_found() {
    let manifests = load_manifests();
    let found: BTreeSet<&str> = workspace_members(&manifests)
        .map(|m| m.name.as_str())
        .collect();
    let expected: BTreeSet<&str> = LIBRARIES
        .iter()
        .chain(&BINS)
        .copied()
        .chain(["tidy"])
        .collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "layering table names crates that do not exist: {missing:?} (found {found:?})"
    );
}

#[test]
fn workspace_dependencies_point_down_the_layering_table() {
    let manifests = load_manifests();
    let ws = workspace_dependencies();
    let names: BTreeSet<String> = workspace_members(&manifests)
        .map(|m| m.name.clone())
        .collect();
    let violations = manifests
        .iter()
        .flat_map(|m| check_layering(m, &ws, &names))
        .collect();
    assert_clean("layering", violations);
}

#[test]
fn diesel_actix_anyhow_clap_and_tracing_subscriber_stay_in_their_layer() {
    let manifests = load_manifests();
    let ws = workspace_dependencies();
    let violations = manifests
        .iter()
        .flat_map(|m| check_exclusive(m, &ws))
        .collect();
    assert_clean("exclusive dependencies", violations);
}

#[test]
fn every_crate_inherits_the_workspace_lints() {
    let violations = load_manifests().iter().flat_map(check_lints).collect();
    assert_clean("workspace lints", violations);
}

#[test]
fn every_library_opens_with_a_doc_overview() {
    let manifests = load_manifests();
    let mut libs = 0;
    let mut violations = Vec::new();
    for m in workspace_members(&manifests) {
        let lib = m.dir.join("src/lib.rs");
        if lib.exists() {
            libs += 1;
            violations.extend(check_lib_doc(&m.name, &read(&lib)));
        }
    }
    assert!(
        libs >= LIBRARIES.len(),
        "found only {libs} src/lib.rs files"
    );
    assert_clean("crate docs", violations);
}

#[test]
fn no_todo_or_unimplemented_in_non_test_code() {
    let manifests = load_manifests();
    let mut files = 0;
    let mut violations = Vec::new();
    for m in workspace_members(&manifests) {
        let mut sources = Vec::new();
        rust_files(&m.dir.join("src"), &mut sources);
        for path in sources
            .iter()
            .filter(|p| !is_test_file(p.strip_prefix(&m.dir).unwrap_or(p)))
        {
            files += 1;
            let rel = path
                .strip_prefix(root())
                .unwrap_or(path)
                .display()
                .to_string();
            violations.extend(check_no_placeholders(&m.name, &rel, &read(path)));
        }
    }
    assert!(files > 20, "scanned only {files} source files");
    assert_clean("placeholders", violations);
}

// ---------------------------------------------------------------------------------------------
// The checks catch what they claim to (seeded violations)
// ---------------------------------------------------------------------------------------------

fn fake(name: &str, body: &str) -> Manifest {
    let text = format!("[package]\nname = \"{name}\"\n{body}");
    let is_bin = BINS.contains(&name);
    Manifest {
        is_bin,
        rel: format!(
            "{}/{name}/Cargo.toml",
            if is_bin { "bins" } else { "crates" }
        ),
        dir: PathBuf::from("/nonexistent"),
        name: name.to_owned(),
        toml: text.parse().unwrap(),
        fuzz_target_of: None,
    }
}

fn names() -> BTreeSet<String> {
    LIBRARIES
        .iter()
        .chain(&BINS)
        .map(|s| (*s).to_owned())
        .collect()
}

#[test]
fn seeded_layering_violations_are_reported_with_crate_and_rule() {
    let ws: Table = r#"
        storage = { path = "crates/storage" }
        db = { package = "diesel", version = "2" }
    "#
    .parse()
    .unwrap();
    // An upward dependency through a workspace-inherited entry, and one in dev-dependencies.
    let m = fake(
        "saml-core",
        "[dependencies]\nstorage.workspace = true\n[dev-dependencies]\ngatehouse = { path = \"../gatehouse\" }\n",
    );
    let v = check_layering(&m, &ws, &names());
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].starts_with("saml-core: layering: depends on `storage` in [dependencies]"),
        "{v:?}"
    );
    assert!(v[1].contains("`gatehouse` in [dev-dependencies]"), "{v:?}");

    // A renamed diesel (through the workspace table) is still diesel.
    let m = fake("gatehouse", "[dependencies]\ndb.workspace = true\n");
    let v = check_exclusive(&m, &ws);
    assert_eq!(
        v,
        ["gatehouse: only storage may use diesel: depends on `diesel` in [dependencies]"]
    );

    // Target-specific tables count too.
    let m = fake(
        "audit",
        "[target.'cfg(unix)'.dependencies]\nactix-web = \"4\"\nanyhow = \"1\"\n",
    );
    let v = check_exclusive(&m, &ws);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        v[0].starts_with("audit: only gatehouse-server may use actix"),
        "{v:?}"
    );
    assert!(v[1].starts_with("audit: anyhow only in binaries"), "{v:?}");

    // An unknown crate must be placed in the table before it can be added.
    let v = check_layering(&fake("wsfed", ""), &ws, &names());
    assert!(
        v[0].starts_with("wsfed: layering: crate is not in the layering table"),
        "{v:?}"
    );

    // The binaries may use the facade and everything below, but not each other.
    let m = fake(
        "gatehouse-cli",
        "[dependencies]\ngatehouse = \"*\"\nstorage = \"*\"\ngatehouse-server = \"*\"\n",
    );
    let v = check_layering(&m, &ws, &names());
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("`gatehouse-server`"), "{v:?}");
}

#[test]
fn seeded_lint_doc_and_placeholder_violations_are_reported() {
    assert_eq!(
        check_lints(&fake("audit", "[lints]\nrust.missing_docs = \"warn\"\n")),
        ["audit: workspace lints: crates/audit/Cargo.toml lacks `[lints] workspace = true`"]
    );
    assert!(check_lints(&fake("audit", "[lints]\nworkspace = true\n")).is_empty());

    assert_eq!(
        check_lib_doc(
            "role-mapper",
            "/// Item docs are not crate docs.\npub fn f() {}\n"
        ),
        ["role-mapper: crate docs: src/lib.rs must start with a `//!` overview"]
    );
    assert!(check_lib_doc("role-mapper", "\n//! Overview.\n").is_empty());

    let source = "pub fn f() -> u8 {\n    todo!()\n}\n";
    assert_eq!(
        check_no_placeholders("storage", "crates/storage/src/lib.rs", source),
        ["storage: no placeholders: `todo!(` in crates/storage/src/lib.rs"]
    );
    // Comments and test modules are not shipped code.
    let source = "// todo!() later\npub fn f() {}\n#[cfg(test)]\nmod tests { fn g() { unimplemented!() } }\n";
    assert!(check_no_placeholders("storage", "x.rs", source).is_empty());
    assert!(is_test_file(Path::new("src/jose/tests.rs")));
    assert!(is_test_file(Path::new("src/tests/fixtures.rs")));
    assert!(!is_test_file(Path::new("src/jose.rs")));
}

// ---------------------------------------------------------------------------------------------
// docs/openapi.json
// ---------------------------------------------------------------------------------------------

const HTTP_METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "head"];

/// `(path, method)` of every `.route("...", web::method()...)` in `source`, with the prefix of
/// the `web::scope("...")` it is registered under, if any.
fn routes_in(source: &str) -> Result<Vec<(String, String)>, String> {
    let prefix = match source.find("web::scope(\"") {
        Some(i) => {
            let rest = &source[i + "web::scope(\"".len()..];
            rest[..rest.find('"').ok_or("unterminated scope")?].to_owned()
        }
        None => String::new(),
    };
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let after = rest.trim_start();
        let Some(lit) = after.strip_prefix('"') else {
            return Err(format!(
                "a .route( without a string literal path: {:.60}",
                after
            ));
        };
        let path = &lit[..lit.find('"').ok_or("unterminated route path")?];
        let tail = &lit[path.len()..];
        let w = tail.find("web::").ok_or("route without web::<method>()")?;
        let method: String = tail[w + "web::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !HTTP_METHODS.contains(&method.as_str()) {
            return Err(format!("route {path}: unknown method web::{method}"));
        }
        out.push((format!("{prefix}{path}"), method));
    }
    Ok(out)
}

fn openapi() -> Value {
    let text = read(&root().join("docs/openapi.json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("docs/openapi.json is not JSON: {e}"))
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in HTTP_METHODS {
                if item.get(method).is_some() {
                    ops.insert((path.clone(), method.to_owned()));
                }
            }
        }
    }
    ops
}

/// The server's route files the document must cover (the demo routes are deliberately left out:
/// they answer 404 unless the server runs in demo mode).
const ROUTE_FILES: [&str; 6] = [
    "bins/server/src/recovery.rs",
    "bins/server/src/logout.rs",
    "bins/server/src/admin.rs",
    "bins/server/src/oauth.rs",
    "bins/server/src/saml.rs",
    "bins/server/src/main.rs",
];

fn registered_routes() -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for file in ROUTE_FILES {
        let routes = routes_in(&read(&root().join(file))).unwrap_or_else(|e| panic!("{file}: {e}"));
        all.extend(routes);
    }
    all
}

#[test]
fn openapi_document_is_openapi_3_1_with_bearer_auth() {
    let doc = openapi();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "docs/openapi.json: openapi must be 3.1.x, is {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    let bearer: Vec<&String> = schemes
        .iter()
        .filter(|(_, s)| s["type"] == "http" && s["scheme"] == "bearer")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        bearer.len(),
        1,
        "exactly one http bearer scheme expected: {schemes:?}"
    );
    let bearer = bearer[0];
    let mut violations = Vec::new();
    for (path, method) in documented_operations(&doc) {
        let op = &doc["paths"][&path][&method];
        let security = op.get("security").or_else(|| doc.get("security"));
        let uses_bearer = security
            .and_then(|s| s.as_array())
            .is_some_and(|reqs| reqs.iter().any(|r| r.get(bearer).is_some()));
        if path.starts_with("/admin/") && !uses_bearer {
            violations.push(format!(
                "{method} {path}: admin operation without the {bearer} security requirement"
            ));
        }
        if !path.starts_with("/admin/") && uses_bearer {
            violations.push(format!(
                "{method} {path}: only the admin API takes the operator bearer token"
            ));
        }
        if op["responses"].as_object().is_none_or(|r| r.is_empty()) {
            violations.push(format!("{method} {path}: no responses"));
        }
        if op["operationId"].as_str().is_none() {
            violations.push(format!("{method} {path}: no operationId"));
        }
    }
    assert_clean("openapi security", violations);
}

#[test]
fn every_registered_route_is_documented_and_nothing_else() {
    let registered = registered_routes();
    let admin = routes_in(&read(&root().join("bins/server/src/admin.rs"))).unwrap();
    assert!(
        admin.len() >= 18,
        "parsed only {} admin routes: {admin:?}",
        admin.len()
    );
    assert!(
        admin.iter().all(|(p, _)| p.starts_with("/admin/v1/")),
        "{admin:?}"
    );
    let documented = documented_operations(&openapi());
    let mut violations: Vec<String> = registered
        .difference(&documented)
        .map(|(p, m)| {
            format!(
                "{} {p}: registered in bins/server but missing from docs/openapi.json",
                m.to_uppercase()
            )
        })
        .collect();
    violations.extend(documented.difference(&registered).map(|(p, m)| {
        format!(
            "{} {p}: documented but not registered by the server",
            m.to_uppercase()
        )
    }));
    assert_clean("openapi routes", violations);
}

#[test]
fn every_ref_resolves_and_path_parameters_are_declared() {
    let doc = openapi();
    let mut violations = Vec::new();
    fn walk(v: &Value, doc: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                    let target = r.strip_prefix('#').map(|p| doc.pointer(p));
                    if !matches!(target, Some(Some(_))) {
                        out.push(format!("{at}: $ref {r} does not resolve"));
                    }
                }
                for (k, child) in map {
                    walk(child, doc, &format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, doc, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    walk(&doc, &doc, "", &mut violations);
    let resolve = |p: &Value| -> Value {
        match p
            .get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(ptr) => doc.pointer(ptr).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        }
    };
    for (path, method) in documented_operations(&doc) {
        let wanted: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .map(str::to_owned)
            .collect();
        let mut params: Vec<Value> = Vec::new();
        for holder in [&doc["paths"][&path], &doc["paths"][&path][&method]] {
            if let Some(list) = holder["parameters"].as_array() {
                params.extend(list.iter().map(&resolve));
            }
        }
        let declared: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        if declared != wanted {
            violations.push(format!(
                "{method} {path}: path parameters {declared:?}, template has {wanted:?}"
            ));
        }
    }
    assert_clean("openapi references", violations);
}

// ----- schemas against the Rust structs they describe -----

/// One field of a Rust struct as serde sees it.
#[derive(Debug)]
struct Field {
    name: String,
    optional_type: bool,
    serde_default: bool,
}

/// The named-field struct `name` in `source` (rustfmt layout: one field per line).
fn struct_fields(source: &str, name: &str) -> Option<Vec<Field>> {
    let start = source.find(&format!("struct {name} {{"))?;
    let body = &source[start..];
    let body = &body[body.find('{')? + 1..];
    let body = &body[..body.find("\n}")?];
    let mut fields = Vec::new();
    let mut serde_default = false;
    for line in body.lines().map(str::trim) {
        if line.starts_with("#[serde(") && line.contains("default") {
            serde_default = true;
        }
        if line.starts_with("//") || line.starts_with("#[") || line.is_empty() {
            continue;
        }
        let decl = line.strip_prefix("pub ").unwrap_or(line);
        if let Some((field, ty)) = decl.split_once(':') {
            fields.push(Field {
                name: field.trim().to_owned(),
                optional_type: ty.trim().starts_with("Option<"),
                serde_default,
            });
            serde_default = false;
        }
    }
    Some(fields)
}

/// Whether a schema is read by the server (its `required` lists what serde requires) or written
/// by it (every field is always present; `Option` is `null`).
#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

/// Component schema ← (file, struct, direction).
const SCHEMAS: [(&str, &str, &str, Direction); 22] = [
    (
        "RecoveryAdminView",
        "crates/gatehouse/src/recovery.rs",
        "RecoveryAdminView",
        Direction::Response,
    ),
    (
        "NewRecoveryLink",
        "crates/gatehouse/src/recovery.rs",
        "NewRecoveryLink",
        Direction::Request,
    ),
    (
        "RecoveryLinkIssued",
        "crates/gatehouse/src/recovery.rs",
        "RecoveryLinkIssued",
        Direction::Response,
    ),
    (
        "UserRolesInput",
        "crates/gatehouse/src/roles.rs",
        "UserRolesInput",
        Direction::Request,
    ),
    (
        "UserRolesView",
        "crates/gatehouse/src/roles.rs",
        "UserRolesView",
        Direction::Response,
    ),
    (
        "NewTenant",
        "crates/gatehouse/src/admin.rs",
        "NewTenant",
        Direction::Request,
    ),
    (
        "TenantView",
        "crates/gatehouse/src/admin.rs",
        "TenantView",
        Direction::Response,
    ),
    (
        "TenantUpdate",
        "crates/gatehouse/src/admin.rs",
        "TenantUpdate",
        Direction::Request,
    ),
    (
        "NewClient",
        "crates/gatehouse/src/admin.rs",
        "NewClient",
        Direction::Request,
    ),
    (
        "ClientView",
        "crates/gatehouse/src/admin.rs",
        "ClientView",
        Direction::Response,
    ),
    (
        "ClientCredentials",
        "crates/gatehouse/src/admin.rs",
        "ClientCredentials",
        Direction::Response,
    ),
    (
        "NewSamlConnection",
        "crates/gatehouse/src/connections.rs",
        "NewSamlConnection",
        Direction::Request,
    ),
    (
        "SamlConnectionUpdate",
        "crates/gatehouse/src/connections.rs",
        "SamlConnectionUpdate",
        Direction::Request,
    ),
    (
        "SamlConnectionView",
        "crates/gatehouse/src/connections.rs",
        "SamlConnectionView",
        Direction::Response,
    ),
    (
        "CertificateView",
        "crates/gatehouse/src/connections.rs",
        "CertificateView",
        Direction::Response,
    ),
    (
        "SigningKeyView",
        "crates/gatehouse/src/tokens.rs",
        "SigningKeyView",
        Direction::Response,
    ),
    (
        "TokenResponse",
        "crates/gatehouse/src/tokens.rs",
        "TokenResponse",
        Direction::Response,
    ),
    (
        "AttributeMapping",
        "crates/saml-core/src/attribute_mapping.rs",
        "AttributeMapping",
        Direction::Request,
    ),
    (
        "AuditRecord",
        "crates/audit/src/chain.rs",
        "AuditRecord",
        Direction::Response,
    ),
    (
        "AuditActor",
        "crates/audit/src/chain.rs",
        "Actor",
        Direction::Response,
    ),
    (
        "AddDomain",
        "bins/server/src/admin.rs",
        "DomainBody",
        Direction::Request,
    ),
    (
        "RotateSecret",
        "bins/server/src/admin.rs",
        "RotateBody",
        Direction::Request,
    ),
];

fn string_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn component_schemas_match_the_serde_structs() {
    let doc = openapi();
    let mut violations = Vec::new();
    for (component, file, rust, direction) in SCHEMAS {
        let source = read(&root().join(file));
        let Some(fields) = struct_fields(&source, rust) else {
            violations.push(format!("{component}: struct {rust} not found in {file}"));
            continue;
        };
        let schema = &doc["components"]["schemas"][component];
        if !schema.is_object() {
            violations.push(format!("{component}: missing from components.schemas"));
            continue;
        }
        let properties: BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let names: BTreeSet<String> = fields.iter().map(|f| f.name.clone()).collect();
        if properties != names {
            violations.push(format!(
                "{component}: properties {properties:?} differ from {file} struct {rust} fields {names:?}"
            ));
        }
        let required: BTreeSet<String> = fields
            .iter()
            .filter(|f| match direction {
                Direction::Request => !f.optional_type && !f.serde_default,
                Direction::Response => true,
            })
            .map(|f| f.name.clone())
            .collect();
        let documented = string_set(&schema["required"]);
        if documented != required {
            violations.push(format!(
                "{component}: required {documented:?}, but serde requires {required:?} ({file} {rust})"
            ));
        }
        if matches!(direction, Direction::Request)
            && schema["additionalProperties"] == Value::Bool(false)
        {
            // serde ignores unknown fields on these structs unless they deny them.
            let denies = source
                .split(&format!("struct {rust} {{"))
                .next()
                .and_then(|before| before.rsplit("\n\n").next())
                .is_some_and(|attrs| attrs.contains("deny_unknown_fields"));
            if !denies {
                violations.push(format!(
                    "{component}: additionalProperties false, but {rust} accepts unknown fields"
                ));
            }
        }
    }
    assert_clean("openapi schemas", violations);
}

#[test]
fn idp_source_variants_and_events_query_match_the_code() {
    let doc = openapi();
    // IdpSource is an externally tagged enum with snake_case variant names.
    let source = read(&root().join("crates/gatehouse/src/connections.rs"));
    let body = source
        .split("pub enum IdpSource {")
        .nth(1)
        .and_then(|b| b.split("\n}").next())
        .expect("enum IdpSource");
    let variants: BTreeSet<String> = body
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.starts_with('}'))
        .filter_map(|l| l.split(['(', ' ', '{', ',']).next())
        .filter(|v| !v.is_empty())
        .map(|v| {
            let mut out = String::new();
            for (i, c) in v.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        })
        .collect();
    assert_eq!(variants.len(), 3, "parsed IdpSource variants: {variants:?}");
    let documented: BTreeSet<String> = doc["components"]["schemas"]["IdpSource"]["oneOf"]
        .as_array()
        .expect("IdpSource.oneOf")
        .iter()
        .flat_map(|alt| string_set(&alt["required"]))
        .collect();
    assert_eq!(
        documented, variants,
        "IdpSource oneOf alternatives vs enum variants"
    );

    // The audit listing's query parameters are EventsQuery's fields.
    let admin = read(&root().join("bins/server/src/admin.rs"));
    let fields: BTreeSet<String> = struct_fields(&admin, "EventsQuery")
        .expect("EventsQuery")
        .into_iter()
        .map(|f| f.name)
        .collect();
    let op = &doc["paths"]["/admin/v1/tenants/{tenant}/audit"]["get"];
    let query: BTreeSet<String> = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(
                    |p| match p["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
                        Some(ptr) => doc.pointer(ptr).cloned().unwrap_or(Value::Null),
                        None => p.clone(),
                    },
                )
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        query, fields,
        "GET /admin/v1/tenants/{{tenant}}/audit query parameters vs EventsQuery"
    );
}

#[test]
fn admin_error_body_matches_the_server() {
    let doc = openapi();
    let error_rs = read(&root().join("bins/server/src/error.rs"));
    let line = error_rs
        .lines()
        .find(|l| l.contains("Surface::Admin =>"))
        .expect("the Surface::Admin rendering in bins/server/src/error.rs");
    let keys: BTreeSet<String> = line
        .split('"')
        .enumerate()
        .filter(|(i, s)| i % 2 == 1 && !s.is_empty())
        .map(|(_, s)| s.to_owned())
        .collect();
    assert_eq!(keys.len(), 3, "parsed admin error keys: {keys:?}");
    let schema = &doc["components"]["schemas"]["Error"];
    let properties: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        properties, keys,
        "components.schemas.Error vs the server's admin error body"
    );
    assert_eq!(string_set(&schema["required"]), keys);
}

#[test]
fn route_parser_reads_multiline_routes_and_scopes() {
    let source = r#"
        cfg.service(web::scope("/admin/v1")
            .route("/tenants", web::get().to(list))
            .route(
                "/tenants/{tenant}/audit/verify",
                web::get().to(verify),
            ));
    "#;
    assert_eq!(
        routes_in(source).unwrap(),
        [
            ("/admin/v1/tenants".to_owned(), "get".to_owned()),
            (
                "/admin/v1/tenants/{tenant}/audit/verify".to_owned(),
                "get".to_owned()
            ),
        ]
    );
    assert!(routes_in(r#".route(PATH, web::get().to(x))"#).is_err());
    assert!(routes_in(r#".route("/x", web::to(x))"#).is_err());
    let fields = struct_fields(
        "pub struct S {\n    /// a\n    pub a: String,\n    #[serde(default)]\n    pub b: Vec<u8>,\n    pub c: Option<u8>,\n}\n",
        "S",
    )
    .unwrap();
    let summary: Vec<_> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.optional_type, f.serde_default))
        .collect();
    assert_eq!(
        summary,
        [("a", false, false), ("b", false, true), ("c", true, false)]
    );
}
