//! `gatehouse-loadtest`: drives a running `gatehouse-server` on loopback through whole logins —
//! `/oauth/authorize` → signed SAML Response POSTed to `/saml/{conn}/acs` → `/oauth/token`
//! (client_secret_basic) → ID token — and reports logins/s and latency.
//!
//! Setup goes through the facade on the server's own database (same `GATEHOUSE_SECRET_KEY` and
//! `GATEHOUSE_PUBLIC_URL`, resolved exactly as the server resolves them): tenants with a routed
//! domain, one app, and a SAML connection (`IdpSource::Manual`) trusting the generator's IdP.
//! Phase 1 (untimed) runs `authorize` and signs every IdP Response in the generator; phase 2
//! (timed) only fires ACS + token with `--concurrency` threads, so the generator's RSA signing
//! is not measured. ID tokens are verified after phase 2.
//!
//! ```text
//! gatehouse-loadtest --server http://127.0.0.1:8080 --database-url sqlite://gatehouse.db \
//!     --logins 3000 --concurrency 16
//! ```

mod cpu;
mod flow;
mod idp;
mod idtoken;
mod scim;
mod setup;
mod stats;

use anyhow::{bail, ensure, Context};
use clap::Parser;
use flow::{Prepared, Server, Timing};
use gatehouse::os::{now, OsEntropy};
use gatehouse::settings::Settings;
use gatehouse::{Call, Gatehouse, GatehouseConfig};
use gatehouse_types::Entropy;
use setup::Target;
use stats::{ms, rate, Latency};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Login load test against a running gatehouse-server (loopback only).
#[derive(Debug, Parser)]
#[command(name = "gatehouse-loadtest", version)]
struct Args {
    /// Base URL of the server (must be http on 127.0.0.1, ::1 or localhost). It is also the
    /// public URL (issuer, ACS URLs) unless GATEHOUSE_PUBLIC_URL is set: it must match the
    /// server's, as must GATEHOUSE_SECRET_KEY.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: url::Url,
    /// The server's database (setup writes tenants, app and connections there).
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    database_url: String,
    /// Logins to perform (the run stops after these).
    #[arg(long, default_value_t = 3000)]
    logins: usize,
    /// Concurrent client threads.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Distinct users, round-robin (the first login of each creates it just in time).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Tenants the users are spread over (each has its own audit chain and connection).
    #[arg(long, default_value_t = 1)]
    tenants: usize,
    /// Pid of the server process, to report its CPU time during the timed phase (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Command name of the database's processes (`postgres`), to report their CPU time
    /// during the timed phase (Linux).
    #[arg(long)]
    db_process: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

const MAX_LOGINS: usize = 1_000_000;
const MAX_CONCURRENCY: usize = 1024;
const MAX_TENANTS: usize = 1000;

fn main() -> anyhow::Result<()> {
    // `gatehouse-loadtest scim …` is the SCIM provisioning load test; anything else is the
    // login load test, whose flags stay as they were.
    if std::env::args_os().nth(1).is_some_and(|a| a == "scim") {
        let args = scim::ScimArgs::parse_from(std::env::args_os().skip(1));
        return scim::run(args);
    }
    let args = Args::parse();
    ensure!(
        (1..=MAX_LOGINS).contains(&args.logins),
        "--logins must be 1..={MAX_LOGINS}"
    );
    ensure!(
        (1..=MAX_CONCURRENCY).contains(&args.concurrency),
        "--concurrency must be 1..={MAX_CONCURRENCY}"
    );
    ensure!(
        (1..=MAX_TENANTS).contains(&args.tenants),
        "--tenants must be 1..={MAX_TENANTS}"
    );
    ensure!(args.users >= 1, "--users must be at least 1");
    check_loopback(&args.server)?;

    let server = Server::new(&args.server, args.concurrency)?;
    server
        .health()
        .with_context(|| format!("is gatehouse-server running at {}?", args.server))?;

    let (target, load_idp) = set_up(&args)?;
    let threads = args.concurrency.min(args.logins);

    // Phase 1 (untimed): authorize + IdP signing.
    let started = Instant::now();
    let prepared = run_parallel(args.logins, threads, |i, entropy| {
        let (tenant, person) = flow::person(&target, i, args.users);
        let state = gatehouse_types::random_token(entropy, 8);
        let nonce = gatehouse_types::random_token(entropy, 8);
        let pairs = flow::authorize_pairs(&target, &person.email, &state, &nonce);
        let redirect = server.authorize(&pairs)?;
        flow::prepare(
            &load_idp,
            &target,
            tenant,
            &person,
            state,
            nonce,
            &redirect,
            now(),
            entropy,
        )
    });
    let phase1 = started.elapsed();
    let prepared: Vec<Prepared> = collect_ok(prepared, "phase 1 (authorize + IdP signing)")?;

    // Phase 2 (timed): ACS + token only.
    let cpu_before = cpu::Sample::take(args.server_pid, args.db_process.as_deref());
    let started = Instant::now();
    let results = run_parallel(prepared.len(), threads, |i, _| {
        server.complete(&target, &prepared[i])
    });
    let wall = started.elapsed();
    let cpu = cpu_before
        .zip(cpu::Sample::take(
            args.server_pid,
            args.db_process.as_deref(),
        ))
        .map(|(a, b)| a.until(&b));

    let mut failures = Vec::new();
    let mut ok: Vec<(usize, String, Timing)> = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok((token, timing)) => ok.push((i, token, timing)),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }

