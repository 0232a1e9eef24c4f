//! The app-facing OpenID Connect provider endpoints.

use crate::error::{html_escape, page, HttpError, Surface};
use crate::{correlation_id, run, Facade};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{Actor, AuthorizeOutcome, Call, ClientAuth, GatehouseError};
use oidc_core::provider::{IntrospectionRequest, TokenRequest};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery),
    )
    .route("/oauth/jwks", web::get().to(jwks))
    .route("/oauth/authorize", web::get().to(authorize_get))
    .route("/oauth/authorize", web::post().to(authorize_post))
    .route("/oauth/token", web::post().to(token))
    .route("/oauth/userinfo", web::get().to(userinfo))
    .route("/oauth/userinfo", web::post().to(userinfo))
    .route("/oauth/introspect", web::post().to(introspect));
}

fn call(req: &HttpRequest, actor: Actor) -> Call {
    Call {
        now: now(),
        correlation_id: correlation_id(req),
        actor,
    }
}

/// Decode `application/x-www-form-urlencoded` (query or body) into pairs, refusing repeated
/// parameters (RFC 6749 §3.1: parameters must not be included more than once).
pub fn form_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, GatehouseError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(GatehouseError::OAuth {
            error: "invalid_request",
            description: "a parameter is repeated".into(),
        });
    }
    Ok(pairs)
}

async fn discovery(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let doc = gh.discovery_document().map_err(|error| HttpError {
        error,
        surface: Surface::OAuth,
        correlation_id: correlation_id(&req),
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(doc))
}

async fn jwks(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let doc = run(&gh, Surface::OAuth, call(&req, Actor::System), |gh, c| {
        gh.jwks(c)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(doc))
}

async fn authorize_get(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    authorize(req.clone(), gh, req.query_string().as_bytes().to_vec()).await
}

async fn authorize_post(
    req: HttpRequest,
    gh: Facade,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    authorize(req, gh, body.to_vec()).await
}

async fn authorize(req: HttpRequest, gh: Facade, raw: Vec<u8>) -> Result<HttpResponse, HttpError> {
    let c = call(&req, Actor::Browser);
    let correlation_id = c.correlation_id.clone();
    let browser_error = |error| HttpError {
        error,
        surface: Surface::Browser,
        correlation_id: correlation_id.clone(),
    };
    let pairs = form_pairs(&raw).map_err(browser_error)?;
    let outcome = run(&gh, Surface::Browser, c, {
        let pairs = pairs.clone();
        move |gh, c| gh.authorize_pairs(c, &pairs)
    })
    .await?;
    Ok(match outcome {
        AuthorizeOutcome::Redirect(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .finish(),
        AuthorizeOutcome::PostForm(html) => post_binding_page(html),
        AuthorizeOutcome::AskForEmail => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(email_page(&pairs)),
    })
}

/// A SAML HTTP-POST binding page (auto-submitting form), with a CSP that allows only its one
/// script, by hash.
pub fn post_binding_page(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; script-src {}; form-action *",
                saml_core::authn_request::post_form_script_csp_hash()
            ),
        ))
        .body(html)
}

/// Home-realm discovery: the user's e-mail domain picks the tenant.
fn email_page(pairs: &[(String, String)]) -> String {
    let hidden: String = pairs
        .iter()
        .filter(|(k, _)| k != "login_hint")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    page(
        "Sign in",
        &format!(
            "<form method=\"post\" action=\"/oauth/authorize\">{hidden}<p><label>Work e-mail<br>\
             <input type=\"email\" name=\"login_hint\" required autofocus></label></p>\
             <p><button type=\"submit\">Continue with single sign-on</button></p></form>"
        ),
    )
}

async fn token(req: HttpRequest, gh: Facade, body: web::Bytes) -> Result<HttpResponse, HttpError> {
    let c = call(&req, Actor::System);
    let oauth_err = |error| HttpError {
        error,
        surface: Surface::OAuth,
        correlation_id: c.correlation_id.clone(),
    };
    let pairs = form_pairs(&body).map_err(oauth_err)?;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let request = TokenRequest::parse(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        authorization,
    )
    .map_err(|e| {
        oauth_err(GatehouseError::OAuth {
            error: e.error.as_str(),
            description: e.description.into_owned(),
        })
    })?;
    let response = run(&gh, Surface::OAuth, c.clone(), move |gh, c| {
        gh.token(c, &request)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(response))
}

fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
}

async fn userinfo(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let c = call(&req, Actor::System);
    let Some(token) = bearer(&req) else {
        // No credentials at all: a bare challenge, without an error code (RFC 6750 §3.1).
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"gatehouse\""))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("X-Correlation-Id", c.correlation_id))
            .finish());
    };
    let claims = run(&gh, Surface::OAuth, c, move |gh, c| gh.userinfo(c, &token)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(claims))
}

async fn introspect(
    req: HttpRequest,
    gh: Facade,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let c = call(&req, Actor::System);
    let oauth_err = |error| HttpError {
        error,
        surface: Surface::OAuth,
        correlation_id: c.correlation_id.clone(),
    };
    let pairs = form_pairs(&body).map_err(oauth_err)?;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let request = IntrospectionRequest::parse(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        authorization,
    )
    .map_err(|e| {
        oauth_err(GatehouseError::OAuth {
            error: e.error.as_str(),
            description: e.description.into_owned(),
        })
    })?;
    let auth = ClientAuth::from(&request.client);
    let answer = run(&gh, Surface::OAuth, c.clone(), move |gh, c| {
        gh.introspect(c, &auth, &request.token)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
