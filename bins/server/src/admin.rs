//! The REST admin API (`/admin/v1`), authenticated with an operator bearer token. Every route is
//! the same facade operation as the matching `gatehouse` CLI command.

use crate::error::{admin_bad_request, HttpError, Surface};
use crate::{correlation_id, run, Facade};
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse::os::now;
use gatehouse::{
    AuditEventFilter, Call, GatehouseError, NewClient, NewSamlConnection, NewTenant,
    SamlConnectionUpdate, TenantUpdate,
};
use serde::Deserialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            // A body or query string that does not parse is answered like any other invalid
            // input: the admin error body, never actix's plain-text default.
            .app_data(
                web::JsonConfig::default()
                    .limit(1024 * 1024)
                    .error_handler(|e, req| admin_bad_request(e.to_string(), req)),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, req| admin_bad_request(e.to_string(), req)),
            )
            .route("/tenants", web::get().to(list_tenants))
            .route("/tenants", web::post().to(create_tenant))
            .route("/tenants/{tenant}", web::get().to(show_tenant))
            .route("/tenants/{tenant}", web::patch().to(update_tenant))
            .route("/tenants/{tenant}/domains", web::post().to(add_domain))
            .route(
                "/tenants/{tenant}/saml-connections",
                web::get().to(list_connections),
            )
            .route(
                "/tenants/{tenant}/saml-connections",
                web::post().to(create_connection),
            )
            .route(
                "/tenants/{tenant}/login-events",
                web::get().to(login_events),
            )
            .route("/tenants/{tenant}/audit", web::get().to(audit_events))
            .route(
                "/tenants/{tenant}/audit/export",
                web::get().to(audit_export),
            )
            .route(
                "/tenants/{tenant}/audit/verify",
                web::get().to(audit_verify),
            )
            .route("/saml-connections/{id}", web::get().to(show_connection))
            .route("/saml-connections/{id}", web::patch().to(update_connection))
            .route(
                "/saml-connections/{id}",
                web::delete().to(delete_connection),
            )
            .route(
                "/saml-connections/{id}/sp-metadata",
                web::get().to(sp_metadata),
            )
            .route(
                "/saml-connections/{id}/refresh-metadata",
                web::post().to(refresh_metadata),
            )
            .route("/clients", web::get().to(list_clients))
            .route("/clients", web::post().to(register_client))
            .route("/clients/{id}/rotate-secret", web::post().to(rotate_secret))
            .route("/keys", web::get().to(list_keys))
            .route("/keys/rotate", web::post().to(rotate_keys))
            .route(
                "/tenants/{tenant}/role-rules",
                web::get().to(get_role_rules),
            )
            .route(
                "/tenants/{tenant}/role-rules",
                web::put().to(put_role_rules),
            )
            .route(
                "/tenants/{tenant}/role-rules/explain",
                web::post().to(explain_roles),
            )
            .route(
                "/tenants/{tenant}/scim-directories",
                web::get().to(list_scim_directories),
            )
            .route(
                "/tenants/{tenant}/scim-directories",
                web::post().to(create_scim_directory),
            )
            .route("/tenants/{tenant}/seats", web::get().to(seats))
            .route("/tenants/{tenant}/users", web::get().to(list_users))
            .route("/tenants/{tenant}/users", web::post().to(create_user))
            .route(
                "/tenants/{tenant}/users/{user}",
                web::delete().to(hard_delete_user),
            )
            .route(
                "/tenants/{tenant}/users/{user}/roles",
                web::get().to(get_user_roles),
            )
            .route(
                "/tenants/{tenant}/users/{user}/roles",
                web::put().to(put_user_roles),
            )
            .route(
                "/tenants/{tenant}/users/{user}/history",
                web::get().to(user_history),
            )
            .route(
                "/scim-directories/{id}/tokens",
                web::get().to(list_scim_tokens),
            )
            .route(
                "/scim-directories/{id}/tokens",
                web::post().to(issue_scim_token),
            )
            .route(
                "/scim-directories/{id}/tokens/rotate",
                web::post().to(rotate_scim_token),
            )
            .route(
                "/scim-directories/{id}/tokens/{token}",
                web::delete().to(revoke_scim_token),
            )
            .route("/sessions/{id}/revoke", web::post().to(revoke_session))
            .route(
                "/users/{id}/revoke-sessions",
                web::post().to(revoke_user_sessions),
            )
            .route("/users/{id}/sessions", web::get().to(list_user_sessions))
            .route("/webhooks", web::get().to(list_webhooks))
            .route("/webhooks", web::post().to(create_webhook))
            .route("/webhooks/{id}", web::delete().to(delete_webhook))
            .route("/tenants/{tenant}/events", web::get().to(tenant_events))
            .route(
                "/tenants/{tenant}/recovery-admins",
                web::get().to(list_recovery_admins),
            )
            .route(
                "/tenants/{tenant}/recovery-admins",
                web::post().to(add_recovery_admin),
            )
            .route(
                "/tenants/{tenant}/recovery-admins/{user}",
                web::delete().to(remove_recovery_admin),
            )
            .route(
                "/tenants/{tenant}/recovery-links",
                web::post().to(issue_recovery_link),
            ),
    );
}

