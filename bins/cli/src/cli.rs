//! The command line grammar (clap derive). Only shapes and ranges live here; every rule about
//! what a valid tenant, connection or app is belongs to the facade.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Administer a Gatehouse deployment directly through its database.
///
/// Reads the same settings as the server: `--config FILE` (or `GATEHOUSE_CONFIG`) overlaid by
/// `GATEHOUSE_*` environment variables (`GATEHOUSE_DATABASE_URL`, `GATEHOUSE_SECRET_KEY`,
/// `GATEHOUSE_PUBLIC_URL`, ...). Pending migrations are applied before any command runs.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, propagate_version = true)]
pub struct Cli {
    /// TOML settings file (the server's format); environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the facade's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who runs the command, recorded in the audit trail as `operator:cli:NAME` (1-64 of
    /// A-Z a-z 0-9 . _ - @). Default: the OS user ($USER, else $LOGNAME); with neither,
    /// plain `operator:cli`.
    #[arg(long, global = true, value_name = "NAME", env = "GATEHOUSE_ACTOR")]
    pub actor: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the embedded database migrations.
    Migrate,
    /// Tenants and their e-mail domains.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// SAML connections to customers' IdPs.
    #[command(subcommand)]
    Saml(SamlCmd),
    /// Apps (OIDC clients of Gatehouse).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Bearer tokens for the REST admin API.
    #[command(subcommand)]
    OperatorToken(OperatorTokenCmd),
    /// Token-signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// A tenant's audit records, by default its login events.
    Events {
        /// Tenant slug or id (`_system` for apps, operator tokens and keys).
        tenant: String,
        /// Event type; a trailing `*` matches a prefix (`*` alone matches every event).
        #[arg(long = "type", value_name = "TYPE", default_value = "login.*")]
        event_type: String,
        /// Only records after this sequence number (the last `seq` of the previous page).
        #[arg(long, value_name = "SEQ", value_parser = clap::value_parser!(i64).range(0..))]
        after: Option<i64>,
        /// At most this many records.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: Option<i64>,
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
    /// The tamper-evident audit chain.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Role mapping: IdP groups and attributes to roles and scopes.
    #[command(subcommand)]
    Roles(RolesCmd),
    /// SCIM provisioning directories and their bearer tokens.
    #[command(subcommand)]
    Scim(ScimCmd),
    /// A tenant's users.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Occupied seats of a tenant (active users; deactivated users do not count).
    Seats {
        /// Tenant slug or id.
        tenant: String,
    },
    /// Sign-in sessions: list and revoke.
    #[command(subcommand)]
    Sessions(SessionsCmd),
    /// Webhook endpoints that receive lifecycle events (see docs/events.md).
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Break-glass: SSO account admins and one-time recovery sign-in links.
    #[command(subcommand)]
    Recovery(RecoveryCmd),
}

/// `gatehouse recovery ...`
#[derive(Debug, Subcommand)]
pub enum RecoveryCmd {
    /// The tenant's designated SSO account admins.
    Admins {
        /// Tenant slug or id.
        tenant: String,
    },
    /// Designate a user as an SSO account admin (may receive recovery links).
    AddAdmin {
        /// Tenant slug or id.
        tenant: String,
        /// User id.
        user: String,
    },
    /// Withdraw a designation (links already issued stop working).
    RemoveAdmin {
        /// Tenant slug or id.
        tenant: String,
        /// User id.
        user: String,
    },
    /// Issue a one-time recovery sign-in link (printed once; audited).
    Link {
        /// Tenant slug or id.
        tenant: String,
        /// The designated admin's user id.
        user: String,
        /// The app to sign in to.
        #[arg(long = "client", value_name = "CLIENT_ID")]
        client_id: String,
        /// One of the app's registered redirect URIs.
        #[arg(long, value_name = "URI")]
        redirect_uri: String,
        /// Why (kept in the audit trail), e.g. the incident number.
        #[arg(long)]
        reason: String,
        /// Lifetime in seconds (60..=3600).
        #[arg(long, default_value_t = 900)]
        ttl_secs: i64,
    },
}

/// `gatehouse sessions ...`
#[derive(Debug, Subcommand)]
pub enum SessionsCmd {
    /// A user's sessions, newest first.
    List {
        /// User id.
        user: String,
    },
    /// End one session now everywhere (the app is told through back-channel logout and a
    /// `session.revoked` webhook).
    Revoke {
        /// Session id.
        id: String,
        /// Why (stored with the session).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `gatehouse webhooks ...`
#[derive(Debug, Subcommand)]
pub enum WebhooksCmd {
    /// Register an endpoint; prints its signing secret once.
    Create {
        /// Where events are posted (https).
        url: String,
        /// Only this tenant's events (slug or id); every tenant's without it.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Every endpoint.
    List,
    /// Delete an endpoint (its undelivered events are dropped).
    Delete {
        /// Endpoint id.
        id: String,
    },
}

/// `gatehouse scim ...`
#[derive(Debug, Subcommand)]
pub enum ScimCmd {
    /// Create a SCIM directory for a tenant (its base URL goes into Okta / Entra).
    DirectoryCreate {
        /// Tenant slug or id.
        tenant: String,
        /// Name shown to operators.
        #[arg(long)]
        name: String,
    },
    /// List a tenant's SCIM directories.
    DirectoryList {
        /// Tenant slug or id.
        tenant: String,
    },
    /// Issue a bearer token for a directory (shown once).
    TokenIssue {
        /// Directory id.
        directory: String,
    },
    /// Issue a new token; the directory's other tokens keep working for the overlap.
    TokenRotate {
        /// Directory id.
        directory: String,
        /// Seconds the old tokens stay valid (0..=2592000).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..=2_592_000))]
        overlap_secs: i64,
    },
    /// Revoke one token.
    TokenRevoke {
        /// Directory id.
        directory: String,
        /// Token id.
        token: String,
    },
    /// List a directory's tokens (never the secrets).
    TokenList {
        /// Directory id.
        directory: String,
    },
}

/// `gatehouse users ...`
#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Pre-provision (invite) a user, for connections with JIT off: their first SAML login
    /// with this e-mail links to it. `users invite` is the same command.
    #[command(visible_alias = "invite")]
    Create {
        /// Tenant slug or id.
        tenant: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Given name.
        #[arg(long)]
        first_name: Option<String>,
        /// Family name.
        #[arg(long)]
        last_name: Option<String>,
    },
    /// List a tenant's users.
    List {
        /// Tenant slug or id.
        tenant: String,
        /// Only active (`true`) or deactivated (`false`) users.
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        active: Option<bool>,
        /// Page size.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        /// Skip this many.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
        offset: i64,
    },
    /// A user's provisioning and sign-in history (audit records targeting the user).
    History {
        /// Tenant slug or id.
        tenant: String,
        /// User id.
        user: String,
    },
    /// End every live session of a user now, everywhere.
    RevokeSessions {
        /// User id.
        user: String,
        /// Why (stored with the sessions).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// A user's roles and whether the identity provider (role rules) or an admin manages them.
    Roles {
        /// Tenant slug or id.
        tenant: String,
        /// User id.
        user: String,
    },
    /// Grant roles by hand, replacing the user's grants (refused when the tenant's role rules
    /// manage this user's roles: change the rules or the IdP groups instead).
    SetRoles {
        /// Tenant slug or id.
        tenant: String,
        /// User id.
        user: String,
        /// A grant: `role` or `role:dimension=value,dimension=value`; repeat for several. None
        /// removes every role.
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
    },
    /// Permanently delete a deactivated user (audited; cannot be undone).
    Delete {
        /// Tenant slug or id.
        tenant: String,
        /// User id.
        user: String,
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

/// `gatehouse roles ...`
#[derive(Debug, Subcommand)]
pub enum RolesCmd {
    /// Replace a tenant's role rules from a JSON file (validated, versioned, audited).
    Set {
        /// Tenant slug or id.
        tenant: String,
        /// Rules in role-mapper's JSON format (docs/roles.md).
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
    },
    /// Show a tenant's role rules.
    Show {
        /// Tenant slug or id.
        tenant: String,
    },
    /// Dry run: what would someone with these groups and attributes get, and why.
    Explain {
        /// Tenant slug or id.
        tenant: String,
        /// Connection the login would come through.
        #[arg(long, value_name = "ID", default_value = "")]
        connection: String,
        /// A group the IdP would assert (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// An attribute the IdP would assert, as NAME=VALUE (repeatable).
        #[arg(long = "attribute", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
    },
}

/// `gatehouse tenant ...`
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        /// URL-safe unique name (a-z, 0-9, '-').
        slug: String,
        /// Name shown to people.
        #[arg(long, value_name = "DISPLAY")]
        name: String,
        /// The customer's own id for this tenant.
        #[arg(long, value_name = "X")]
        external_id: Option<String>,
        /// E-mail domain routed to this tenant at login (repeatable).
        #[arg(long = "domain", value_name = "DOMAIN", action = ArgAction::Append)]
        domains: Vec<String>,
    },
    /// List every tenant.
    List,
    /// Show one tenant.
    Show {
        /// Slug or id.
        tenant: String,
    },
    /// Route another e-mail domain to a tenant.
    AddDomain {
        /// Slug or id.
        tenant: String,
        /// The domain (`acme.com`).
        domain: String,
    },
    /// Set how long sessions (and tokens) of a tenant live.
    SetSessionLifetime {
        /// Slug or id.
        tenant: String,
        /// Seconds (60..=86400).
        secs: i64,
    },
}

/// Where the IdP's settings come from. At most one source; the manual one needs all three parts.
#[derive(Debug, Args)]
pub struct IdpArgs {
    /// IdP metadata XML file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["metadata_url", "entity_id", "sso_url", "certificate_file"])]
    pub metadata_file: Option<PathBuf>,
    /// IdP metadata URL (https), fetched once now.
    #[arg(long, value_name = "URL", conflicts_with_all = ["entity_id", "sso_url", "certificate_file"])]
    pub metadata_url: Option<String>,
    /// IdP entity ID (manual entry).
    #[arg(long, value_name = "ENTITY_ID", requires_all = ["sso_url", "certificate_file"])]
    pub entity_id: Option<String>,
    /// IdP SSO URL (manual entry).
    #[arg(long, value_name = "URL", requires_all = ["entity_id", "certificate_file"])]
    pub sso_url: Option<String>,
    /// IdP signing certificate, PEM file (manual entry).
    #[arg(long, value_name = "PEM", requires_all = ["entity_id", "sso_url"])]
    pub certificate_file: Option<PathBuf>,
}

/// `gatehouse saml ...`
#[derive(Debug, Subcommand)]
pub enum SamlCmd {
    /// Create a connection for a tenant (with fresh SP signing and encryption keys).
    Create {
        /// Tenant slug or id.
        tenant: String,
        /// Name shown to operators.
        #[arg(long, value_name = "N")]
        name: String,
        /// Attribute-mapping preset: okta, entra-id, google-workspace, onelogin, jumpcloud, adfs,
        /// ping, auth0, keycloak or generic.
        #[arg(long, default_value = "generic")]
        vendor: String,
        /// IdP settings.
        #[command(flatten)]
        idp: IdpArgs,
        /// Accept IdP-initiated logins (needs --default-client and --default-redirect-uri).
        #[arg(long)]
        allow_idp_initiated: bool,
        /// App that IdP-initiated logins go to.
        #[arg(long, value_name = "CLIENT_ID")]
        default_client: Option<String>,
        /// One of that app's registered redirect URIs.
        #[arg(long, value_name = "URI")]
        default_redirect_uri: Option<String>,
        /// Do not sign AuthnRequests.
        #[arg(long)]
        no_sign_requests: bool,
        /// Turn just-in-time provisioning off: only users provisioned beforehand may sign in.
        #[arg(long)]
        no_jit: bool,
    },
    /// List a tenant's connections.
    List {
        /// Tenant slug or id.
        tenant: String,
    },
    /// Show a connection, with each IdP certificate's expiry.
    Show {
        /// Connection id.
        id: String,
    },
    /// Change a connection; options not given stay as they are.
    Update {
        /// Connection id.
        id: String,
        /// New name.
        #[arg(long, value_name = "N")]
        name: Option<String>,
        /// Enable sign-in through this connection.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Disable sign-in through this connection.
        #[arg(long)]
        disable: bool,
        /// Switch vendor (resets the attribute mapping to its preset).
        #[arg(long)]
        vendor: Option<String>,
        /// Replace the IdP settings (e.g. after a certificate rollover).
        #[command(flatten)]
        idp: IdpArgs,
        /// Accept IdP-initiated logins.
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        allow_idp_initiated: Option<bool>,
        /// App for IdP-initiated logins (empty string clears).
        #[arg(long, value_name = "CLIENT_ID")]
        default_client: Option<String>,
        /// Redirect URI for IdP-initiated logins (empty string clears).
        #[arg(long, value_name = "URI")]
        default_redirect_uri: Option<String>,
        /// Sign AuthnRequests.
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        sign_requests: Option<bool>,
        /// How AuthnRequests reach the IdP.
        #[arg(long, value_name = "BINDING")]
        sso_binding: Option<Binding>,
        /// The IdP's SingleLogoutService URL (for IdPs configured by hand; "" clears).
        #[arg(long, value_name = "URL")]
        slo_url: Option<String>,
        /// How logout messages reach the IdP.
        #[arg(long, value_enum, value_name = "BINDING")]
        slo_binding: Option<Binding>,
        /// Just-in-time provisioning of unknown users at first login.
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        jit: Option<bool>,
    },
    /// Disable a connection (same as `update --disable`).
    Disable {
        /// Connection id.
        id: String,
    },
    /// Delete a connection (users it created stay).
    Delete {
        /// Connection id.
        id: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
    /// The SP metadata XML to give the IdP.
    SpMetadata {
        /// Connection id.
        id: String,
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// The SAML binding AuthnRequests are sent with.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Binding {
    /// HTTP-Redirect.
    Redirect,
    /// HTTP-POST (auto-submitted form).
    Post,
}

/// `gatehouse client ...`
#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Register an app; its secret is printed once.
    Register {
        /// Name of the app.
        #[arg(long, value_name = "N")]
        name: String,
        /// Exact redirect URI (repeatable; https, or http on loopback).
        #[arg(long = "redirect-uri", value_name = "URI", required = true, action = ArgAction::Append)]
        redirect_uris: Vec<String>,
        /// A public client (SPA, native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// OIDC back-channel logout URI.
        #[arg(long, value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// Where `/oauth/logout` may send the browser after logout (repeatable, exact match).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI", action = ArgAction::Append)]
        post_logout_redirect_uris: Vec<String>,
    },
    /// List every app.
    List,
    /// Issue a new client secret (printed once).
    RotateSecret {
        /// The app's client_id.
        client_id: String,
        /// Seconds the old secret keeps working (0..=2592000; 0 ends it at once).
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..=2_592_000))]
        overlap_secs: i64,
    },
}

/// `gatehouse operator-token ...`
#[derive(Debug, Subcommand)]
pub enum OperatorTokenCmd {
    /// Create a token for the REST admin API (printed once).
    Create {
        /// Label (who or what uses it).
        #[arg(long, value_name = "N")]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// Token id (`opt_...`).
        id: String,
    },
}

/// `gatehouse keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// List token-signing keys, newest first.
    List,
    /// Start signing with a new key; the old one stays published until its tokens expire.
    Rotate,
}

/// `gatehouse audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verify a tenant's hash chain; exits 1 naming the first broken record.
    Verify {
        /// Tenant slug or id (`_system` for apps, operator tokens and keys).
        tenant: String,
    },
    /// Export a tenant's audit records as JSON Lines or CSV (progress on stderr).
    Export {
        /// Tenant slug or id.
        tenant: String,
        /// `jsonl` (exact records, verifiable) or `csv`.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Write to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Event type; a trailing `*` matches a prefix (`*` alone matches every event).
        #[arg(long = "type", value_name = "TYPE", default_value = "*")]
        event_type: String,
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks: every `conflicts_with` / `requires` names a real argument,
    /// no two arguments share a flag.
    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn manual_idp_entry_needs_all_three_parts() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|_| ());
        assert!(parse(&[
            "gatehouse",
            "saml",
            "create",
            "acme",
            "--name",
            "X",
            "--entity-id",
            "e"
        ])
        .is_err());
        assert!(parse(&[
            "gatehouse",
            "saml",
            "create",
            "acme",
            "--name",
            "X",
            "--entity-id",
            "e",
            "--sso-url",
            "https://idp/sso",
            "--certificate-file",
            "c.pem",
        ])
        .is_ok());
        assert!(parse(&[
            "gatehouse",
            "saml",
            "create",
            "acme",
            "--name",
            "X",
            "--metadata-file",
            "m.xml",
            "--metadata-url",
            "https://idp/metadata",
        ])
        .is_err());
        assert!(parse(&["gatehouse", "saml", "update", "c", "--enable", "--disable"]).is_err());
    }
}

/// Filters shared by `events` and `audit export`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditFilterArgs {
    /// Only records at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only records before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only records by this actor, as kind:id (operator:opt_1, operator:cli:alice,
    /// scim_token:DIR/TOKEN, ...). Not `--actor`: that global option names who runs the command.
    #[arg(long = "by", value_name = "KIND:ID")]
    pub by: Option<String>,
    /// Only records about this target id (a user, connection, ...).
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
}
