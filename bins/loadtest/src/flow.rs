//! One login as the generator plays it: the app's authorize request, the IdP's answer, the
//! browser's POST to the ACS and the app's code exchange. The pure steps are functions here so
//! the in-process test drives them against the facade exactly as the HTTP run does.

use crate::idp::{self, LoadIdp, Person};
use crate::setup::Target;
use anyhow::{bail, ensure, Context};
use chrono::{DateTime, Utc};
use gatehouse_types::Entropy;
use std::time::{Duration, Instant};

/// Groups every load-test user is asserted to have (ten, like a typical enterprise user).
pub fn groups() -> Vec<String> {
    (0..10).map(|i| format!("loadtest-group-{i:02}")).collect()
}

/// Login `i` of a run with `users` distinct users: which tenant, and who.
pub fn person(target: &Target, i: usize, users: usize) -> (usize, Person) {
    let user = i % users.max(1);
    let tenant = user % target.tenants.len().max(1);
    let domain = target
        .tenants
        .get(tenant)
        .map(|t| t.domain.as_str())
        .unwrap_or("invalid.test");
    (
        tenant,
        Person {
            email: format!("user{user}@{domain}"),
            groups: groups(),
        },
    )
}

/// The app's `/oauth/authorize` parameters; `login_hint` routes by e-mail domain.
pub fn authorize_pairs(
    target: &Target,
    email: &str,
    state: &str,
    nonce: &str,
) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", target.client_id.as_str()),
        ("redirect_uri", target.redirect_uri.as_str()),
        ("scope", "openid email profile"),
        ("state", state),
        ("nonce", nonce),
        ("login_hint", email),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A login ready for the timed phase: the signed Response is already computed.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Index into `Target::tenants`.
    pub tenant: usize,
    /// Who signs in.
    pub email: String,
    /// `state` sent at authorize.
    pub state: String,
    /// `nonce` sent at authorize.
    pub nonce: String,
    /// RelayState to POST back.
    pub relay_state: String,
    /// The base64 SAMLResponse.
    pub saml_response: String,
}

/// The IdP side of one login: take the redirect Gatehouse answered `/oauth/authorize` with,
/// check the AuthnRequest and sign the Response.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    load_idp: &LoadIdp,
    target: &Target,
    tenant: usize,
    person: &Person,
    state: String,
    nonce: String,
    idp_redirect: &str,
    now: DateTime<Utc>,
    entropy: &mut dyn Entropy,
) -> anyhow::Result<Prepared> {
    let t = target.tenants.get(tenant).context("no such tenant")?;
    let request = idp::receive(idp_redirect, &t.sp_signing_key)?;
    let saml_response =
        load_idp.respond(&request, &t.acs_url, &t.sp_entity_id, person, now, entropy)?;
    Ok(Prepared {
        tenant,
        email: person.email.clone(),
        state,
        nonce,
        relay_state: request.relay_state,
        saml_response,
    })
}

/// The authorization code from the ACS's redirect back to the app, after checking it goes to
/// the registered redirect URI with our `state` (an `error` there is reported as such).
pub fn code_from_location(
    location: &str,
    redirect_uri: &str,
    state: &str,
) -> anyhow::Result<String> {
    let url = url::Url::parse(location).context("Location is not a URL")?;
    let base = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    );
    ensure!(
        base == redirect_uri,
        "redirected to {base}, not {redirect_uri}"
    );
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" | "error_description" => {
                error = Some(format!("{} {v}", error.unwrap_or_default()))
            }
            _ => {}
        }
    }
    if let Some(e) = error {
        bail!("the app received an error:{e}");
    }
    ensure!(
        got_state.as_deref() == Some(state),
        "state does not round-trip"
    );
    code.context("no code in the redirect")
}

/// The HTTP side: a `gatehouse-server` on loopback.
#[derive(Clone)]
pub struct Server {
    client: reqwest::blocking::Client,
    base: String,
}

/// Time spent in each step of one timed login.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// POST to the ACS until its 303.
    pub acs: Duration,
    /// POST to the token endpoint until its 200.
    pub token: Duration,
}

