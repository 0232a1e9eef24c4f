//! The break-glass recovery link (`/recovery/{secret}`). GET only shows a confirmation page:
//! mail scanners and link previews fetch links, and must not burn a one-time credential. The
//! button POSTs, which uses the link and sends the browser to the app with a code.

use crate::error::{html_escape, page, HttpError, Surface};
use crate::{correlation_id, run, Facade};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{Actor, Call};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/recovery/{secret}", web::get().to(confirm))
        .route("/recovery/{secret}", web::post().to(use_link));
}

async fn confirm(path: web::Path<String>) -> HttpResponse {
    let action = format!("/recovery/{}", html_escape(&path.into_inner()));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; form-action 'self'",
        ))
        .body(page(
            "Recovery sign-in",
            &format!(
                "<p>This one-time link signs you in without your identity provider. It works once \
                 and expires soon; its use is recorded.</p>\
                 <form method=\"post\" action=\"{action}\"><button type=\"submit\">Sign in</button></form>"
            ),
        ))
}

async fn use_link(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = Call {
        now: now(),
        correlation_id: correlation_id(&req),
        actor: Actor::Browser,
    };
    let secret = path.into_inner();
    let done = run(&gh, Surface::Browser, c, move |gh, c| {
        gh.use_recovery_link(c, &secret)
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, done.redirect_to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
