//! `gatehouse-server`: the actix-web shell around the Gatehouse facade. Routes extract, call
//! the facade off the async executor, and convert; error rendering lives in [`error`].

mod admin;
mod demo;
mod error;
mod logout;
mod oauth;
mod recovery;
mod saml;
mod scim;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context;
use gatehouse::os::{now, OsEntropy};
use gatehouse::settings::Settings;
use gatehouse::{Call, Gatehouse, GatehouseConfig};
use std::sync::Arc;

/// mimalloc instead of glibc's malloc: a SCIM lookup allocates a few hundred small blocks across
/// two threads (actix worker and blocking pool), and glibc spent a tenth of the server's CPU on
/// them (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use error::{HttpError, Surface};

/// Shared state of every handler.
pub type Facade = web::Data<Arc<Gatehouse>>;

/// A fresh correlation id for a request (or the caller's `X-Request-Id` if it is sane).
pub fn correlation_id(req: &HttpRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| gatehouse::os::random_hex(8))
}

/// Run a facade call on the blocking pool (diesel is synchronous) and map its error.
pub async fn run<T, F>(gh: &Facade, surface: Surface, call: Call, f: F) -> Result<T, HttpError>
where
    T: Send + 'static,
    F: FnOnce(&Gatehouse, &Call) -> gatehouse::Result<T> + Send + 'static,
{
    let gh = gh.get_ref().clone();
    let correlation_id = call.correlation_id.clone();
    match web::block(move || f(&gh, &call)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(error)) => Err(HttpError {
            error,
            surface,
            correlation_id,
        }),
        Err(e) => Err(HttpError {
            error: gatehouse::GatehouseError::Internal {
                detail: e.to_string(),
            },
            surface,
            correlation_id,
        }),
    }
}

