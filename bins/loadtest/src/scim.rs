//! `gatehouse-loadtest scim`: SCIM provisioning load against a running `gatehouse-server` on
//! loopback, in three timed phases.
//!
//! Setup goes through the facade on the server's database (as the login mode does): two fresh
//! tenants, each with a SCIM directory (`create_scim_directory`) and a bearer token
//! (`issue_scim_token`). Then:
//!
//! 1. **create**: `POST /Users` of `--users N` users with `--concurrency C` threads (these are
//!    also the preload of the filter phase) → creates/s, p50/p99;
//! 2. **filter**: `--lookups M` × `GET /Users?filter=userName eq "…"` for pseudo-random users
//!    created in phase 1, each answer checked to hold exactly that user → req/s, p50/p99;
//! 3. **sync**: an initial sync "the Okta way" into the second, empty tenant: per user
//!    `GET /Users?filter=userName eq "…"` → empty ListResponse → `POST /Users`; then per group
//!    `GET /Groups?filter=displayName eq "…"` → empty → `POST /Groups` (no members) → member
//!    `PATCH add` in batches → total wall time.
//!
//! The server's per-token rate limit (`GATEHOUSE_SCIM_RATE_PER_SEC`, default 1000/s) must be
//! raised for the run or the answers are `429`s, which count as failures.
//!
//! ```text
//! GATEHOUSE_SCIM_RATE_PER_SEC=1000000 target/release/gatehouse-server &
//! gatehouse-loadtest scim --server http://127.0.0.1:8080 --database-url sqlite://gatehouse.db \
//!     --users 100000 --lookups 50000 --concurrency 16
//! ```

use crate::cpu;
use crate::stats::{ms, rate, Latency};
use anyhow::{bail, ensure, Context};
use clap::Parser;
use gatehouse::{Call, Gatehouse};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// SCIM load test against a running gatehouse-server (loopback only).
#[derive(Debug, Parser)]
#[command(name = "gatehouse-loadtest scim")]
pub struct ScimArgs {
    /// Base URL of the server (http on 127.0.0.1, ::1 or localhost). GATEHOUSE_SECRET_KEY must
    /// match the server's.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: url::Url,
    /// The server's database (setup writes the tenants, directories and tokens there).
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    database_url: String,
    /// Users to create with `POST /Users` in phase 1 (the filter phase's population).
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// `userName eq` lookups in phase 2.
    #[arg(long, default_value_t = 20_000)]
    lookups: usize,
    /// Concurrent client threads.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Users of the initial sync (phase 3; 0 skips it).
    #[arg(long, default_value_t = 10_000)]
    sync_users: usize,
    /// Groups of the initial sync.
    #[arg(long, default_value_t = 1_000)]
    sync_groups: usize,
    /// Groups each synced user is a member of.
    #[arg(long, default_value_t = 3)]
    groups_per_user: usize,
    /// Members per group `PATCH` in the sync.
    #[arg(long, default_value_t = 100)]
    member_batch: usize,
    /// Skip phase 1 and look up the `--users` users an earlier run created in tenant
    /// `ls-<RUN>` (a new token is issued for its directory), so a large population is
    /// preloaded once.
    #[arg(long, value_name = "RUN")]
    reuse_run: Option<String>,
    /// Also write a wrk script (Lua) that drives the `userName eq` lookups of phase 2 against
    /// this run's directory with its token: wrk costs the shared CPUs far less per request than
    /// this generator's blocking HTTP client, which matters at 10,000 requests/s on two cores.
    /// Run it with `wrk -t2 -c32 -d30s -s FILE <server>`.
    #[arg(long, value_name = "FILE")]
    wrk_script: Option<std::path::PathBuf>,
    /// Pid of the server process, to report its CPU time per phase (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Command name of the database's processes (`postgres`), to report their CPU time.
    #[arg(long)]
    db_process: Option<String>,
}

const MAX_USERS: usize = 1_000_000;
const MAX_GROUPS: usize = 100_000;

/// One directory as the generator drives it.
#[derive(Debug, Clone)]
pub struct Directory {
    /// `<server>/scim/v2/<directory id>` (built from `--server`, not the public URL).
    pub base: String,
    /// `Authorization` header value.
    pub bearer: String,
}

