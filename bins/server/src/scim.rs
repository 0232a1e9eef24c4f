//! The SCIM 2.0 endpoints (`/scim/v2/{directory_id}/...`) an IdP (Okta, Entra ID) drives: bearer
//! authentication per directory, a per-token rate limit, bounded bodies, `application/scim+json`
//! in and out. Handlers extract, call the facade and convert; every protocol decision is in
//! `gatehouse::scim` and `scim-model`.

use crate::error::{HttpError, Surface};
use crate::{correlation_id, Facade};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{
    Call, Gatehouse, GatehouseError, ScimClient, ScimKind, ScimResponse, SCIM_PAGINATION,
};
use scim_model::{Projection, SearchRequest};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

const SCIM_JSON: &str = "application/scim+json";
/// Largest request body accepted (also the advertised bulk `maxPayloadSize`).
const MAX_BODY: usize = gatehouse::SCIM_BULK_LIMITS.max_payload_size;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `/ServiceProviderConfig` names this page as its documentationUri: it lists what can be
    // filtered and sorted, which the discovery documents have no field for.
    cfg.route("/docs/scim.md", web::get().to(documentation));
    cfg.service(
        web::scope("/scim/v2/{directory}")
            // The discovery documents are read-only (RFC 7644 §4): any other method is `405`
            // with `Allow: GET`, not a `404` from the `/{kind}` routes below (registered later,
            // so these resources match first).
            .service(
                allowing("/ServiceProviderConfig", "GET")
                    .route(web::get().to(service_provider_config)),
            )
            .service(allowing("/ResourceTypes", "GET").route(web::get().to(resource_types)))
            .service(allowing("/ResourceTypes/{name}", "GET").route(web::get().to(resource_type)))
            .service(allowing("/Schemas", "GET").route(web::get().to(schemas)))
            .service(allowing("/Schemas/{id}", "GET").route(web::get().to(schema)))
            .service(allowing("/.search", "POST").route(web::post().to(search_all)))
            .service(allowing("/Bulk", "POST").route(web::post().to(bulk)))
            .service(
                allowing("/{kind}", "GET, POST")
                    .route(web::get().to(list))
                    .route(web::post().to(create)),
            )
            .service(allowing("/{kind}/.search", "POST").route(web::post().to(search)))
            .service(
                allowing("/{kind}/{id}", "GET, PUT, PATCH, DELETE")
                    .route(web::get().to(get))
                    .route(web::put().to(replace))
                    .route(web::patch().to(patch))
                    .route(web::delete().to(delete)),
            )
            // Anything else under a directory (`/Users/`, `/Users/a/b`, `/Me`): a SCIM `404`
            // after authentication, never actix's bare empty one.
            .default_service(web::to(no_such_endpoint)),
    );
}

// ---------- rate limit ----------

