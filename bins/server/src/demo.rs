//! Demo mode pages: a tiny app that signs in through Gatehouse, and the bundled test IdP's login
//! page. Every route answers 404 unless the server runs with `GATEHOUSE_DEMO=1`.

use crate::error::{html_escape, page, HttpError, Surface};
use crate::{correlation_id, run, Facade};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use gatehouse::demo::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_USERS};
use gatehouse::os::{now, random_hex};
use gatehouse::{Actor, Call, ClientAuth, GatehouseError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo/app", web::get().to(app_home))
        .route("/demo/app/callback", web::get().to(app_callback))
        .route("/demo/idp/sso", web::get().to(idp_login_page))
        .route("/demo/idp/sso", web::post().to(idp_login));
}

fn call(req: &HttpRequest) -> Call {
    Call {
        now: now(),
        correlation_id: correlation_id(req),
        actor: Actor::Browser,
    }
}

fn not_found(req: &HttpRequest) -> HttpError {
    HttpError {
        error: GatehouseError::NotFound { what: "page" },
        surface: Surface::Browser,
        correlation_id: correlation_id(req),
    }
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

async fn app_home(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    if !gh.config().demo_idp {
        return Err(not_found(&req));
    }
    let redirect_uri = format!("{}/demo/app/callback", gh.issuer());
    let mut authorize = url::Url::parse(&format!("{}/oauth/authorize", gh.issuer()))
        .map_err(|_| not_found(&req))?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid email profile")
        .append_pair("state", &random_hex(8))
        .append_pair("nonce", &random_hex(8));
    Ok(html(page(
        "Demo app",
        &format!(
            "<p>This page is an ordinary OpenID Connect client of Gatehouse (<code>client_id={DEMO_CLIENT_ID}</code>).</p>\
             <p><a href=\"{}\"><button>Sign in with SSO</button></a></p>\
             <p>Gatehouse asks for your work e-mail: use <code>alice@acme.test</code> or <code>bob@acme.test</code>. \
             The domain routes you to tenant <code>acme</code>, whose IdP is the bundled test IdP.</p>",
            html_escape(authorize.as_str())
        ),
    )))
}

#[derive(serde::Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn app_callback(
    req: HttpRequest,
    gh: Facade,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, HttpError> {
    if !gh.config().demo_idp {
        return Err(not_found(&req));
    }
    let q = q.into_inner();
    let Some(code) = q.code else {
        let msg = format!(
            "{}: {}",
            q.error.unwrap_or_default(),
            q.error_description.unwrap_or_default()
        );
        return Ok(html(page(
            "Sign-in refused",
            &format!(
                "<p>{}</p><p><a href=\"/demo/app\">Back</a></p>",
                html_escape(&msg)
            ),
        )));
    };
    let redirect_uri = format!("{}/demo/app/callback", gh.issuer());
    let c = call(&req);
    let tokens = run(&gh, Surface::Browser, c, move |gh, c| {
        let auth = ClientAuth::Secret {
            client_id: DEMO_CLIENT_ID.into(),
            secret: DEMO_CLIENT_SECRET.into(),
        };
        gh.exchange_code(c, &auth, &code, &redirect_uri, None)
    })
    .await?;
    // Display only: the payload of the ID token the app just received over the back channel.
    let payload = tokens
        .id_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_default();
    Ok(html(page(
        "Signed in",
        &format!(
            "<p>The app exchanged the code for tokens. ID token claims:</p><pre>{}</pre>\
             <p>Access token (opaque; try <code>/oauth/userinfo</code> or <code>/oauth/introspect</code>):</p><pre>{}</pre>\
             <p><a href=\"/demo/app\">Start again</a></p>",
            html_escape(&payload),
            html_escape(&tokens.access_token)
        ),
    )))
}

async fn idp_login_page(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let query = req.query_string().to_owned();
    let c = call(&req);
    let q2 = query.clone();
    run(&gh, Surface::Browser, c, move |gh, _| {
        gh.demo_idp_request(&q2)
    })
    .await?;
    let buttons: String = DEMO_USERS
        .iter()
        .map(|u| {
            format!(
                "<p><button name=\"email\" value=\"{e}\">{f} {l} &lt;{e}&gt; — groups: {g}</button></p>",
                e = html_escape(u.email),
                f = html_escape(u.first_name),
                l = html_escape(u.last_name),
                g = html_escape(&u.groups.join(", "))
            )
        })
        .collect();
    Ok(html(page(
        "Demo IdP",
        &format!(
            "<p>This is Gatehouse's bundled test identity provider (demo mode only). Pick who you are:</p>\
             <form method=\"post\" action=\"/demo/idp/sso\"><input type=\"hidden\" name=\"query\" value=\"{}\">{buttons}</form>",
            html_escape(&query)
        ),
    )))
}

#[derive(serde::Deserialize)]
struct IdpLoginForm {
    query: String,
    email: String,
}

async fn idp_login(
    req: HttpRequest,
    gh: Facade,
    form: web::Form<IdpLoginForm>,
) -> Result<HttpResponse, HttpError> {
    let c = call(&req);
    let form = form.into_inner();
    let body = run(&gh, Surface::Browser, c, move |gh, c| {
        gh.demo_idp_respond(c, &form.query, &form.email)
    })
    .await?;
    Ok(html(body))
}