/// Authenticate the operator and build the call context.
async fn operator(req: &HttpRequest, gh: &Facade) -> Result<Call, HttpError> {
    let correlation_id = correlation_id(req);
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .ok_or(HttpError {
            error: GatehouseError::Unauthorized,
            surface: Surface::Admin,
            correlation_id: correlation_id.clone(),
        })?;
    let probe = Call {
        now: now(),
        correlation_id: correlation_id.clone(),
        actor: gatehouse::Actor::System,
    };
    let actor = run(gh, Surface::Admin, probe, move |gh, _| {
        gh.authenticate_operator(&token)
    })
    .await?;
    Ok(Call {
        now: now(),
        correlation_id,
        actor,
    })
}

fn ok<T: serde::Serialize>(v: T) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

async fn list_tenants(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(
        run(&gh, Surface::Admin, c, |gh, _| gh.list_tenants()).await?
    ))
}

async fn create_tenant(
    req: HttpRequest,
    gh: Facade,
    body: web::Json<NewTenant>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let t = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.create_tenant(c, body.into_inner())
    })
    .await?;
    Ok(HttpResponse::Created().json(t))
}

async fn show_tenant(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.show_tenant(&path)
    })
    .await?))
}

async fn update_tenant(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<TenantUpdate>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.update_tenant(c, &path, &body)
    })
    .await?))
}

#[derive(Deserialize)]
struct DomainBody {
    domain: String,
}

async fn add_domain(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<DomainBody>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.add_tenant_domain(c, &path, &body.domain)
    })
    .await?))
}

async fn list_connections(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.list_saml_connections(c, &path)
    })
    .await?))
}

async fn create_connection(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<NewSamlConnection>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let v = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.create_saml_connection(c, &path, body.into_inner())
    })
    .await?;
    Ok(HttpResponse::Created().json(v))
}

async fn show_connection(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.show_saml_connection(c, &path)
    })
    .await?))
}

async fn update_connection(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<SamlConnectionUpdate>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.update_saml_connection(c, &path, body.into_inner())
    })
    .await?))
}

async fn delete_connection(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    run(&gh, Surface::Admin, c, move |gh, c| {
        gh.delete_saml_connection(c, &path)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn refresh_metadata(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.refresh_saml_metadata(c, &path)
    })
    .await?))
}

async fn sp_metadata(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let xml = run(&gh, Surface::Admin, c, move |gh, _| gh.sp_metadata(&path)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml))
}

async fn list_clients(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(
        run(&gh, Surface::Admin, c, |gh, _| gh.list_clients()).await?
    ))
}

async fn register_client(
    req: HttpRequest,
    gh: Facade,
    body: web::Json<NewClient>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let v = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.register_client(c, body.into_inner())
    })
    .await?;
    Ok(HttpResponse::Created().json(v))
}

#[derive(Deserialize)]
struct RotateBody {
    #[serde(default)]
    overlap_secs: i64,
}

/// A body that may be left out: empty is `None`; anything else must be the JSON the route
/// takes, or the request is refused (`Option<web::Json<_>>` would quietly read a malformed
/// body as absent and apply the defaults).
fn optional_json<T: serde::de::DeserializeOwned>(
    c: &Call,
    body: &web::Bytes,
) -> Result<Option<T>, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| HttpError {
            error: GatehouseError::InvalidInput {
                field: "request",
                reason: format!("the body is not valid: {e}"),
            },
            surface: Surface::Admin,
            correlation_id: c.correlation_id.clone(),
        })
}