/// A token bucket per SCIM token, in the memory of this process: with N replicas the
/// effective limit is N times the configured one (documented in docs/scim.md).
struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    fn global() -> &'static RateLimiter {
        static LIMITER: OnceLock<RateLimiter> = OnceLock::new();
        LIMITER.get_or_init(|| {
            let per_sec = std::env::var("GATEHOUSE_SCIM_RATE_PER_SEC")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0)
                .unwrap_or(1000.0);
            RateLimiter {
                per_sec,
                burst: per_sec * 2.0,
                buckets: Mutex::new(HashMap::new()),
            }
        })
    }

    /// Take one request from the token's bucket; `Err(seconds)` says when to retry.
    fn take(&self, token_id: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Bound memory: forget idle buckets (a full bucket carries no information).
        if buckets.len() > 10_000 {
            let burst = self.burst;
            let per_sec = self.per_sec;
            buckets.retain(|_, (level, at)| {
                *level + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (level, at) = buckets
            .entry(token_id.to_owned())
            .or_insert((self.burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

// ---------- helpers ----------

fn scim_error(correlation_id: &str, error: GatehouseError) -> HttpError {
    HttpError {
        error,
        surface: Surface::Scim,
        correlation_id: correlation_id.to_owned(),
    }
}

/// Why a SCIM request got no answer from its operation: authentication or the operation
/// failed, or the token is over its rate limit.
#[derive(Debug)]
enum Refusal {
    Failed(HttpError),
    RateLimited {
        retry_after: u64,
        correlation_id: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Failed(e) => e.fmt(f),
            Refusal::RateLimited { retry_after, .. } => {
                write!(f, "rate limited, retry after {retry_after} s")
            }
        }
    }
}

impl actix_web::ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::Failed(e) => e.status_code(),
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Refusal::Failed(e) => e.error_response(),
            Refusal::RateLimited {
                retry_after,
                correlation_id,
            } => {
                let body =
                    gatehouse::scim_error_body(429, None, "rate limit exceeded for this token");
                HttpResponse::TooManyRequests()
                    .insert_header((header::RETRY_AFTER, retry_after.to_string()))
                    .insert_header(("X-Correlation-Id", correlation_id.clone()))
                    .content_type(SCIM_JSON)
                    .body(body.to_string())
            }
        }
    }
}

/// A SCIM caller that presented a live token of the directory in the URL and was within its
/// rate limit: who it is, and the call context of its request.
struct Authorized {
    call: Call,
    client: ScimClient,
}

/// What authentication needs from the request: its correlation id, directory and bearer token.
fn credentials(req: &HttpRequest) -> (String, String, String) {
    let directory = req.match_info().get("directory").unwrap_or("").to_owned();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    (correlation_id(req), directory, token)
}

/// Authenticate and take one request from the token's rate limit (on the blocking pool).
fn authorize(
    gh: &Gatehouse,
    correlation_id: &str,
    directory: &str,
    token: &str,
) -> Result<Authorized, Refusal> {
    let now = now();
    let client = gh
        .authenticate_scim(now, directory, token)
        .map_err(|e| Refusal::Failed(scim_error(correlation_id, e)))?;
    RateLimiter::global()
        .take(&client.token_id)
        .map_err(|retry_after| Refusal::RateLimited {
            retry_after,
            correlation_id: correlation_id.to_owned(),
        })?;
    Ok(Authorized {
        call: Call {
            now,
            correlation_id: correlation_id.to_owned(),
            actor: client.actor(),
        },
        client,
    })
}

/// Run `f` on the blocking pool (diesel is synchronous); a failure of the pool itself is a 500
/// without detail.
async fn blocking<T: Send + 'static>(
    correlation_id: &str,
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    web::block(f).await.unwrap_or_else(|e| {
        Err(Refusal::Failed(scim_error(
            correlation_id,
            GatehouseError::Internal {
                detail: e.to_string(),
            },
        )))
    })
}

/// The whole of a request without a body, as one closure: authenticate its bearer token, take
/// one request from the token's rate limit, and run `op` as the directory it belongs to.
/// Anything the handler parsed before (kind, query) arrives as a `Result` that `op` unwraps,
/// so a malformed request from an unauthenticated caller still gets `401`, never a hint about
/// the request. Returned with the request's correlation id.
fn authorized<T, F>(
    req: &HttpRequest,
    gh: &Facade,
    op: F,
) -> (String, impl FnOnce() -> Result<T, Refusal>)
where
    F: FnOnce(&Gatehouse, &Call, &ScimClient) -> gatehouse::Result<T>,
{
    let (correlation_id, directory, token) = credentials(req);
    let gh = gh.get_ref().clone();
    let cid = correlation_id.clone();
    let run = move || {
        let who = authorize(&gh, &cid, &directory, &token)?;
        op(&gh, &who.call, &who.client).map_err(|e| Refusal::Failed(scim_error(&cid, e)))
    };
    (correlation_id, run)
}

/// A request without a body that writes (`DELETE`): [`authorized`] in one trip to the blocking
/// pool.
async fn scim_op<T, F>(req: &HttpRequest, gh: &Facade, op: F) -> Result<T, Refusal>
where
    T: Send + 'static,
    F: FnOnce(&Gatehouse, &Call, &ScimClient) -> gatehouse::Result<T> + Send + 'static,
{
    let (correlation_id, run) = authorized(req, gh, op);
    blocking(&correlation_id, run).await
}

/// How a read may run: [`Read::Point`] for a point lookup
/// (`Gatehouse::scim_read_is_point_lookup`) or an answer that only authenticates, which may
/// run on the worker thread; [`Read::Heavy`] for everything else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Point,
    Heavy,
}