impl Server {
    /// A client for `base` (no redirects followed; keep-alive up to `concurrency` connections).
    pub fn new(base: &url::Url, concurrency: usize) -> anyhow::Result<Server> {
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Server {
            client,
            base: base.as_str().trim_end_matches('/').to_owned(),
        })
    }

    /// `/healthz` answers 200.
    pub fn health(&self) -> anyhow::Result<()> {
        let r = self.client.get(format!("{}/healthz", self.base)).send()?;
        ensure!(r.status().is_success(), "/healthz answered {}", r.status());
        Ok(())
    }

    /// The published JWKS.
    pub fn jwks(&self) -> anyhow::Result<serde_json::Value> {
        let r = self
            .client
            .get(format!("{}/oauth/jwks", self.base))
            .send()?;
        ensure!(
            r.status().is_success(),
            "/oauth/jwks answered {}",
            r.status()
        );
        Ok(r.json()?)
    }

    /// `GET /oauth/authorize`; returns the redirect to the IdP.
    pub fn authorize(&self, pairs: &[(String, String)]) -> anyhow::Result<String> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let r = self
            .client
            .get(format!("{}/oauth/authorize?{query}", self.base))
            .send()?;
        expect_redirect(r, reqwest::StatusCode::FOUND, "/oauth/authorize")
    }

    /// The timed part of one login: ACS, then the code exchange; returns the ID token.
    pub fn complete(&self, target: &Target, login: &Prepared) -> anyhow::Result<(String, Timing)> {
        let t = target.tenants.get(login.tenant).context("no such tenant")?;
        let started = Instant::now();
        let r = self
            .client
            .post(format!("{}/saml/{}/acs", self.base, t.connection_id))
            .form(&[
                ("SAMLResponse", login.saml_response.as_str()),
                ("RelayState", login.relay_state.as_str()),
            ])
            .send()?;
        let location = expect_redirect(r, reqwest::StatusCode::SEE_OTHER, "the ACS")?;
        let code = code_from_location(&location, &target.redirect_uri, &login.state)?;
        let acs = started.elapsed();
        let r = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(&target.client_id, Some(&target.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", target.redirect_uri.as_str()),
            ])
            .send()?;
        let status = r.status();
        ensure!(
            status.is_success(),
            "/oauth/token answered {status}: {}",
            excerpt(r)
        );
        let body: serde_json::Value = r.json()?;
        let id_token = body["id_token"]
            .as_str()
            .context("token response without id_token")?
            .to_owned();
        let total = started.elapsed();
        Ok((
            id_token,
            Timing {
                acs,
                token: total.saturating_sub(acs),
            },
        ))
    }
}

fn excerpt(r: reqwest::blocking::Response) -> String {
    let text = r.text().unwrap_or_default();
    text.chars().take(300).collect()
}

fn expect_redirect(
    r: reqwest::blocking::Response,
    want: reqwest::StatusCode,
    what: &str,
) -> anyhow::Result<String> {
    let status = r.status();
    if status != want {
        bail!("{what} answered {status}, expected {want}: {}", excerpt(r));
    }
    Ok(r.headers()
        .get(reqwest::header::LOCATION)
        .context("redirect without Location")?
        .to_str()?
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RU: &str = "http://127.0.0.1/loadtest/callback";

    #[test]
    fn code_is_taken_from_the_registered_redirect_uri_with_our_state() {
        let loc = format!("{RU}?code=ghc_1&state=s1&iss=http%3A%2F%2F127.0.0.1%3A8080");
        assert_eq!(code_from_location(&loc, RU, "s1").unwrap(), "ghc_1");
    }

    #[test]
    fn wrong_state_other_uri_and_errors_are_refused() {
        assert!(code_from_location(&format!("{RU}?code=c&state=other"), RU, "s1").is_err());
        assert!(
            code_from_location("http://127.0.0.1/elsewhere?code=c&state=s1", RU, "s1").is_err()
        );
        let err = code_from_location(&format!("{RU}?error=access_denied&state=s1"), RU, "s1")
            .unwrap_err();
        assert!(err.to_string().contains("access_denied"), "{err}");
        assert!(code_from_location(&format!("{RU}?state=s1"), RU, "s1").is_err());
        assert!(code_from_location("not a url", RU, "s1").is_err());
    }
}