async fn rotate_secret(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let body: Option<RotateBody> = optional_json(&c, &body)?;
    let overlap = chrono::Duration::seconds(
        body.map(|b| b.overlap_secs)
            .unwrap_or(0)
            .clamp(0, 30 * 86_400),
    );
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.rotate_client_secret(c, &path, overlap)
    })
    .await?))
}

#[derive(Deserialize)]
struct EventsQuery {
    after_seq: Option<i64>,
    limit: Option<i64>,
    event_type: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    actor: Option<String>,
    target: Option<String>,
}

#[derive(Deserialize)]
struct ExportQuery {
    format: gatehouse::ExportFormat,
    event_type: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    actor: Option<String>,
    target: Option<String>,
}

async fn login_events(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let filter = AuditEventFilter {
        tenant: path.into_inner(),
        after_seq: q.after_seq,
        event_type: Some("login.*".into()),
        limit: q.limit,
        ..Default::default()
    };
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.audit_events(&filter)
    })
    .await?))
}

async fn audit_events(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let q = q.into_inner();
    let filter = AuditEventFilter {
        tenant: path.into_inner(),
        after_seq: q.after_seq,
        event_type: q.event_type,
        limit: q.limit,
        from: q.from,
        to: q.to,
        actor: q.actor,
        target: q.target,
    };
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.audit_events(&filter)
    })
    .await?))
}

async fn audit_export(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let q = q.into_inner();
    let format = q.format;
    let filter = AuditEventFilter {
        tenant: path.into_inner(),
        event_type: q.event_type,
        from: q.from,
        to: q.to,
        actor: q.actor,
        target: q.target,
        ..Default::default()
    };
    let body = run(&gh, Surface::Admin, c, move |gh, call| {
        let mut out = Vec::new();
        gh.export_audit(call, &filter, format, &mut out, |_| {})?;
        Ok(out)
    })
    .await?;
    let content_type = match format {
        gatehouse::ExportFormat::Jsonl => "application/x-ndjson",
        gatehouse::ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

async fn audit_verify(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let result = run(&gh, Surface::Admin, c, move |gh, _| {
        gh.verify_audit_chain(&path)
    })
    .await?;
    Ok(ok(match result {
        Ok(records) => serde_json::json!({ "intact": true, "records": records }),
        Err(b) => {
            serde_json::json!({ "intact": false, "first_broken_seq": b.seq, "reason": b.to_string() })
        }
    }))
}

async fn list_keys(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, |gh, _| {
        gh.list_signing_keys()
    })
    .await?))
}

async fn rotate_keys(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let kid = run(&gh, Surface::Admin, c, |gh, c| gh.rotate_signing_key(c)).await?;
    Ok(ok(serde_json::json!({ "kid": kid })))
}

// ---------- SCIM directories, tokens, users, seats ----------

#[derive(Deserialize)]
struct NewDirectory {
    name: String,
}

async fn list_scim_directories(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.list_scim_directories(&path)
    })
    .await?))
}

async fn create_scim_directory(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<NewDirectory>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let d = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.create_scim_directory(c, &path, &body.name)
    })
    .await?;
    Ok(HttpResponse::Created().json(d))
}

async fn seats(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.seat_count(&path)
    })
    .await?))
}

#[derive(Deserialize)]
struct UsersQuery {
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    offset: Option<i64>,
}

async fn list_users(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    q: web::Query<UsersQuery>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let q = q.into_inner();
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.list_tenant_users(
            &path,
            q.active,
            q.limit.unwrap_or(100),
            q.offset.unwrap_or(0),
        )
    })
    .await?))
}

async fn hard_delete_user(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let (tenant, user) = path.into_inner();
    run(&gh, Surface::Admin, c, move |gh, c| {
        gh.hard_delete_user(c, &tenant, &user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn user_history(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let (tenant, user) = path.into_inner();
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.user_history(&tenant, &user)
    })
    .await?))
}

async fn list_scim_tokens(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.list_scim_tokens(&path)
    })
    .await?))
}

async fn issue_scim_token(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let t = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.issue_scim_token(c, &path)
    })
    .await?;
    Ok(HttpResponse::Created().json(t))
}

#[derive(Deserialize)]
struct RotateScimToken {
    /// Seconds the previous tokens keep working (default one hour).
    #[serde(default)]
    overlap_secs: Option<i64>,
}