    // After the clock stops: every ID token is checked as the app would.
    let keys = idtoken::Keys::from_jwks(&server.jwks()?)?;
    let mut bad_tokens = Vec::new();
    for (i, token, _) in &ok {
        let p = &prepared[*i];
        let expected = idtoken::Expected {
            issuer: &target.issuer,
            audience: &target.client_id,
            nonce: &p.nonce,
            email: &p.email,
            tenant: &target.tenants[p.tenant].slug,
        };
        if let Err(e) = idtoken::verify(&keys, token, &expected) {
            bad_tokens.push(format!("login {i}: {e:#}"));
        }
    }

    let mut pair: Vec<Duration> = ok.iter().map(|(_, _, t)| t.acs + t.token).collect();
    let mut acs: Vec<Duration> = ok.iter().map(|(_, _, t)| t.acs).collect();
    let mut token: Vec<Duration> = ok.iter().map(|(_, _, t)| t.token).collect();
    let report = Report {
        engine: format!("{:?}", storage::Engine::of(&args.database_url)),
        logins: args.logins,
        concurrency: threads,
        users: args.users,
        tenants: args.tenants,
        phase1,
        wall,
        completed: ok.len(),
        failed: failures.len(),
        bad_tokens: bad_tokens.len(),
        pair: Latency::of(&mut pair),
        acs: Latency::of(&mut acs),
        token: Latency::of(&mut token),
        cpu,
    };
    report.print(args.json);
    for e in failures.iter().chain(&bad_tokens).take(5) {
        eprintln!("error: {e}");
    }
    if !failures.is_empty() || !bad_tokens.is_empty() {
        bail!(
            "{} logins failed, {} ID tokens did not verify",
            failures.len(),
            bad_tokens.len()
        );
    }
    Ok(())
}

/// Refuse anything but loopback: this tool fires thousands of logins.
fn check_loopback(server: &url::Url) -> anyhow::Result<()> {
    let loopback = match server.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    ensure!(
        loopback && server.scheme() == "http",
        "--server must be http on loopback (127.0.0.1, ::1 or localhost), got {server}"
    );
    Ok(())
}

/// Open the server's database and create the run's tenants, app and connections through the
/// facade, with the secret key and public URL resolved as the server resolves them.
fn set_up(args: &Args) -> anyhow::Result<(Target, idp::LoadIdp)> {
    let gh = open_facade(&args.server, &args.database_url)?;
    let at = now();
    let call = Call::operator(at, "loadtest");
    let run_id = gatehouse_types::random_token(&mut OsEntropy, 4);
    let mut serial = [0u8; 16];
    OsEntropy.fill(&mut serial);
    let load_idp = idp::LoadIdp::generate(
        &format!("http://127.0.0.1/loadtest/idp/{run_id}"),
        at,
        &serial,
    )?;
    let target = setup::setup(&gh, &load_idp, &run_id, args.tenants, &call)?;
    Ok((target, load_idp))
}

/// The facade on the server's database, with the secret key and public URL resolved as the
/// server resolves them (the public URL defaults to `server`).
fn open_facade(server: &url::Url, database_url: &str) -> anyhow::Result<Gatehouse> {
    let server_url = server.as_str().to_owned();
    let database_url = database_url.to_owned();
    let settings = Settings::load(None, |k| match k {
        "GATEHOUSE_DATABASE_URL" => Some(database_url.clone()),
        "GATEHOUSE_PUBLIC_URL" => std::env::var(k).ok().or_else(|| Some(server_url.clone())),
        "GATEHOUSE_DEMO" | "GATEHOUSE_CONFIG" => None,
        _ => std::env::var(k).ok(),
    })
    .context("resolving the server's settings")?;
    let store = storage::Store::open(&settings.database_url).context("opening the database")?;
    store.migrate().context("applying migrations")?;
    let secrets = settings
        .secret_box(&mut OsEntropy)
        .context("loading the secret key (set GATEHOUSE_SECRET_KEY as for the server)")?;
    Ok(Gatehouse::new(
        store,
        GatehouseConfig::new(settings.public_url.clone(), secrets),
        Box::new(OsEntropy),
    ))
}

