//! The SCIM 2.0 endpoints (`/scim/v2/{directory_id}/...`) an IdP (Okta, Entra ID) drives: bearer
//! authentication per directory, a per-token rate limit, bounded bodies, `application/scim+json`
//! in and out. Handlers extract, call the facade and convert; every protocol decision is in
//! `gatehouse::scim` and `scim-model`.

use crate::error::{HttpError, Surface};
use crate::{correlation_id, run, Facade};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{Call, GatehouseError, ScimClient, ScimKind, ScimResponse, SCIM_PAGINATION};
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
                read_only("/ServiceProviderConfig").route(web::get().to(service_provider_config)),
            )
            .service(read_only("/ResourceTypes").route(web::get().to(resource_types)))
            .service(read_only("/ResourceTypes/{name}").route(web::get().to(resource_type)))
            .service(read_only("/Schemas").route(web::get().to(schemas)))
            .service(read_only("/Schemas/{id}").route(web::get().to(schema)))
            .route("/.search", web::post().to(search_all))
            .route("/Bulk", web::post().to(bulk))
            .route("/{kind}", web::get().to(list))
            .route("/{kind}", web::post().to(create))
            .route("/{kind}/.search", web::post().to(search))
            .route("/{kind}/{id}", web::get().to(get))
            .route("/{kind}/{id}", web::put().to(replace))
            .route("/{kind}/{id}", web::patch().to(patch))
            .route("/{kind}/{id}", web::delete().to(delete)),
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

fn bad_request(correlation_id: &str, e: scim_model::ScimError) -> HttpError {
    scim_error(correlation_id, e.into())
}

/// The caller of a SCIM request: authenticated, rate-limited, with its call context.
struct Scim {
    client: ScimClient,
    call: Call,
}

async fn authenticate(req: &HttpRequest, gh: &Facade) -> Result<Scim, HttpResponse> {
    let correlation_id = correlation_id(req);
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
    let probe = Call {
        now: now(),
        correlation_id: correlation_id.clone(),
        actor: gatehouse::Actor::System,
    };
    let client = run(gh, Surface::Scim, probe, move |gh, c| {
        gh.authenticate_scim(c.now, &directory, &token)
    })
    .await
    .map_err(|mut e| {
        e.surface = Surface::Scim;
        actix_web::ResponseError::error_response(&e)
    })?;
    if let Err(retry_after) = RateLimiter::global().take(&client.token_id) {
        let body = gatehouse::scim_error_body(429, None, "rate limit exceeded for this token");
        return Err(HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, retry_after.to_string()))
            .insert_header(("X-Correlation-Id", correlation_id))
            .content_type(SCIM_JSON)
            .body(body.to_string()));
    }
    Ok(Scim {
        call: Call {
            now: now(),
            correlation_id,
            actor: client.actor(),
        },
        client,
    })
}

/// Authenticate or return the error response from the handler.
macro_rules! scim_auth {
    ($req:expr, $gh:expr) => {
        match authenticate(&$req, &$gh).await {
            Ok(s) => s,
            Err(response) => return Ok(response),
        }
    };
}

