//! Each command: convert the arguments, call the facade operation the REST admin API uses for
//! the same thing, print the result. No validation beyond argument shapes happens here.

use crate::cli::{
    AuditCmd, Binding, Cli, ClientCmd, Command, IdpArgs, KeysCmd, OperatorTokenCmd, RecoveryCmd,
    RolesCmd, SamlCmd, ScimCmd, SessionsCmd, TenantCmd, UsersCmd, WebhooksCmd,
};
use crate::output::{self, print, print_json, warn};
use crate::progress::ExportMeter;
use crate::InputError;
use anyhow::Context;
use gatehouse::os::{now, OsEntropy};
use gatehouse::settings::Settings;
use gatehouse::{
    AuditEventFilter, Call, Gatehouse, GatehouseConfig, IdpSource, NewClient, NewSamlConnection,
    NewTenant, SamlConnectionUpdate, SsoBinding,
};
use serde_json::json;
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

/// Metadata and certificate files are small; refusing anything larger keeps a mistaken path
/// (a disk image, `/dev/zero`) from being read into memory. Same bound as a metadata download.
const MAX_INPUT_FILE: u64 = 1 << 20;

/// Load settings exactly as the server does and compose the facade on a migrated store.
/// Returns the facade and the migrations applied just now.
fn open(config: Option<&Path>) -> anyhow::Result<(Gatehouse, Vec<String>)> {
    let settings =
        Settings::load(config, |k| std::env::var(k).ok()).context("invalid configuration")?;
    // One command needs one connection at a time; the server's pool size would open (and keep
    // waiting on) connections this short-lived process never uses.
    let store = storage::Store::open_with_pool_size(&settings.database_url, 2)
        .context("opening the database")?;
    let applied = store.migrate().context("applying migrations")?;
    let secrets = settings
        .secret_box(&mut OsEntropy)
        .context("loading the secret key")?;
    let mut config = GatehouseConfig::new(settings.public_url.clone(), secrets);
    config.demo_idp = settings.demo;
    Ok((Gatehouse::new(store, config, Box::new(OsEntropy)), applied))
}

/// The login name of whoever runs the command, when the environment says it ($USER, else
/// $LOGNAME, as login(1) sets them); empty values count as unset.
fn os_user() -> Option<String> {
    ["USER", "LOGNAME"]
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|name| !name.is_empty())
}

/// Read a small input file, naming it in the error.
fn read_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let fail = |e: &dyn std::fmt::Display| {
        anyhow::Error::new(InputError(format!(
            "reading {what} {}: {e}",
            path.display()
        )))
    };
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let mut text = String::new();
    file.take(MAX_INPUT_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(&e))?;
    if text.len() as u64 > MAX_INPUT_FILE {
        return Err(fail(&"larger than 1 MiB"));
    }
    Ok(text)
}

/// The IdP source the arguments name, if any (clap already refused conflicting combinations).
fn idp_source(args: &IdpArgs) -> anyhow::Result<Option<IdpSource>> {
    if let Some(path) = &args.metadata_file {
        return Ok(Some(IdpSource::MetadataXml(read_file(
            path,
            "metadata file",
        )?)));
    }
    if let Some(url) = &args.metadata_url {
        return Ok(Some(IdpSource::MetadataUrl(url.clone())));
    }
    match (&args.entity_id, &args.sso_url, &args.certificate_file) {
        (Some(entity_id), Some(sso_url), Some(cert)) => Ok(Some(IdpSource::Manual {
            entity_id: entity_id.clone(),
            sso_url: sso_url.clone(),
            certificate_pem: read_file(cert, "certificate file")?,
        })),
        _ => Ok(None),
    }
}

/// Print `value` as JSON or as the human rendering.
macro_rules! emit {
    ($json:expr, $value:expr, $human:expr) => {{
        let value = &$value;
        if $json {
            print_json(&serde_json::to_value(value)?)
        } else {
            print(&$human(value))
        }
    }};
}

