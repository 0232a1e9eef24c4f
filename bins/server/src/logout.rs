//! Logout endpoints: the app's RP-initiated logout (`/oauth/logout`) and each SAML
//! connection's SingleLogoutService (`/saml/{connection}/slo`, HTTP-Redirect and HTTP-POST).

use crate::error::{page, HttpError, Surface};
use crate::oauth::{form_pairs, post_binding_page};
use crate::{correlation_id, run, Facade};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{Actor, Call, LogoutOutcome, SloMessage};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/logout", web::get().to(end_session_get))
        .route("/oauth/logout", web::post().to(end_session_post))
        .route("/saml/{connection}/slo", web::get().to(slo_redirect))
        .route("/saml/{connection}/slo", web::post().to(slo_post));
}

fn browser(req: &HttpRequest) -> Call {
    Call {
        now: now(),
        correlation_id: correlation_id(req),
        actor: Actor::Browser,
    }
}

fn respond(outcome: LogoutOutcome) -> HttpResponse {
    match outcome {
        LogoutOutcome::Redirect(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        LogoutOutcome::PostForm(html) => post_binding_page(html),
        LogoutOutcome::SignedOut => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(page(
                "Signed out",
                "<p>You are signed out. You can close this window.</p>",
            )),
    }
}

async fn end_session_get(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    end_session(req.clone(), gh, req.query_string().as_bytes().to_vec()).await
}

async fn end_session_post(
    req: HttpRequest,
    gh: Facade,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    end_session(req, gh, body.to_vec()).await
}

async fn end_session(
    req: HttpRequest,
    gh: Facade,
    raw: Vec<u8>,
) -> Result<HttpResponse, HttpError> {
    let c = browser(&req);
    let pairs = form_pairs(&raw).map_err(|error| HttpError {
        error,
        surface: Surface::Browser,
        correlation_id: c.correlation_id.clone(),
    })?;
    let outcome = run(&gh, Surface::Browser, c, move |gh, c| {
        gh.end_session(c, pairs.clone())
    })
    .await?;
    Ok(respond(outcome))
}

async fn slo_redirect(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = browser(&req);
    let id = path.into_inner();
    // The signature covers the query exactly as received, so it is passed on untouched.
    let query = req.query_string().to_owned();
    let outcome = run(&gh, Surface::Browser, c, move |gh, c| {
        gh.saml_slo(c, &id, SloMessage::Redirect { query: &query })
    })
    .await?;
    Ok(respond(outcome))
}

#[derive(serde::Deserialize)]
struct SloForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn slo_post(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    form: web::Form<SloForm>,
) -> Result<HttpResponse, HttpError> {
    let c = browser(&req);
    let id = path.into_inner();
    let form = form.into_inner();
    let outcome = run(&gh, Surface::Browser, c, move |gh, c| {
        gh.saml_slo(
            c,
            &id,
            SloMessage::Post {
                saml_request: form.saml_request.as_deref(),
                saml_response: form.saml_response.as_deref(),
                relay_state: form.relay_state.as_deref(),
            },
        )
    })
    .await?;
    Ok(respond(outcome))
}