/// Run `f(0..count)` on `threads` threads taking the next index from a shared counter; results
/// in index order.
fn run_parallel<T: Send>(
    count: usize,
    threads: usize,
    f: impl Fn(usize, &mut dyn Entropy) -> anyhow::Result<T> + Sync,
) -> Vec<anyhow::Result<T>> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<anyhow::Result<T>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut entropy = OsEntropy;
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    done.push((i, f(i, &mut entropy)));
                }
                if let Ok(mut slots) = slots.lock() {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a worker thread died"))))
        .collect()
}

fn collect_ok<T>(results: Vec<anyhow::Result<T>>, what: &str) -> anyhow::Result<Vec<T>> {
    let total = results.len();
    let mut ok = Vec::with_capacity(total);
    let mut first_error = None;
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) if first_error.is_none() => first_error = Some(e),
            Err(_) => {}
        }
    }
    match first_error {
        None => Ok(ok),
        Some(e) => Err(e.context(format!("{what}: {} of {total} failed", total - ok.len()))),
    }
}

struct Report {
    engine: String,
    logins: usize,
    concurrency: usize,
    users: usize,
    tenants: usize,
    phase1: Duration,
    wall: Duration,
    completed: usize,
    failed: usize,
    bad_tokens: usize,
    pair: Latency,
    acs: Latency,
    token: Latency,
    cpu: Option<cpu::Usage>,
}

impl Report {
    fn print(&self, json: bool) {
        let logins_per_s = rate(self.completed, self.wall);
        if json {
            let lat = |l: &Latency| serde_json::json!({ "p50_ms": ms(l.p50), "p99_ms": ms(l.p99), "max_ms": ms(l.max) });
            println!(
                "{}",
                serde_json::json!({
                    "engine": self.engine,
                    "logins": self.logins,
                    "concurrency": self.concurrency,
                    "users": self.users,
                    "tenants": self.tenants,
                    "completed": self.completed,
                    "failed": self.failed,
                    "bad_id_tokens": self.bad_tokens,
                    "phase1_s": self.phase1.as_secs_f64(),
                    "authorize_per_s": rate(self.logins, self.phase1),
                    "wall_s": self.wall.as_secs_f64(),
                    "logins_per_s": logins_per_s,
                    "acs_plus_token": lat(&self.pair),
                    "acs": lat(&self.acs),
                    "token": lat(&self.token),
                    "cpu": self.cpu.map(|u| serde_json::json!({
                        "machine_cores_busy": cpu::cores_busy(u.machine, self.wall),
                        "machine_ms_per_login": cpu::per_login_ms(u.machine, self.completed),
                        "server_ms_per_login": u.server.map(|s| cpu::per_login_ms(s, self.completed)),
                        "database_ms_per_login": u.database.map(|s| cpu::per_login_ms(s, self.completed)),
                        "generator_ms_per_login": cpu::per_login_ms(u.generator, self.completed),
                    })),
                })
            );
            return;
        }
        println!(
            "engine={} logins={} concurrency={} users={} tenants={}",
            self.engine, self.logins, self.concurrency, self.users, self.tenants
        );
        println!(
            "phase 1 (authorize + IdP signing, untimed): {:.2}s ({:.0} authorize/s incl. generator signing)",
            self.phase1.as_secs_f64(),
            rate(self.logins, self.phase1)
        );
        println!(
            "phase 2 (ACS + token): {} ok, {} failed, {} bad ID tokens in {:.2}s = {:.0} logins/s",
            self.completed,
            self.failed,
            self.bad_tokens,
            self.wall.as_secs_f64(),
            logins_per_s
        );
        for (name, l) in [
            ("ACS+token", &self.pair),
            ("ACS", &self.acs),
            ("token", &self.token),
        ] {
            println!(
                "  {name:<10} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
                ms(l.p50),
                ms(l.p99),
                ms(l.max)
            );
        }
        if let Some(u) = self.cpu {
            let server = u
                .server
                .map(|s| format!("{:.2}", cpu::per_login_ms(s, self.completed)))
                .unwrap_or_else(|| "? (give --server-pid)".into());
            let database = u
                .database
                .map(|s| format!("{:.2}", cpu::per_login_ms(s, self.completed)))
                .unwrap_or_else(|| {
                    if self.engine == "Sqlite" {
                        "in the server (SQLite)".into()
                    } else {
                        "? (give --db-process)".into()
                    }
                });
            println!(
                "  CPU during phase 2: machine {:.2} cores busy = {:.2} ms/login; server {server}; database {database}; generator {:.2} (ms/login)",
                cpu::cores_busy(u.machine, self.wall),
                cpu::per_login_ms(u.machine, self.completed),
                cpu::per_login_ms(u.generator, self.completed),
            );
        }
    }
}

#[cfg(test)]
mod tests;