/// Run one command; `Ok` carries the exit code (a broken audit chain is a result, not an error).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (gh, applied) = open(cli.config.as_deref())?;
    let json = cli.json;
    if !matches!(cli.command, Command::Migrate) && !applied.is_empty() {
        warn(&format!("applied migrations {}", applied.join(", ")));
    }
    let operator = cli.actor.clone().or_else(os_user);
    let call = Call::cli(now(), operator.as_deref()).with_context(|| {
        let name = operator.as_deref().unwrap_or_default();
        // `--actor operator:x` is what a filter by actor looked like before `--by`.
        let hint = if name.contains(':') {
            " (to filter records by actor, use --by KIND:ID)"
        } else {
            ""
        };
        format!(
            "operator name {name:?} (from --actor, GATEHOUSE_ACTOR, $USER or $LOGNAME) is not usable; pass --actor NAME{hint}"
        )
    })?;
    match cli.command {
        Command::Migrate => {
            if json {
                print_json(&json!({ "applied": applied }))?;
            } else if applied.is_empty() {
                print("up to date")?;
            } else {
                print(&format!("applied {}", applied.join(", ")))?;
            }
        }
        Command::Tenant(cmd) => tenant(&gh, &call, json, cmd)?,
        Command::Saml(cmd) => saml(&gh, &call, json, cmd)?,
        Command::Client(cmd) => client(&gh, &call, json, cmd)?,
        Command::OperatorToken(cmd) => operator_token(&gh, &call, json, cmd)?,
        Command::Keys(KeysCmd::List) => emit!(json, gh.list_signing_keys()?, |k: &Vec<_>| {
            output::signing_keys(k)
        })?,
        Command::Keys(KeysCmd::Rotate) => {
            let kid = gh.rotate_signing_key(&call)?;
            if json {
                print_json(&json!({ "kid": kid }))?;
            } else {
                print(&format!("new signing key {kid} is active"))?;
            }
        }
        Command::Events {
            tenant,
            event_type,
            after,
            limit,
            filter,
        } => {
            let records = gh.audit_events(&AuditEventFilter {
                tenant,
                after_seq: after,
                event_type: Some(event_type),
                limit,
                from: filter.from,
                to: filter.to,
                actor: filter.by,
                target: filter.target,
            })?;
            if json {
                print_json(&serde_json::to_value(&records)?)?;
            } else {
                print(&audit_table(&records)?)?;
            }
        }
        Command::Roles(RolesCmd::Set { tenant, file }) => {
            let text = read_file(&file, "rules file")?;
            let view = gh.set_role_rules(&call, &tenant, &text)?;
            emit!(json, view, |v: &gatehouse::RoleRulesView| format!(
                "role rules of {tenant} stored as version {} ({} rules)",
                v.version,
                v.rules.rules.len()
            ))?;
        }
        Command::Roles(RolesCmd::Show { tenant }) => {
            let view = gh
                .role_rules(&tenant)?
                .ok_or(gatehouse::GatehouseError::NotFound { what: "role rules" })?;
            print_json(&serde_json::to_value(&view)?)?;
        }
        Command::Roles(RolesCmd::Explain {
            tenant,
            connection,
            groups,
            attributes,
        }) => {
            let mut attrs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for a in attributes {
                let (name, value) = a
                    .split_once('=')
                    .ok_or_else(|| InputError(format!("--attribute {a:?}: expected NAME=VALUE")))?;
                attrs
                    .entry(name.to_owned())
                    .or_default()
                    .push(value.to_owned());
            }
            let input = gatehouse::ExplainInput {
                connection,
                groups,
                attributes: attrs,
            };
            let view = gh.explain_roles(&tenant, &input)?;
            emit!(json, view, |v: &gatehouse::ExplainView| v
                .explanation
                .clone())?;
        }
        Command::Scim(cmd) => scim(&gh, &call, json, cmd)?,
        Command::Users(UsersCmd::List {
            tenant,
            active,
            limit,
            offset,
        }) => {
            let users = gh.list_tenant_users(&tenant, active, limit, offset)?;
            emit!(json, users, |u: &Vec<gatehouse::UserView>| u
                .iter()
                .map(|u| format!(
                    "{}  {}  {}  {}",
                    u.id,
                    if u.active { "active  " } else { "inactive" },
                    u.user_name.as_deref().or(u.email.as_deref()).unwrap_or("-"),
                    u.directory_id
                        .as_deref()
                        .or(u.connection_id.as_deref())
                        .unwrap_or("-")
                ))
                .collect::<Vec<_>>()
                .join("\n"))?;
        }
        Command::Users(UsersCmd::History { tenant, user }) => {
            let records = gh.user_history(&tenant, &user)?;
            if json {
                print_json(&serde_json::to_value(&records)?)?;
            } else {
                print(&audit_table(&records)?)?;
            }
        }
        Command::Users(UsersCmd::Create {
            tenant,
            email,
            first_name,
            last_name,
        }) => {
            let user = gh.provision_user(
                &call,
                &tenant,
                &gatehouse::NewUser {
                    email,
                    first_name,
                    last_name,
                },
            )?;
            emit!(json, user, |u: &gatehouse::UserView| format!(
                "user {} created ({}); their first SAML login with this e-mail links to it",
                u.id,
                u.email.as_deref().unwrap_or("-")
            ))?;
        }
        Command::Users(UsersCmd::Roles { tenant, user }) => {
            let roles = gh.user_roles(&tenant, &user)?;
            emit!(json, roles, user_roles_text)?;
        }
        Command::Users(UsersCmd::SetRoles {
            tenant,
            user,
            grants,
        }) => {
            let grants = grants
                .iter()
                .map(|g| parse_grant(g))
                .collect::<Result<Vec<_>, _>>()?;
            let roles = gh.set_user_roles(&call, &tenant, &user, grants)?;
            emit!(json, roles, user_roles_text)?;
        }
        Command::Users(UsersCmd::Delete { tenant, user, yes }) => {
            if !yes {
                return Err(InputError("hard delete cannot be undone: add --yes".into()).into());
            }
            gh.hard_delete_user(&call, &tenant, &user)?;
            emit!(
                json,
                json!({ "id": user, "deleted": true }),
                |_v: &serde_json::Value| format!("user {user} deleted")
            )?;
        }
        Command::Users(UsersCmd::RevokeSessions { user, reason }) => {
            let ended = gh.revoke_user_sessions(&call, &user, &reason)?;
            emit!(
                json,
                json!({ "revoked": ended }),
                |_v: &serde_json::Value| { format!("{} sessions of {user} revoked", ended.len()) }
            )?;
        }
        Command::Sessions(SessionsCmd::List { user }) => {
            let sessions = gh.list_user_sessions(&user)?;
            emit!(json, sessions, |l: &Vec<gatehouse::SessionView>| {
                output::table(
                    &["ID", "APP", "CREATED", "EXPIRES", "REVOKED"],
                    &l.iter()
                        .map(|s| {
                            vec![
                                s.id.clone(),
                                s.client_id.clone(),
                                s.created_at.clone(),
                                s.expires_at.clone(),
                                s.revoked_at.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })?;
        }
        Command::Sessions(SessionsCmd::Revoke { id, reason }) => {
            gh.revoke_session(&call, &id, &reason)?;
            emit!(
                json,
                json!({ "id": id, "revoked": true }),
                |_v: &serde_json::Value| format!("session {id} revoked")
            )?;
        }
        Command::Webhooks(WebhooksCmd::Create { url, tenant }) => {
            let created = gh.create_webhook_endpoint(&call, tenant.as_deref(), &url)?;
            emit!(json, created, |c: &gatehouse::WebhookCreated| format!(
                "webhook {} created\nsigning secret (shown only now): {}",
                c.endpoint.id, c.secret
            ))?;
        }
        Command::Recovery(cmd) => recovery(&gh, &call, json, cmd)?,
        Command::Webhooks(WebhooksCmd::List) => {
            let list = gh.list_webhook_endpoints()?;
            emit!(json, list, |l: &Vec<gatehouse::WebhookEndpointView>| {
                output::table(
                    &["ID", "TENANT", "URL", "ENABLED"],
                    &l.iter()
                        .map(|w| {
                            vec![
                                w.id.clone(),
                                w.tenant_id.clone().unwrap_or_else(|| "(all)".into()),
                                w.url.clone(),
                                w.enabled.to_string(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })?;
        }
        Command::Webhooks(WebhooksCmd::Delete { id }) => {
            gh.delete_webhook_endpoint(&call, &id)?;
            emit!(
                json,
                json!({ "id": id, "deleted": true }),
                |_v: &serde_json::Value| format!("webhook {id} deleted")
            )?;
        }
        Command::Seats { tenant } => {
            let seats = gh.seat_count(&tenant)?;
            emit!(json, seats, |s: &gatehouse::SeatCount| format!(
                "{tenant}: {} occupied seats (active users)",
                s.active_users
            ))?;
        }
        Command::Audit(AuditCmd::Export {
            tenant,
            format,
            output: path,
            event_type,
            filter,
        }) => {
            let format = match format.as_str() {
                "jsonl" => gatehouse::ExportFormat::Jsonl,
                "csv" => gatehouse::ExportFormat::Csv,
                other => {
                    return Err(
                        InputError(format!("--format {other:?}: expected jsonl or csv")).into(),
                    )
                }
            };
            let query = AuditEventFilter {
                tenant,
                event_type: Some(event_type),
                from: filter.from,
                to: filter.to,
                actor: filter.by,
                target: filter.target,
                ..Default::default()
            };
            // Progress goes to stderr so stdout stays a clean export; a bar only where a
            // person watches it, and not over records scrolling past on the same terminal.
            let watched = std::io::stderr().is_terminal()
                && (path.is_some() || !std::io::stdout().is_terminal());
            let mut meter = ExportMeter::on_stderr(watched);
            let progress = |p| meter.update(p);
            let total = match &path {
                Some(p) => {
                    let file = std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    let mut writer = std::io::BufWriter::new(file);
                    let n = gh.export_audit(&call, &query, format, &mut writer, progress)?;
                    std::io::Write::flush(&mut writer)?;
                    n
                }
                None => {
                    gh.export_audit(&call, &query, format, std::io::stdout().lock(), progress)?
                }
            };
            meter.finish(total);
        }
        Command::Audit(AuditCmd::Verify { tenant }) => {
            return match gh.verify_audit_chain(&tenant)? {
                Ok(records) => {
                    if json {
                        print_json(&json!({ "intact": true, "records": records }))?;
                    } else {
                        print(&format!(
                            "audit chain of {tenant} is intact ({records} records)"
                        ))?;
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(b) => {
                    if json {
                        print_json(&json!({
                            "intact": false,
                            "first_broken_seq": b.seq,
                            "reason": b.to_string(),
                        }))?;
                    } else {
                        print(&format!(
                            "audit chain of {tenant} is BROKEN: first broken record is seq {}: {}",
                            b.seq, b.reason
                        ))?;
                    }
                    eprintln!("error: {b}");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tenant(gh: &Gatehouse, call: &Call, json: bool, cmd: TenantCmd) -> anyhow::Result<()> {
    match cmd {
        TenantCmd::Create {
            slug,
            name,
            external_id,
            domains,
        } => {
            let t = gh.create_tenant(
                call,
                NewTenant {
                    slug,
                    display_name: name,
                    external_id,
                    domains,
                },
            )?;
            emit!(json, t, output::tenant)
        }
        TenantCmd::List => emit!(json, gh.list_tenants()?, |l: &Vec<_>| output::tenants(l)),
        TenantCmd::Show { tenant } => emit!(json, gh.show_tenant(&tenant)?, output::tenant),
        TenantCmd::AddDomain { tenant, domain } => emit!(
            json,
            gh.add_tenant_domain(call, &tenant, &domain)?,
            output::tenant
        ),
        TenantCmd::SetSessionLifetime { tenant, secs } => emit!(
            json,
            gh.set_session_lifetime(call, &tenant, secs)?,
            output::tenant
        ),
    }
}

fn saml(gh: &Gatehouse, call: &Call, json: bool, cmd: SamlCmd) -> anyhow::Result<()> {
    match cmd {
        SamlCmd::Create {
            tenant,
            name,
            vendor,
            idp,
            allow_idp_initiated,
            default_client,
            default_redirect_uri,
            no_sign_requests,
            no_jit,
        } => {
            let idp = idp_source(&idp)?.ok_or_else(|| {
                InputError(
                    "the IdP is required: --metadata-file, --metadata-url, or \
                     --entity-id with --sso-url and --certificate-file"
                        .into(),
                )
            })?;
            let c = gh.create_saml_connection(
                call,
                &tenant,
                NewSamlConnection {
                    name,
                    vendor,
                    idp,
                    allow_idp_initiated,
                    default_client_id: default_client,
                    default_redirect_uri,
                    sign_requests: !no_sign_requests,
                    jit_enabled: !no_jit,
                    attribute_mapping: None,
                },
            )?;
            emit!(json, c, output::connection)
        }
        SamlCmd::List { tenant } => emit!(
            json,
            gh.list_saml_connections(call, &tenant)?,
            |l: &Vec<_>| output::connections(l)
        ),
        SamlCmd::Show { id } => emit!(
            json,
            gh.show_saml_connection(call, &id)?,
            output::connection
        ),
        SamlCmd::Update {
            id,
            name,
            enable,
            disable,
            vendor,
            idp,
            allow_idp_initiated,
            default_client,
            default_redirect_uri,
            sign_requests,
            sso_binding,
            slo_url,
            slo_binding,
            jit,
        } => {
            let update = SamlConnectionUpdate {
                name,
                enabled: match (enable, disable) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                allow_idp_initiated,
                default_client_id: default_client,
                default_redirect_uri,
                sign_requests,
                jit_enabled: jit,
                vendor,
                attribute_mapping: None,
                idp: idp_source(&idp)?,
                sso_binding: sso_binding.map(binding),
                slo_url,
                slo_binding: slo_binding.map(binding),
            };
            let nothing = update.name.is_none()
                && update.enabled.is_none()
                && update.allow_idp_initiated.is_none()
                && update.default_client_id.is_none()
                && update.default_redirect_uri.is_none()
                && update.sign_requests.is_none()
                && update.vendor.is_none()
                && update.idp.is_none()
                && update.sso_binding.is_none()
                && update.jit_enabled.is_none()
                && update.slo_url.is_none()
                && update.slo_binding.is_none();
            if nothing {
                return Err(
                    InputError("nothing to update: give at least one option".into()).into(),
                );
            }
            emit!(
                json,
                gh.update_saml_connection(call, &id, update)?,
                output::connection
            )
        }
        SamlCmd::Disable { id } => {
            let update = SamlConnectionUpdate {
                enabled: Some(false),
                ..Default::default()
            };
            emit!(
                json,
                gh.update_saml_connection(call, &id, update)?,
                output::connection
            )
        }
        SamlCmd::Delete { id, yes } => {
            if !yes {
                return Err(InputError(format!(
                    "deleting connection {id} cannot be undone; repeat with --yes"
                ))
                .into());
            }
            gh.delete_saml_connection(call, &id)?;
            if json {
                print_json(&json!({ "id": id, "deleted": true }))
            } else {
                print(&format!("deleted connection {id}"))
            }
        }
        SamlCmd::SpMetadata { id, output } => {
            let xml = gh.sp_metadata(&id)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &xml)
                        .with_context(|| format!("writing {}", path.display()))?;
                    if json {
                        print_json(&json!({ "id": id, "written_to": path.display().to_string() }))
                    } else {
                        print(&format!(
                            "SP metadata of {id} written to {}",
                            path.display()
                        ))
                    }
                }
                None if json => print_json(&json!({ "id": id, "xml": xml })),
                None => print(&xml),
            }
        }
    }
}

const SECRET_WARNING: &str =
    "the secret above is shown only this once and cannot be retrieved later; store it now";

fn client(gh: &Gatehouse, call: &Call, json: bool, cmd: ClientCmd) -> anyhow::Result<()> {
    let credentials = match cmd {
        ClientCmd::List => {
            return emit!(json, gh.list_clients()?, |l: &Vec<_>| output::clients(l));
        }
        ClientCmd::Register {
            name,
            redirect_uris,
            public,
            backchannel_logout_uri,
            post_logout_redirect_uris,
        } => gh.register_client(
            call,
            NewClient {
                name,
                redirect_uris,
                public,
                backchannel_logout_uri,
                post_logout_redirect_uris,
                client_id: None,
                client_secret: None,
            },
        )?,
        ClientCmd::RotateSecret {
            client_id,
            overlap_secs,
        } => gh.rotate_client_secret(call, &client_id, chrono::Duration::seconds(overlap_secs))?,
    };
    if json {
        print_json(&serde_json::to_value(&credentials)?)?;
    } else {
        let mut text = output::client(&credentials.client);
        if let Some(secret) = &credentials.client_secret {
            text.push_str(&format!("\nclient_secret: {secret}"));
        }
        print(&text)?;
    }
    if credentials.client_secret.is_some() {
        warn(SECRET_WARNING);
    }
    Ok(())
}

fn operator_token(
    gh: &Gatehouse,
    call: &Call,
    json: bool,
    cmd: OperatorTokenCmd,
) -> anyhow::Result<()> {
    match cmd {
        OperatorTokenCmd::Create { name } => {
            let created = gh.create_operator_token(call, &name)?;
            if json {
                print_json(&serde_json::to_value(&created)?)?;
            } else {
                print(&output::fields(&[
                    ("id", created.id.clone()),
                    ("token", created.token.clone()),
                ]))?;
            }
            warn(SECRET_WARNING);
            Ok(())
        }
        OperatorTokenCmd::List => emit!(json, gh.list_operator_tokens()?, |l: &Vec<_>| {
            output::operator_tokens(l)
        }),
        OperatorTokenCmd::Revoke { id } => {
            gh.revoke_operator_token(call, &id)?;
            if json {
                print_json(&json!({ "id": id, "revoked": true }))
            } else {
                print(&format!("revoked operator token {id}"))
            }
        }
    }
}

fn scim(gh: &Gatehouse, call: &Call, json: bool, cmd: ScimCmd) -> anyhow::Result<()> {
    let issued = |t: &gatehouse::ScimTokenIssued| {
        format!(
            "directory {}\nbase URL  {}\ntoken id  {}\ntoken     {}",
            t.directory_id, t.base_url, t.token_id, t.token
        )
    };
    match cmd {
        ScimCmd::DirectoryCreate { tenant, name } => {
            let d = gh.create_scim_directory(call, &tenant, &name)?;
            emit!(json, d, |d: &gatehouse::ScimDirectoryView| format!(
                "{}  {}  {}",
                d.id, d.name, d.base_url
            ))
        }
        ScimCmd::DirectoryList { tenant } => {
            let list = gh.list_scim_directories(&tenant)?;
            emit!(json, list, |l: &Vec<gatehouse::ScimDirectoryView>| l
                .iter()
                .map(|d| format!("{}  {}  {}", d.id, d.name, d.base_url))
                .collect::<Vec<_>>()
                .join("\n"))
        }
        ScimCmd::TokenIssue { directory } => {
            let t = gh.issue_scim_token(call, &directory)?;
            warn("the token is shown only once: store it in the IdP's SCIM settings now");
            emit!(json, t, issued)
        }
        ScimCmd::TokenRotate {
            directory,
            overlap_secs,
        } => {
            let t =
                gh.rotate_scim_token(call, &directory, chrono::Duration::seconds(overlap_secs))?;
            warn("the token is shown only once: store it in the IdP's SCIM settings now");
            emit!(json, t, issued)
        }
        ScimCmd::TokenRevoke { directory, token } => {
            gh.revoke_scim_token(call, &directory, &token)?;
            emit!(
                json,
                json!({ "id": token, "revoked": true }),
                |_v: &serde_json::Value| format!("token {token} revoked")
            )
        }
        ScimCmd::TokenList { directory } => {
            let list = gh.list_scim_tokens(&directory)?;
            emit!(json, list, |l: &Vec<gatehouse::ScimTokenView>| l
                .iter()
                .map(|t| format!(
                    "{}  created {}  {}",
                    t.id,
                    t.created_at,
                    if t.revoked {
                        "revoked".to_owned()
                    } else {
                        t.expires_at
                            .as_ref()
                            .map_or("live".to_owned(), |e| format!("expires {e}"))
                    }
                ))
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

/// Audit records as the human-readable table of `events` and `users history`.
fn audit_table(records: &[audit::AuditRecord]) -> anyhow::Result<String> {
    let rows = records
        .iter()
        .map(|r| {
            Ok((
                r.seq,
                r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                r.actor.to_string(),
                r.target.clone(),
                serde_json::to_value(&r.event)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(output::audit_records(&rows))
}

/// `role` or `role:dimension=value,dimension=value` (the CLI's spelling of a grant).
fn parse_grant(text: &str) -> Result<gatehouse::Grant, InputError> {
    let (role, scopes) = text.split_once(':').unwrap_or((text, ""));
    let mut grant = gatehouse::Grant::new(role.trim());
    for pair in scopes.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (dimension, value) = pair.split_once('=').ok_or_else(|| {
            InputError(format!(
                "grant {text:?}: scope {pair:?} must be dimension=value"
            ))
        })?;
        grant
            .scopes
            .insert(dimension.trim().to_owned(), value.trim().to_owned());
    }
    Ok(grant)
}

fn user_roles_text(v: &gatehouse::UserRolesView) -> String {
    let mut lines = vec![format!("{}  roles managed by {}", v.user_id, v.managed_by)];
    if v.grants.is_empty() {
        lines.push("  (no roles)".into());
    }
    for g in &v.grants {
        let scopes: Vec<String> = g.scopes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lines.push(if scopes.is_empty() {
            format!("  {}", g.role)
        } else {
            format!("  {}  {}", g.role, scopes.join(","))
        });
    }
    lines.join("\n")
}

fn binding(b: Binding) -> SsoBinding {
    match b {
        Binding::Redirect => SsoBinding::Redirect,
        Binding::Post => SsoBinding::Post,
    }
}

fn recovery(gh: &Gatehouse, call: &Call, json: bool, cmd: RecoveryCmd) -> anyhow::Result<()> {
    let admins_text = |l: &Vec<gatehouse::RecoveryAdminView>| {
        output::table(
            &["USER", "EMAIL", "DESIGNATED"],
            &l.iter()
                .map(|a| {
                    vec![
                        a.user_id.clone(),
                        a.email.clone().unwrap_or_else(|| "-".into()),
                        a.designated_at.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    };
    match cmd {
        RecoveryCmd::Admins { tenant } => {
            emit!(json, gh.list_recovery_admins(&tenant)?, admins_text)
        }
        RecoveryCmd::AddAdmin { tenant, user } => {
            let added = vec![gh.add_recovery_admin(call, &tenant, &user)?];
            emit!(json, added, admins_text)
        }
        RecoveryCmd::RemoveAdmin { tenant, user } => {
            gh.remove_recovery_admin(call, &tenant, &user)?;
            emit!(
                json,
                json!({ "user_id": user, "removed": true }),
                |_v: &serde_json::Value| format!("{user} is no longer an SSO account admin")
            )
        }
        RecoveryCmd::Link {
            tenant,
            user,
            client_id,
            redirect_uri,
            reason,
            ttl_secs,
        } => {
            let issued = gh.issue_recovery_link(
                call,
                &tenant,
                &gatehouse::NewRecoveryLink {
                    user_id: user,
                    client_id,
                    redirect_uri,
                    reason,
                    ttl_secs: Some(ttl_secs),
                },
            )?;
            emit!(json, issued, |i: &gatehouse::RecoveryLinkIssued| format!(
                "recovery link {} (one use, expires {}; shown only now):\n{}",
                i.id, i.expires_at, i.url
            ))
        }
    }
}