/// Create a tenant with one SCIM directory and a token through the facade.
pub fn set_up_directory(
    gh: &Gatehouse,
    call: &Call,
    server: &url::Url,
    slug: &str,
) -> anyhow::Result<(Directory, String)> {
    gh.create_tenant(
        call,
        gatehouse::NewTenant::new(slug, &format!("SCIM load {slug}")),
    )
    .with_context(|| format!("creating tenant {slug}"))?;
    let dir = gh
        .create_scim_directory(call, slug, "Load-test IdP")
        .context("creating the SCIM directory")?;
    let token = gh
        .issue_scim_token(call, &dir.id)
        .context("issuing the SCIM token")?;
    let base = format!(
        "{}/scim/v2/{}",
        server.as_str().trim_end_matches('/'),
        dir.id
    );
    Ok((
        Directory {
            base,
            bearer: format!("Bearer {}", token.token),
        },
        token.token,
    ))
}

/// The SCIM directory of an existing tenant (an earlier run's), with a newly issued token.
pub fn reuse_directory(
    gh: &Gatehouse,
    call: &Call,
    server: &url::Url,
    slug: &str,
) -> anyhow::Result<Directory> {
    let dir = gh
        .list_scim_directories(slug)
        .with_context(|| format!("tenant {slug}"))?
        .into_iter()
        .next()
        .with_context(|| format!("tenant {slug} has no SCIM directory"))?;
    let token = gh
        .issue_scim_token(call, &dir.id)
        .context("issuing the SCIM token")?;
    Ok(Directory {
        base: format!(
            "{}/scim/v2/{}",
            server.as_str().trim_end_matches('/'),
            dir.id
        ),
        bearer: format!("Bearer {}", token.token),
    })
}

/// A wrk script for `GET /Users?filter=userName eq "…"` of random users `0..users` of `run`,
/// counting every answer that is not a 200 holding exactly one user.
pub fn wrk_lookup_script(dir: &Directory, run: &str, users: usize) -> anyhow::Result<String> {
    let path = url::Url::parse(&dir.base)?.path().to_owned();
    let lua_string = |s: &str| serde_json::to_string(s).map_err(anyhow::Error::from);
    Ok(format!(
        r#"-- Written by `gatehouse-loadtest scim --wrk-script`: userName eq lookups of run {run}.
local users = {users}
local path = {path}
local domain = {domain}
wrk.headers["Authorization"] = {bearer}
wrk.headers["Accept"] = "application/scim+json"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) misses = 0 end
function request()
  local i = math.random(0, users - 1)
  return wrk.format("GET", path .. "/Users?filter=userName%20eq%20%22user" .. i .. "%40" .. domain .. "%22&startIndex=1&count=100")
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"totalResults":1[,}}]') then misses = misses + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("misses") end
  io.write(string.format("requests %d, not exactly one user: %d, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, total, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"#,
        path = lua_string(&path)?,
        domain = lua_string(&format!("{run}.scim-load.test"))?,
        bearer = lua_string(&dir.bearer)?,
    ))
}

/// The `POST /Users` body Okta sends for user `i` of a run.
pub fn okta_user(run: &str, i: usize) -> Value {
    let user_name = user_name(run, i);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": { "givenName": format!("Given{i}"), "familyName": format!("Family{i}") },
        "emails": [{ "primary": true, "value": user_name, "type": "work" }],
        "displayName": format!("Given{i} Family{i}"),
        "locale": "en-US",
        "externalId": format!("00u{run}{i:08}"),
        "groups": [],
        "active": true,
    })
}

/// `userName` of user `i` of a run.
pub fn user_name(run: &str, i: usize) -> String {
    format!("user{i}@{run}.scim-load.test")
}

/// The `POST /Groups` body Okta sends when it pushes group `g` (members follow in PATCHes).
pub fn okta_group(run: &str, g: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": group_name(run, g),
        "members": [],
    })
}

/// `displayName` of group `g` of a run.
pub fn group_name(run: &str, g: usize) -> String {
    format!("group-{run}-{g:05}")
}