/// A request that only reads (`GET`, and the answers that only authenticate): [`authorized`].
/// A point lookup runs on this worker thread when a database connection is free at this
/// instant; anything else, or with no connection free, takes one trip to the blocking pool.
/// A point lookup is one indexed statement (its token usually comes from the facade's cache),
/// and handing it to another thread and back cost as much CPU as the statement itself; what
/// the worker may not do is wait for a connection, which `read_without_waiting` never does,
/// or run a read whose size the request decides (docs/architecture.md, "Reads on the
/// worker"). A panic on the worker is answered like one on the pool: `500`.
async fn scim_read<T, F>(req: &HttpRequest, gh: &Facade, read: Read, op: F) -> Result<T, Refusal>
where
    T: Send + 'static,
    F: FnOnce(&Gatehouse, &Call, &ScimClient) -> gatehouse::Result<T> + Send + 'static,
{
    let (correlation_id, run) = authorized(req, gh, op);
    match read {
        Read::Point => on_worker_or_blocking(gh, &correlation_id, run).await,
        Read::Heavy => blocking(&correlation_id, run).await,
    }
}

/// Run `f`, which only reads, on this worker thread if a database connection is free at this
/// instant (`Store::read_without_waiting`), else on the blocking pool; a panic on the worker is
/// a `500`, as on the pool.
async fn on_worker_or_blocking<T: Send + 'static>(
    gh: &Facade,
    correlation_id: &str,
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let inline = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gh.store().read_without_waiting(f)
    }));
    match inline {
        Ok(Ok(answered)) => answered,
        Ok(Err(f)) => blocking(correlation_id, f).await,
        Err(_panicked) => Err(Refusal::Failed(scim_error(
            correlation_id,
            GatehouseError::Internal {
                detail: "a SCIM read panicked".into(),
            },
        ))),
    }
}

/// For requests with a body: authenticate first (one trip), so that nobody without a valid
/// token makes the server read up to [`MAX_BODY`] bytes, then read the body, then run `op` (a
/// second trip). The body's errors (too large, unreadable) reach `op` as a `Result`.
async fn scim_op_with_body<T, F>(
    req: &HttpRequest,
    gh: &Facade,
    payload: web::Payload,
    op: F,
) -> Result<T, Refusal>
where
    T: Send + 'static,
    F: FnOnce(
            &Gatehouse,
            &Call,
            &ScimClient,
            gatehouse::Result<web::Bytes>,
        ) -> gatehouse::Result<T>
        + Send
        + 'static,
{
    let (correlation_id, directory, token) = credentials(req);
    let facade = gh.get_ref().clone();
    let cid = correlation_id.clone();
    // Authentication only reads (and usually hits the token cache), like a point lookup.
    let authenticate = move || authorize(&facade, &cid, &directory, &token);
    let who = on_worker_or_blocking(gh, &correlation_id, authenticate).await?;
    let body = read_body(payload).await;
    let gh = gh.get_ref().clone();
    let cid = correlation_id.clone();
    blocking(&correlation_id, move || {
        op(&gh, &who.call, &who.client, body).map_err(|e| Refusal::Failed(scim_error(&cid, e)))
    })
    .await
}

/// An endpoint whose routes the caller adds; any other method is answered by
/// [`method_not_allowed`] with `allow` (RFC 9110 §15.5.6).
fn allowing(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest, gh: Facade| {
        method_not_allowed(req, gh, allow)
    }))
}

/// `405` with `Allow` and a SCIM error body, after authentication (an unauthenticated caller
/// learns nothing beyond the usual `401`). Under `/{kind}` an unknown resource type is `404`.
async fn method_not_allowed(
    req: HttpRequest,
    gh: Facade,
    allow: &'static str,
) -> Result<HttpResponse, Refusal> {
    let kind = match req.match_info().get("kind") {
        Some(_) => kind_of(&req).map(drop),
        None => Ok(()),
    };
    let correlation_id = scim_read(&req, &gh, Read::Point, move |_, call, _| {
        kind?;
        Ok(call.correlation_id.clone())
    })
    .await?;
    let detail = format!(
        "{} is not supported on this endpoint; allowed: {allow}",
        req.method()
    );
    let body = gatehouse::scim_error_body(405, None, &detail);
    Ok(HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .insert_header(("X-Correlation-Id", correlation_id))
        .content_type(SCIM_JSON)
        .body(body.to_string()))
}