/// A discovery resource: its GET route is added by the caller, every other method is answered
/// by [`method_not_allowed`].
fn read_only(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// `405` with `Allow: GET` and a SCIM error body, after authentication (an unauthenticated
/// caller learns nothing beyond the usual `401`).
async fn method_not_allowed(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let detail = format!(
        "{} is not supported here; this endpoint is read-only",
        req.method()
    );
    let body = gatehouse::scim_error_body(405, None, &detail);
    Ok(HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET"))
        .insert_header(("X-Correlation-Id", s.call.correlation_id))
        .content_type(SCIM_JSON)
        .body(body.to_string()))
}

fn kind_of(req: &HttpRequest, correlation_id: &str) -> Result<ScimKind, HttpError> {
    match req.match_info().get("kind") {
        Some("Users") => Ok(ScimKind::User),
        Some("Groups") => Ok(ScimKind::Group),
        _ => Err(scim_error(
            correlation_id,
            scim_model::ScimError::NotFound.into(),
        )),
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

async fn read_body(payload: web::Payload, correlation_id: &str) -> Result<web::Bytes, HttpError> {
    match payload.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Err(_limit_exceeded) => Err(bad_request(
            correlation_id,
            scim_model::ScimError::PayloadTooLarge {
                size: MAX_BODY + 1,
                limit: MAX_BODY,
            },
        )),
        Ok(Err(_)) => Err(bad_request(
            correlation_id,
            scim_model::ScimError::InvalidSyntax {
                reason: "the request body could not be read".into(),
            },
        )),
    }
}

async fn json_body(payload: web::Payload, correlation_id: &str) -> Result<Value, HttpError> {
    let bytes = read_body(payload, correlation_id).await?;
    serde_json::from_slice(&bytes).map_err(|_| {
        bad_request(
            correlation_id,
            scim_model::ScimError::InvalidSyntax {
                reason: "the body is not valid JSON".into(),
            },
        )
    })
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

async fn service_provider_config(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    Ok(document(gh.scim_service_provider_config(&s.client)))
}

async fn resource_types(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let doc = gh
        .scim_resource_types(&s.client, None)
        .map_err(|e| scim_error(&s.call.correlation_id, e))?;
    Ok(document(doc))
}

async fn resource_type(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let doc = gh
        .scim_resource_types(&s.client, Some(&path.1))
        .map_err(|e| scim_error(&s.call.correlation_id, e))?;
    Ok(document(doc))
}

async fn schemas(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let doc = gh
        .scim_schemas(&s.client, None)
        .map_err(|e| scim_error(&s.call.correlation_id, e))?;
    Ok(document(doc))
}

async fn schema(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let doc = gh
        .scim_schemas(&s.client, Some(&path.1))
        .map_err(|e| scim_error(&s.call.correlation_id, e))?;
    Ok(document(doc))
}

// ---------- resources ----------

async fn list(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let pairs = query_pairs(&req);
    let search = SearchRequest::from_query(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SCIM_PAGINATION,
    )
    .map_err(|e| bad_request(&cid, e))?;
    let client = s.client;
    let doc = run(&gh, Surface::Scim, s.call, move |gh, _| {
        gh.scim_search(&client, kind, &search)
    })
    .await?;
    Ok(document(doc))
}

async fn search(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let body = json_body(payload, &cid).await?;
    let search =
        SearchRequest::from_json(&body, SCIM_PAGINATION).map_err(|e| bad_request(&cid, e))?;
    let client = s.client;
    let doc = run(&gh, Surface::Scim, s.call, move |gh, _| {
        gh.scim_search(&client, kind, &search)
    })
    .await?;
    Ok(document(doc))
}

async fn search_all(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let body = json_body(payload, &cid).await?;
    let search =
        SearchRequest::from_json(&body, SCIM_PAGINATION).map_err(|e| bad_request(&cid, e))?;
    let client = s.client;
    let doc = run(&gh, Surface::Scim, s.call, move |gh, _| {
        gh.scim_search_all(&client, &search)
    })
    .await?;
    Ok(document(doc))
}

async fn create(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let body = json_body(payload, &cid).await?;
    let client = s.client;
    let r = run(&gh, Surface::Scim, s.call, move |gh, c| {
        gh.scim_create(c, &client, kind, &body)
    })
    .await?;
    Ok(send(r))
}

async fn get(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let pairs = query_pairs(&req);
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let projection = Projection::parse(find("attributes"), find("excludedAttributes"))
        .map_err(|e| bad_request(&cid, e))?;
    let if_none_match = header_value(&req, header::IF_NONE_MATCH);
    let client = s.client;
    let id = path.into_inner().2;
    let r = run(&gh, Surface::Scim, s.call, move |gh, _| {
        gh.scim_get(&client, kind, &id, &projection, if_none_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn replace(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let body = json_body(payload, &cid).await?;
    let if_match = header_value(&req, header::IF_MATCH);
    let client = s.client;
    let id = path.into_inner().2;
    let r = run(&gh, Surface::Scim, s.call, move |gh, c| {
        gh.scim_replace(c, &client, kind, &id, &body, if_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn patch(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let body = json_body(payload, &cid).await?;
    let if_match = header_value(&req, header::IF_MATCH);
    let client = s.client;
    let id = path.into_inner().2;
    let r = run(&gh, Surface::Scim, s.call, move |gh, c| {
        gh.scim_patch(c, &client, kind, &id, &body, if_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn delete(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let kind = kind_of(&req, &cid)?;
    let if_match = header_value(&req, header::IF_MATCH);
    let client = s.client;
    let id = path.into_inner().2;
    let r = run(&gh, Surface::Scim, s.call, move |gh, c| {
        gh.scim_delete(c, &client, kind, &id, if_match.as_deref())
    })
    .await?;
    Ok(send(r))
}

async fn bulk(
    req: HttpRequest,
    gh: Facade,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let s = scim_auth!(req, gh);
    let cid = s.call.correlation_id.clone();
    let body = read_body(payload, &cid).await?;
    let client = s.client;
    let doc = run(&gh, Surface::Scim, s.call, move |gh, c| {
        gh.scim_bulk(c, &client, &body)
    })
    .await?;
    Ok(document(doc))
}