/// Okta's member add: one `add` on `members` with a value array.
pub fn okta_add_members(ids: &[String]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({ "value": id })).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "members", "value": members }],
    })
}

/// Members of group `g`: user `u` belongs to groups `u, u+1, …, u+k-1` (mod `groups`), so each
/// group has about `users·k/groups` members and no membership is repeated.
pub fn members_of(g: usize, users: usize, groups: usize, per_user: usize) -> Vec<usize> {
    if groups == 0 {
        return Vec::new();
    }
    let k = per_user.min(groups);
    (0..users)
        .filter(|u| (0..k).any(|j| (u + j) % groups == g))
        .collect()
}

/// A deterministic pseudo-random index below `n` for lookup `i` (SplitMix64), so runs are
/// repeatable and the lookups spread over the whole population.
pub fn pick(i: usize, n: usize) -> usize {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % n.max(1) as u64) as usize
}

/// The `userName eq` filter URL of a lookup.
pub fn filter_url(base: &str, kind: &str, attr: &str, value: &str) -> anyhow::Result<url::Url> {
    let mut url = url::Url::parse(&format!("{base}/{kind}"))?;
    url.query_pairs_mut()
        .append_pair("filter", &format!("{attr} eq \"{value}\""))
        .append_pair("startIndex", "1")
        .append_pair("count", "100");
    Ok(url)
}

/// The HTTP side.
struct Client {
    http: reqwest::blocking::Client,
}

impl Client {
    fn new(concurrency: usize) -> anyhow::Result<Client> {
        let http = reqwest::blocking::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Client { http })
    }

    fn send(
        &self,
        dir: &Directory,
        method: reqwest::Method,
        url: url::Url,
        body: Option<&Value>,
        want: u16,
    ) -> anyhow::Result<(Value, Duration)> {
        let started = Instant::now();
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header("Authorization", &dir.bearer)
            .header("Accept", "application/scim+json");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(serde_json::to_vec(b)?);
        }
        let resp = req.send().with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes()?;
        let took = started.elapsed();
        if status != want {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            bail!("{method} {}: {status} (wanted {want}): {text}", url.path());
        }
        let doc = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((doc, took))
    }

    fn create(
        &self,
        dir: &Directory,
        kind: &str,
        body: &Value,
    ) -> anyhow::Result<(String, Duration)> {
        let url = url::Url::parse(&format!("{}/{kind}", dir.base))?;
        let (doc, took) = self.send(dir, reqwest::Method::POST, url, Some(body), 201)?;
        let id = doc["id"]
            .as_str()
            .context("created resource has no id")?
            .to_owned();
        Ok((id, took))
    }

    /// Look `attr eq value` up; the ids found.
    fn find(
        &self,
        dir: &Directory,
        kind: &str,
        attr: &str,
        value: &str,
    ) -> anyhow::Result<(Vec<String>, Duration)> {
        let url = filter_url(&dir.base, kind, attr, value)?;
        let (doc, took) = self.send(dir, reqwest::Method::GET, url, None, 200)?;
        let ids: Vec<String> = doc["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let total = doc["totalResults"].as_u64().context("no totalResults")?;
        ensure!(
            total as usize == ids.len(),
            "totalResults {total} but {} resources",
            ids.len()
        );
        Ok((ids, took))
    }
}

/// One timed phase's outcome.
struct Phase {
    name: &'static str,
    requests: usize,
    ok: usize,
    wall: Duration,
    latency: Latency,
    cpu: Option<cpu::Usage>,
    first_error: Option<String>,
}

impl Phase {
    fn print(&self) {
        println!(
            "{}: {} requests, {} ok, {} failed in {:.2}s = {:.0} req/s; p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
            self.name,
            self.requests,
            self.ok,
            self.requests - self.ok,
            self.wall.as_secs_f64(),
            rate(self.ok, self.wall),
            ms(self.latency.p50),
            ms(self.latency.p99),
            ms(self.latency.max),
        );
        if let Some(u) = self.cpu {
            let per = |s: Option<f64>| {
                s.map(|s| format!("{:.3}", cpu::per_login_ms(s, self.ok)))
                    .unwrap_or_else(|| "?".into())
            };
            println!(
                "  CPU: machine {:.2} cores busy = {:.3} ms/req; server {}; database {}; generator {:.3} (ms/req)",
                cpu::cores_busy(u.machine, self.wall),
                cpu::per_login_ms(u.machine, self.ok),
                per(u.server),
                per(u.database),
                cpu::per_login_ms(u.generator, self.ok),
            );
        }
        if let Some(e) = &self.first_error {
            eprintln!("  first error: {e}");
        }
    }
}

