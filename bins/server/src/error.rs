//! The one place facade errors become HTTP responses. What a browser or app sees is generic and
//! carries a correlation id; the detail went to the logs (and, for logins, the audit trail).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use gatehouse::GatehouseError;
use serde_json::json;

/// Which kind of client an endpoint serves decides how an error is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Operator REST API: JSON `{error, message}`.
    Admin,
    /// OAuth endpoints called by apps: JSON `{error, error_description}` (RFC 6749 §5.2).
    OAuth,
    /// Pages a person sees: HTML with a correlation id.
    Browser,
    /// SCIM endpoints called by an IdP: RFC 7644 §3.12 error bodies (`application/scim+json`).
    Scim,
}

/// A facade error on its way to the client.
#[derive(Debug)]
pub struct HttpError {
    /// The facade error.
    pub error: GatehouseError,
    /// How to render it.
    pub surface: Surface,
    /// Shown to the user, logged with the detail.
    pub correlation_id: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (correlation id {})", self.error, self.correlation_id)
    }
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub fn page(title: &str, body_html: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         code,pre{{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}}pre{{padding:1rem;overflow:auto}}\
         button,input{{font-size:1rem;padding:.4rem .8rem}}</style></head><body><h1>{t}</h1>{body_html}</body></html>",
        t = html_escape(title)
    )
}

/// An admin request whose JSON body or query string did not parse (the extractors' error
/// handlers): rendered as `invalid_input` like every other invalid input.
pub fn admin_bad_request(reason: String, req: &actix_web::HttpRequest) -> actix_web::Error {
    HttpError {
        error: GatehouseError::InvalidInput {
            field: "request",
            reason,
        },
        surface: Surface::Admin,
        correlation_id: crate::correlation_id(req),
    }
    .into()
}

impl HttpError {
    fn status(&self) -> StatusCode {
        match &self.error {
            GatehouseError::NotFound { .. } => StatusCode::NOT_FOUND,
            GatehouseError::Conflict { .. } | GatehouseError::ManagedElsewhere { .. } => {
                StatusCode::CONFLICT
            }
            GatehouseError::InvalidInput { .. } | GatehouseError::Saml(_) => {
                StatusCode::BAD_REQUEST
            }
            GatehouseError::Unauthorized => StatusCode::UNAUTHORIZED,
            GatehouseError::OAuth { error, .. } => match *error {
                "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
                "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            },
            GatehouseError::OAuthRedirect { .. } => StatusCode::FOUND,
            GatehouseError::LoginFailed { .. } => StatusCode::FORBIDDEN,
            GatehouseError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatehouseError::Scim { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message safe to show: never storage or crypto detail.
    fn public_message(&self) -> String {
        match &self.error {
            GatehouseError::NotFound { .. }
            | GatehouseError::Conflict { .. }
            | GatehouseError::ManagedElsewhere { .. }
            | GatehouseError::InvalidInput { .. }
            | GatehouseError::Saml(_) => self.error.to_string(),
            GatehouseError::Unauthorized => "a valid operator bearer token is required".into(),
            GatehouseError::OAuth { description, .. } => description.clone(),
            GatehouseError::Scim { detail, .. } => detail.clone(),
            GatehouseError::LoginFailed { reason_code, .. } => {
                gatehouse::access_refusal_message(reason_code)
                    .unwrap_or("sign-in could not be completed")
                    .into()
            }
            GatehouseError::Storage(_) => "the service is temporarily unavailable".into(),
            _ => "internal error".into(),
        }
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(correlation_id = %self.correlation_id, error = %self.error, "request failed");
        } else {
            tracing::info!(correlation_id = %self.correlation_id, error = %self.error, "request refused");
        }
        if let GatehouseError::OAuthRedirect {
            redirect_uri,
            error,
            description,
            state,
        } = &self.error
        {
            if let Ok(mut url) = url::Url::parse(redirect_uri) {
                url.query_pairs_mut()
                    .append_pair("error", error)
                    .append_pair("error_description", description);
                if let Some(s) = state {
                    url.query_pairs_mut().append_pair("state", s);
                }
                return HttpResponse::Found()
                    .insert_header((header::LOCATION, url.as_str()))
                    .finish();
            }
        }
        let mut builder = HttpResponse::build(status);
        builder.insert_header(("X-Correlation-Id", self.correlation_id.clone()));
        builder.insert_header((header::CACHE_CONTROL, "no-store"));
        match self.surface {
            Surface::Admin => builder.json(json!({ "error": code_of(&self.error), "message": self.public_message(), "correlation_id": self.correlation_id })),
            Surface::OAuth => {
                if status == StatusCode::UNAUTHORIZED {
                    // A bad bearer token (userinfo) is challenged as RFC 6750 §3 says; a failed
                    // client authentication (token, introspection) as RFC 6749 §5.2 says.
                    let challenge = match &self.error {
                        GatehouseError::OAuth { error: "invalid_token", .. } => "Bearer error=\"invalid_token\"",
                        _ => "Basic realm=\"gatehouse\"",
                    };
                    builder.insert_header((header::WWW_AUTHENTICATE, challenge));
                }
                let (error, description) = match &self.error {
                    GatehouseError::OAuth { error, description } => (*error, description.clone()),
                    GatehouseError::InvalidInput { .. } => ("invalid_request", self.public_message()),
                    _ => ("server_error", self.public_message()),
                };
                builder.json(json!({ "error": error, "error_description": description }))
            }
            Surface::Scim => {
                if status == StatusCode::UNAUTHORIZED {
                    builder.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
                }
                let scim_type = match &self.error {
                    GatehouseError::Scim { scim_type, .. } => *scim_type,
                    _ => None,
                };
                let detail = match &self.error {
                    GatehouseError::Unauthorized => "a valid SCIM bearer token for this directory is required".to_owned(),
                    _ => self.public_message(),
                };
                builder
                    .content_type("application/scim+json")
                    .body(gatehouse::scim_error_body(status.as_u16(), scim_type, &detail).to_string())
            }
            Surface::Browser => {
                let body = format!(
                    "<p>{}</p><p>If this keeps happening, give your administrator this reference: <code>{}</code></p>",
                    html_escape(&self.public_message()),
                    html_escape(&self.correlation_id)
                );
                builder.content_type("text/html; charset=utf-8").body(page("Sign-in problem", &body))
            }
        }
    }
}

fn code_of(e: &GatehouseError) -> &'static str {
    match e {
        GatehouseError::NotFound { .. } => "not_found",
        GatehouseError::Conflict { .. } => "conflict",
        GatehouseError::ManagedElsewhere { .. } => "managed_by_identity_provider",
        GatehouseError::InvalidInput { .. } | GatehouseError::Saml(_) => "invalid_input",
        GatehouseError::Unauthorized => "unauthorized",
        GatehouseError::OAuth { error, .. } => error,
        GatehouseError::LoginFailed { .. } => "login_failed",
        GatehouseError::Storage(_) => "unavailable",
        GatehouseError::Scim { .. } => "scim_error",
        _ => "internal",
    }
}