/// A path under a directory that names no SCIM endpoint: `404` with a SCIM body, after
/// authentication like every other answer here.
async fn no_such_endpoint(req: HttpRequest, gh: Facade) -> Result<HttpResponse, Refusal> {
    let outcome: Result<std::convert::Infallible, Refusal> =
        scim_read(&req, &gh, Read::Point, |_, _, _| {
            Err(scim_model::ScimError::NotFound.into())
        })
        .await;
    match outcome {
        Ok(never) => match never {},
        Err(refusal) => Err(refusal),
    }
}

/// [`Read::Point`] when `Gatehouse::scim_read_is_point_lookup` says so (and for an unknown
/// resource type, refused after authentication without a database read).
fn point_or_heavy(
    kind: &gatehouse::Result<ScimKind>,
    pairs: &[(String, String)],
    by_id: bool,
) -> Read {
    let point = match kind {
        Ok(kind) => Gatehouse::scim_read_is_point_lookup(
            *kind,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            by_id,
        ),
        Err(_) => true,
    };
    if point {
        Read::Point
    } else {
        Read::Heavy
    }
}

fn kind_of(req: &HttpRequest) -> gatehouse::Result<ScimKind> {
    match req.match_info().get("kind") {
        Some("Users") => Ok(ScimKind::User),
        Some("Groups") => Ok(ScimKind::Group),
        _ => Err(scim_model::ScimError::NotFound.into()),
    }
}

fn header_value(req: &HttpRequest, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The request body, at most [`MAX_BODY`] bytes, read once the caller is authenticated; a
/// failure is reported to the operation (after the resource type is judged).
async fn read_body(payload: web::Payload) -> gatehouse::Result<web::Bytes> {
    match payload.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Err(_limit_exceeded) => Err(scim_model::ScimError::PayloadTooLarge {
            size: None,
            limit: MAX_BODY,
        }
        .into()),
        Ok(Err(_)) => Err(scim_model::ScimError::InvalidSyntax {
            reason: "the request body could not be read".into(),
        }
        .into()),
    }
}

fn parse_json(body: gatehouse::Result<web::Bytes>) -> gatehouse::Result<Value> {
    Ok(scim_model::parse_body(&body?)?)
}

fn send(r: ScimResponse) -> HttpResponse {
    let mut b = HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK));
    if let Some(etag) = r.etag {
        b.insert_header((header::ETAG, etag));
    }
    if let Some(location) = r.location {
        b.insert_header((header::LOCATION, location));
    }
    match r.body {
        Some(body) => b.content_type(SCIM_JSON).body(body.to_string()),
        None => b.finish(),
    }
}

fn document(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(SCIM_JSON)
        .body(body.to_string())
}

// ---------- discovery ----------

async fn documentation() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .body(include_str!("../../../docs/scim.md"))
}

/// The discovery query rule (`scim_model::discovery::check_discovery_query`), judged after
/// authentication like everything else here.
fn unfiltered(req: &HttpRequest) -> gatehouse::Result<()> {
    let pairs = query_pairs(req);
    Ok(scim_model::discovery::check_discovery_query(
        pairs.iter().map(|(k, _)| k.as_str()),
    )?)
}

async fn service_provider_config(req: HttpRequest, gh: Facade) -> Result<HttpResponse, Refusal> {
    let unfiltered = unfiltered(&req);
    let doc = scim_read(&req, &gh, Read::Point, |gh, _, client| {
        unfiltered?;
        Ok(gh.scim_service_provider_config(client))
    })
    .await?;
    Ok(document(doc))
}

async fn resource_types(req: HttpRequest, gh: Facade) -> Result<HttpResponse, Refusal> {
    let unfiltered = unfiltered(&req);
    let doc = scim_read(&req, &gh, Read::Point, |gh, _, client| {
        unfiltered?;
        gh.scim_resource_types(client, None)
    })
    .await?;
    Ok(document(doc))
}