/// Run `f(i)` for `0..count` on `threads` threads, timing the whole and collecting per-request
/// latencies (`f` returns the latencies of the requests it made).
fn timed<T: Send>(
    name: &'static str,
    args: &ScimArgs,
    count: usize,
    f: impl Fn(usize) -> anyhow::Result<(T, Vec<Duration>)> + Sync,
) -> (Phase, Vec<Option<T>>) {
    let threads = args.concurrency.min(count).max(1);
    let before = cpu::Sample::take(args.server_pid, args.db_process.as_deref());
    let started = Instant::now();
    let results = crate::run_parallel(count, threads, |i, _| f(i));
    let wall = started.elapsed();
    let cpu = before
        .zip(cpu::Sample::take(
            args.server_pid,
            args.db_process.as_deref(),
        ))
        .map(|(a, b)| a.until(&b));
    let mut lat = Vec::new();
    let mut out = Vec::with_capacity(count);
    let mut ok = 0;
    let mut requests = 0;
    let mut first_error = None;
    for r in results {
        match r {
            Ok((v, l)) => {
                ok += l.len();
                requests += l.len();
                lat.extend(l);
                out.push(Some(v));
            }
            Err(e) => {
                requests += 1;
                if first_error.is_none() {
                    first_error = Some(format!("{e:#}"));
                }
                out.push(None);
            }
        }
    }
    let phase = Phase {
        name,
        requests,
        ok,
        wall,
        latency: Latency::of(&mut lat),
        cpu,
        first_error,
    };
    phase.print();
    (phase, out)
}