async fn healthz(gh: Facade) -> HttpResponse {
    let gh = gh.get_ref().clone();
    match web::block(move || gh.list_signing_keys().map(|k| k.len())).await {
        Ok(Ok(_)) => HttpResponse::Ok().json(serde_json::json!({ "status": "ok" })),
        _ => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(include_str!("../../../docs/openapi.json"))
}

/// Every route of the server; the embedding story for Rust apps is to call this on their own
/// `App` with the same `Facade` data.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // SCIM first: actix tries routes in order, matching each pattern with parameters by a
    // regular expression, and IdPs' SCIM requests are the most frequent by far (no SCIM path
    // overlaps another surface's).
    cfg.configure(scim::routes)
        .route("/healthz", web::get().to(healthz))
        .route("/openapi.json", web::get().to(openapi))
        .configure(oauth::routes)
        .configure(saml::routes)
        .configure(logout::routes)
        .configure(recovery::routes)
        .configure(admin::routes)
        .configure(demo::routes);
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The background worker: every 250 ms, deliver what is due (webhooks, back-channel logouts),
/// so a revocation reaches the app within a second, and put sessions that expired on record
/// (`session.terminated`, reason `expired`); every minute, purge expired replay-cache entries,
/// login flows and authorization codes. Every replica runs one; the leases in the outbox keep
/// them from posting the same delivery twice at once, the expiry sweep claims each session with
/// a conditional update, so none is recorded twice, and two purges delete the same rows
/// harmlessly. A plain thread, because the facade's HTTP client is blocking and must stay off
/// the async executor.
fn spawn_background_worker(gh: Arc<Gatehouse>) -> std::io::Result<()> {
    const PURGE_EVERY_PASSES: u32 = 240;
    std::thread::Builder::new()
        .name("background-worker".into())
        .spawn(move || {
            let mut pass: u32 = 0;
            loop {
                if let Err(error) = gh.deliver_due(&Call::system(now()), 100) {
                    tracing::warn!(%error, "event delivery pass failed");
                }
                if let Err(error) = gh.record_expired_sessions(&Call::system(now()), 100) {
                    tracing::warn!(%error, "session expiry sweep failed");
                }
                if pass.is_multiple_of(PURGE_EVERY_PASSES) {
                    match gh.purge_expired(&Call::system(now())) {
                        Ok(purged) => tracing::debug!(purged, "expired rows purged"),
                        Err(error) => tracing::warn!(%error, "purge of expired rows failed"),
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
                pass = pass.wrapping_add(1);
            }
        })
        .map(drop)
}

/// The change listener (PostgreSQL only; on SQLite the thread ends at once): hears of every
/// committed change to the rows the facade caches (SCIM tokens, SAML connections, apps), made
/// by this or any other replica, the CLI or an operator's SQL, and makes the facade forget
/// them. Pumped every 50 ms, which bounds how long another replica's change goes unnoticed
/// here; each pump also keeps a ping travelling through the channel, and only a ping that came
/// back proves the listener (`gatehouse::cache::LIVE_FOR_MS`), so one that stalls, loses its
/// connection or stops hearing turns the caching off within half a second.
fn spawn_change_listener(gh: Arc<Gatehouse>) -> std::io::Result<()> {
    const PUMP_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
    std::thread::Builder::new()
        .name("change-listener".into())
        .spawn(move || loop {
            match gh.open_change_listener() {
                Ok(None) => return,
                Ok(Some(mut listener)) => loop {
                    if let Err(error) = gh.pump_changes(&mut listener, now()) {
                        tracing::warn!(%error, "change listener failed; caching paused");
                        break;
                    }
                    std::thread::sleep(PUMP_EVERY);
                },
                Err(error) => tracing::warn!(%error, "change listener could not be opened"),
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        })
        .map(drop)
}

fn main() -> anyhow::Result<()> {
    let config_file = std::env::args().skip_while(|a| a != "--config").nth(1);
    let settings = Settings::load(config_file.as_deref().map(std::path::Path::new), |k| {
        std::env::var(k).ok()
    })
    .context("invalid configuration")?;
    init_tracing(settings.log_json);
    let store = storage::Store::open_with_pool_size(&settings.database_url, settings.db_pool)
        .context("opening the database")?;
    let applied = store.migrate().context("applying migrations")?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    if store.autovacuum_enabled().context("reading autovacuum")? == Some(false) {
        tracing::warn!(
            "PostgreSQL autovacuum is off: tables are never analyzed, so lookups can slow to \
             scans as they grow; turn it on (README, configuration)"
        );
    }
    let secrets = settings
        .secret_box(&mut OsEntropy)
        .context("loading the secret key")?;
    let mut config = GatehouseConfig::new(settings.public_url.clone(), secrets);
    config.demo_idp = settings.demo;
    let gh = Arc::new(Gatehouse::new(store, config, Box::new(OsEntropy)));
    gh.ensure_signing_key(&Call::system(now()))
        .context("creating the token-signing key")?;
    if settings.demo {
        let demo = gh
            .setup_demo(&Call::system(now()))
            .context("setting up the demo tenant")?;
        tracing::info!(
            "demo mode: open {}demo/app and sign in as {}",
            settings.public_url,
            demo.users.join(" or ")
        );
    }
    spawn_background_worker(gh.clone()).context("starting the background worker")?;
    spawn_change_listener(gh.clone()).context("starting the change listener")?;
    tracing::info!(listen = %settings.listen, public_url = %settings.public_url, database = ?gh.store().engine(), "gatehouse-server starting");
    let data = web::Data::new(gh);
    let listen = settings.listen;
    // Twice the cores by default: a SCIM read waits for its one database round trip on the
    // worker thread (scim.rs, `scim_read`), and a second worker per core keeps the core busy
    // meanwhile. More measured slower (docs/benchmarks.md).
    let workers = match settings.workers {
        Some(w) => w as usize,
        None => std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
    };
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::FormConfig::default().limit(1024 * 1024))
                .app_data(web::JsonConfig::default().limit(1024 * 1024))
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .configure(routes)
        })
        .workers(workers)
        .bind(listen)
        .with_context(|| format!("binding {listen}"))?
        .run()
        .await
        .context("server stopped with an error")
    })
}