async fn resource_type(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Refusal> {
    let unfiltered = unfiltered(&req);
    let name = path.into_inner().1;
    let doc = scim_read(&req, &gh, Read::Point, move |gh, _, client| {
        unfiltered?;
        gh.scim_resource_types(client, Some(&name))
    })
    .await?;
    Ok(document(doc))
}

async fn schemas(req: HttpRequest, gh: Facade) -> Result<HttpResponse, Refusal> {
    let unfiltered = unfiltered(&req);
    let doc = scim_read(&req, &gh, Read::Point, |gh, _, client| {
        unfiltered?;
        gh.scim_schemas(client, None)
    })
    .await?;
    Ok(document(doc))
}

async fn schema(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Refusal> {
    let unfiltered = unfiltered(&req);
    let id = path.into_inner().1;
    let doc = scim_read(&req, &gh, Read::Point, move |gh, _, client| {
        unfiltered?;
        gh.scim_schemas(client, Some(&id))
    })
    .await?;
    Ok(document(doc))
}

// ---------- resources ----------

async fn list(req: HttpRequest, gh: Facade) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let pairs = query_pairs(&req);
    let read = point_or_heavy(&kind, &pairs, false);
    let doc = scim_read(&req, &gh, read, move |gh, _, client| {
        let kind = kind?;
        let search = SearchRequest::from_query(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SCIM_PAGINATION,
        )?;
        gh.scim_search(client, kind, &search)
    })
    .await?;
    Ok(document(doc))
}

async fn search(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let doc = scim_op_with_body(&req, &gh, payload, move |gh, _, client, body| {
        let kind = kind?;
        let search = SearchRequest::from_json(&parse_json(body)?, SCIM_PAGINATION)?;
        gh.scim_search(client, kind, &search)
    })
    .await?;
    Ok(document(doc))
}

async fn search_all(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let doc = scim_op_with_body(&req, &gh, payload, move |gh, _, client, body| {
        let search = SearchRequest::from_json(&parse_json(body)?, SCIM_PAGINATION)?;
        gh.scim_search_all(client, &search)
    })
    .await?;
    Ok(document(doc))
}

async fn create(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let r = scim_op_with_body(&req, &gh, payload, move |gh, call, client, body| {
        let kind = kind?;
        gh.scim_create(call, client, kind, &parse_json(body)?)
    })
    .await?;
    Ok(send(r))
}

async fn get(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let pairs = query_pairs(&req);
    let if_none_match = header_value(&req, header::IF_NONE_MATCH);
    let id = path.into_inner().2;
    let r = scim_read(
        &req,
        &gh,
        point_or_heavy(&kind, &pairs, true),
        move |gh, _, client| {
            let kind = kind?;
            let find = |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let projection = Projection::parse(find("attributes"), find("excludedAttributes"))?;
            gh.scim_get(client, kind, &id, &projection, if_none_match.as_deref())
        },
    )
    .await?;
    Ok(send(r))
}

async fn replace(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let if_match = header_value(&req, header::IF_MATCH);
    let id = path.into_inner().2;
    let r = scim_op_with_body(&req, &gh, payload, move |gh, call, client, body| {
        let kind = kind?;
        let body = parse_json(body)?;
        gh.scim_replace(call, client, kind, &id, &body, if_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn patch(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let if_match = header_value(&req, header::IF_MATCH);
    let id = path.into_inner().2;
    let r = scim_op_with_body(&req, &gh, payload, move |gh, call, client, body| {
        let kind = kind?;
        let body = parse_json(body)?;
        gh.scim_patch(call, client, kind, &id, &body, if_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn delete(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, Refusal> {
    let kind = kind_of(&req);
    let if_match = header_value(&req, header::IF_MATCH);
    let id = path.into_inner().2;
    let r = scim_op(&req, &gh, move |gh, call, client| {
        gh.scim_delete(call, client, kind?, &id, if_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn bulk(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, Refusal> {
    let doc = scim_op_with_body(&req, &gh, payload, move |gh, call, client, body| {
        gh.scim_bulk(call, client, &body?)
    })
    .await?;
    Ok(document(doc))
}
