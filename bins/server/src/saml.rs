//! The SAML service-provider endpoints of each connection.

use crate::error::{HttpError, Surface};
use crate::{correlation_id, run, Facade};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{Actor, Call};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/{connection}/metadata", web::get().to(metadata))
        .route("/saml/{connection}/acs", web::post().to(acs));
}

async fn metadata(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = Call {
        now: now(),
        correlation_id: correlation_id(&req),
        actor: Actor::Browser,
    };
    let id = path.into_inner();
    let xml = run(&gh, Surface::Admin, c, move |gh, _| gh.sp_metadata(&id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml))
}

#[derive(serde::Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn acs(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    form: web::Form<AcsForm>,
) -> Result<HttpResponse, HttpError> {
    let c = Call {
        now: now(),
        correlation_id: correlation_id(&req),
        actor: Actor::Browser,
    };
    let id = path.into_inner();
    let form = form.into_inner();
    let done = run(&gh, Surface::Browser, c, move |gh, c| {
        gh.acs(c, &id, &form.saml_response, form.relay_state.as_deref())
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, done.redirect_to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