async fn rotate_scim_token(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let body: Option<RotateScimToken> = optional_json(&c, &body)?;
    let overlap = body.and_then(|b| b.overlap_secs).unwrap_or(3600);
    let t = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.rotate_scim_token(
            c,
            &path,
            // Out-of-range values become a year, which the facade refuses with a clear error.
            chrono::Duration::try_seconds(overlap).unwrap_or(chrono::Duration::days(365)),
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(t))
}

async fn revoke_scim_token(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let (dir, token) = path.into_inner();
    run(&gh, Surface::Admin, c, move |gh, c| {
        gh.revoke_scim_token(c, &dir, &token)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn get_role_rules(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let rules = run(&gh, Surface::Admin, c, move |gh, _| {
        gh.role_rules(&path)?
            .ok_or(GatehouseError::NotFound { what: "role rules" })
    })
    .await?;
    Ok(ok(rules))
}

async fn put_role_rules(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let text = String::from_utf8(body.to_vec()).unwrap_or_default();
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.set_role_rules(c, &path, &text)
    })
    .await?))
}

async fn explain_roles(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<gatehouse::ExplainInput>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.explain_roles(&path, &body)
    })
    .await?))
}

async fn create_user(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<gatehouse::NewUser>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let user = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.provision_user(c, &path, &body)
    })
    .await?;
    Ok(HttpResponse::Created().json(user))
}

async fn get_user_roles(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let (tenant, user) = path.into_inner();
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.user_roles(&tenant, &user)
    })
    .await?))
}

async fn put_user_roles(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
    body: web::Json<gatehouse::UserRolesInput>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let (tenant, user) = path.into_inner();
    let grants = body.into_inner().grants;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.set_user_roles(c, &tenant, &user, grants.clone())
    })
    .await?))
}

// ----- break-glass -----

#[derive(Deserialize)]
struct UserIdBody {
    user_id: String,
}

async fn list_recovery_admins(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.list_recovery_admins(&path)
    })
    .await?))
}

async fn add_recovery_admin(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<UserIdBody>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, c| {
        gh.add_recovery_admin(c, &path, &body.user_id)
    })
    .await?))
}

async fn remove_recovery_admin(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let (tenant, user) = path.into_inner();
    run(&gh, Surface::Admin, c, move |gh, c| {
        gh.remove_recovery_admin(c, &tenant, &user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn issue_recovery_link(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Json<gatehouse::NewRecoveryLink>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let issued = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.issue_recovery_link(c, &path, &body)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(issued))
}

// ----- sessions and events to the app -----

#[derive(Deserialize, Default)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

async fn revoke_session(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let body: Option<ReasonBody> = optional_json(&c, &body)?;
    let reason = body.map(|b| b.reason).unwrap_or_default();
    run(&gh, Surface::Admin, c, move |gh, c| {
        gh.revoke_session(c, &path, &reason)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn revoke_user_sessions(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let body: Option<ReasonBody> = optional_json(&c, &body)?;
    let reason = body.map(|b| b.reason).unwrap_or_default();
    let ended = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.revoke_user_sessions(c, &path, &reason)
    })
    .await?;
    Ok(ok(serde_json::json!({ "revoked": ended })))
}

async fn list_user_sessions(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.list_user_sessions(&path)
    })
    .await?))
}

async fn list_webhooks(req: HttpRequest, gh: Facade) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    Ok(ok(run(&gh, Surface::Admin, c, |gh, _| {
        gh.list_webhook_endpoints()
    })
    .await?))
}

#[derive(Deserialize)]
struct WebhookBody {
    /// Tenant id or slug; absent for every tenant.
    #[serde(default)]
    tenant: Option<String>,
    url: String,
}

async fn create_webhook(
    req: HttpRequest,
    gh: Facade,
    body: web::Json<WebhookBody>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let body = body.into_inner();
    let created = run(&gh, Surface::Admin, c, move |gh, c| {
        gh.create_webhook_endpoint(c, body.tenant.as_deref(), &body.url)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

async fn delete_webhook(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    run(&gh, Surface::Admin, c, move |gh, c| {
        gh.delete_webhook_endpoint(c, &path)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct OutboxQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn tenant_events(
    req: HttpRequest,
    gh: Facade,
    path: web::Path<String>,
    q: web::Query<OutboxQuery>,
) -> Result<HttpResponse, HttpError> {
    let c = operator(&req, &gh).await?;
    let q = q.into_inner();
    Ok(ok(run(&gh, Surface::Admin, c, move |gh, _| {
        gh.events_since(&path, q.after.unwrap_or(0), q.limit.unwrap_or(100))
    })
    .await?))
}