/// The `scim` subcommand.
pub fn run(args: ScimArgs) -> anyhow::Result<()> {
    ensure!(
        (1..=MAX_USERS).contains(&args.users) && args.sync_users <= MAX_USERS,
        "--users must be 1..={MAX_USERS}, --sync-users at most that"
    );
    ensure!(
        args.sync_groups <= MAX_GROUPS && args.lookups <= 10 * MAX_USERS,
        "--sync-groups at most {MAX_GROUPS}, --lookups at most {}",
        10 * MAX_USERS
    );
    ensure!(
        (1..=crate::MAX_CONCURRENCY).contains(&args.concurrency),
        "--concurrency must be 1..={}",
        crate::MAX_CONCURRENCY
    );
    ensure!(
        (1..=1000).contains(&args.member_batch),
        "--member-batch must be 1..=1000"
    );
    crate::check_loopback(&args.server)?;

    let gh = crate::open_facade(&args.server, &args.database_url)?;
    let call = Call::operator(gatehouse::os::now(), "loadtest");
    let fresh = gatehouse_types::random_token(&mut gatehouse::os::OsEntropy, 4).to_lowercase();
    let run_id = args.reuse_run.clone().unwrap_or_else(|| fresh.clone());
    let main_dir = match &args.reuse_run {
        Some(run) => reuse_directory(&gh, &call, &args.server, &format!("ls-{run}"))?,
        None => set_up_directory(&gh, &call, &args.server, &format!("ls-{run_id}"))?.0,
    };
    if let Some(path) = &args.wrk_script {
        std::fs::write(path, wrk_lookup_script(&main_dir, &run_id, args.users)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let (sync_dir, _) = set_up_directory(&gh, &call, &args.server, &format!("ls-{fresh}-sync"))?;
    println!(
        "engine={:?} run={run_id} concurrency={} users={} lookups={} sync={}u/{}g×{}",
        storage::Engine::of(&args.database_url),
        args.concurrency,
        args.users,
        args.lookups,
        args.sync_users,
        args.sync_groups,
        args.groups_per_user
    );
    let client = Client::new(args.concurrency)?;
    let mut failed = false;

    // 1. POST /Users (or the population of an earlier run, ids unknown).
    let created: Vec<(usize, Option<String>)> = if args.reuse_run.is_some() {
        (0..args.users).map(|i| (i, None)).collect()
    } else {
        let (p1, ids) = timed("POST /Users", &args, args.users, |i| {
            let (id, took) = client.create(&main_dir, "Users", &okta_user(&run_id, i))?;
            Ok((id, vec![took]))
        });
        failed |= p1.ok != p1.requests;
        ids.into_iter()
            .enumerate()
            .filter_map(|(i, id)| id.map(|id| (i, Some(id))))
            .collect()
    };

    // 2. GET /Users?filter=userName eq "…".
    if args.lookups > 0 && !created.is_empty() {
        let (p2, _) = timed("GET /Users?filter=userName eq", &args, args.lookups, |i| {
            let (n, id) = &created[pick(i, created.len())];
            let (found, took) =
                client.find(&main_dir, "Users", "userName", &user_name(&run_id, *n))?;
            ensure!(
                found.len() == 1 && id.as_ref().is_none_or(|id| found[0] == *id),
                "user {n}: found {found:?}, wanted {id:?}"
            );
            Ok(((), vec![took]))
        });
        failed |= p2.ok != p2.requests;
    }

    // 3. Initial sync the Okta way, into the empty second tenant.
    if args.sync_users > 0 {
        let sync_run = format!("{fresh}s");
        let started = Instant::now();
        let (p3, user_ids) = timed(
            "sync users (GET filter → POST)",
            &args,
            args.sync_users,
            |i| {
                let name = user_name(&sync_run, i);
                let (found, t1) = client.find(&sync_dir, "Users", "userName", &name)?;
                ensure!(found.is_empty(), "{name} already exists");
                let (id, t2) = client.create(&sync_dir, "Users", &okta_user(&sync_run, i))?;
                Ok((id, vec![t1, t2]))
            },
        );
        failed |= p3.ok != p3.requests;
        let user_ids: Vec<String> = user_ids.into_iter().flatten().collect();
        ensure!(
            user_ids.len() == args.sync_users,
            "sync: only {} of {} users were created",
            user_ids.len(),
            args.sync_users
        );
        let (p4, _) = timed(
            "sync groups (GET filter → POST → PATCH members)",
            &args,
            args.sync_groups,
            |g| {
                let name = group_name(&sync_run, g);
                let (found, t1) = client.find(&sync_dir, "Groups", "displayName", &name)?;
                ensure!(found.is_empty(), "{name} already exists");
                let (id, t2) = client.create(&sync_dir, "Groups", &okta_group(&sync_run, g))?;
                let mut lat = vec![t1, t2];
                let members: Vec<String> =
                    members_of(g, user_ids.len(), args.sync_groups, args.groups_per_user)
                        .into_iter()
                        .map(|u| user_ids[u].clone())
                        .collect();
                let url = url::Url::parse(&format!("{}/Groups/{id}", sync_dir.base))?;
                for batch in members.chunks(args.member_batch) {
                    let (_, t) = client.send(
                        &sync_dir,
                        reqwest::Method::PATCH,
                        url.clone(),
                        Some(&okta_add_members(batch)),
                        200,
                    )?;
                    lat.push(t);
                }
                Ok(((), lat))
            },
        );
        failed |= p4.ok != p4.requests;
        println!(
            "initial sync: {} users, {} groups, {} memberships in {:.2}s total",
            args.sync_users,
            args.sync_groups,
            args.sync_users * args.groups_per_user.min(args.sync_groups),
            started.elapsed().as_secs_f64()
        );
    }
    if failed {
        bail!("some SCIM requests failed (see above)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse::{GatehouseConfig, ScimKind, SecretBox};
    use gatehouse_types::FixedEntropy;
    use storage::testing::TestDatabase;
    use storage::Engine;

    #[test]
    fn the_wrk_script_targets_the_directory_with_its_token_and_every_string_closes_on_its_line() {
        let dir = Directory {
            base: "http://127.0.0.1:18192/scim/v2/dir_1".into(),
            bearer: "Bearer ghs_x".into(),
        };
        let script = wrk_lookup_script(&dir, "r1", 100).unwrap();
        assert!(script.contains("local path = \"/scim/v2/dir_1\"\n"));
        assert!(script.contains("wrk.headers[\"Authorization\"] = \"Bearer ghs_x\"\n"));
        assert!(script.contains("local domain = \"r1.scim-load.test\"\n"));
        // Lua strings cannot span lines: an escape lost in the Rust source would split one.
        for line in script.lines().filter(|l| !l.trim_start().starts_with("--")) {
            assert_eq!(
                line.matches('"').count() % 2,
                0,
                "unbalanced quotes: {line}"
            );
        }
    }

    #[test]
    fn memberships_are_spread_and_never_repeated() {
        let (users, groups, k) = (100, 10, 3);
        let mut total = 0;
        for g in 0..groups {
            let m = members_of(g, users, groups, k);
            assert_eq!(m.len(), 30, "group {g}");
            total += m.len();
        }
        assert_eq!(total, users * k);
        // More groups per user than groups: each user is in every group once.
        assert_eq!(members_of(0, 5, 2, 9), vec![0, 1, 2, 3, 4]);
        assert!(members_of(0, 5, 0, 3).is_empty());
    }

    #[test]
    fn picks_stay_in_range_and_spread() {
        let picks: std::collections::HashSet<usize> = (0..1000).map(|i| pick(i, 100)).collect();
        assert!(picks.iter().all(|&p| p < 100));
        assert!(picks.len() > 90, "only {} distinct", picks.len());
        assert_eq!(pick(5, 1), 0);
    }

    #[test]
    fn filter_urls_are_encoded() {
        let url = filter_url(
            "http://127.0.0.1:1/scim/v2/dir_1",
            "Users",
            "userName",
            "a b@x",
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/scim/v2/dir_1/Users?filter=userName+eq+%22a+b%40x%22&startIndex=1&count=100"
        );
    }

    /// The bodies the generator sends are accepted by the facade (so a run measures the work,
    /// not 400s), on both engines.
    fn okta_shapes_through_the_facade(engine: Engine) {
        let db = TestDatabase::new(engine).unwrap();
        let store = storage::Store::open(&db.url).unwrap();
        let config = GatehouseConfig::new(
            "http://127.0.0.1:8080".parse().unwrap(),
            SecretBox::new([7; 32]),
        );
        let gh = Gatehouse::new(store, config, Box::new(FixedEntropy::new(3)));
        let at: chrono::DateTime<chrono::Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
        let call = Call::operator(at, "test");
        let server: url::Url = "http://127.0.0.1:8080".parse().unwrap();
        let (dir, token) = set_up_directory(&gh, &call, &server, "ls-t").unwrap();
        assert!(dir.base.starts_with("http://127.0.0.1:8080/scim/v2/dir_"));
        let dir_id = dir.base.rsplit('/').next().unwrap();
        let client = gh.authenticate_scim(at, dir_id, &token).unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let r = gh
                .scim_create(&call, &client, ScimKind::User, &okta_user("t", i))
                .unwrap();
            assert_eq!(r.status, 201);
            assert_eq!(r.body.as_ref().unwrap()["userName"], user_name("t", i));
            ids.push(r.body.unwrap()["id"].as_str().unwrap().to_owned());
        }
        let g = gh
            .scim_create(&call, &client, ScimKind::Group, &okta_group("t", 0))
            .unwrap();
        let gid = g.body.unwrap()["id"].as_str().unwrap().to_owned();
        let patched = gh
            .scim_patch(
                &call,
                &client,
                ScimKind::Group,
                &gid,
                &okta_add_members(&ids),
                None,
            )
            .unwrap();
        assert_eq!(patched.status, 200);
        let members = patched.body.unwrap()["members"].as_array().unwrap().len();
        assert_eq!(members, 3);
    }

    #[test]
    fn okta_shapes_through_the_facade_sqlite() {
        okta_shapes_through_the_facade(Engine::Sqlite);
    }

    #[test]
    fn okta_shapes_through_the_facade_postgres() {
        okta_shapes_through_the_facade(Engine::Postgres);
    }
}
