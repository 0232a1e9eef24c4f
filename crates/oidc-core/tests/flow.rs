//! End-to-end through the public API only: Gatehouse's provider side and its relying-party side
//! talk to each other through a complete authorization code + PKCE login and a back-channel
//! logout, so the two halves cannot drift apart. Plus garbage-input robustness of every parser.

use chrono::{DateTime, TimeDelta};
use gatehouse_types::{Entropy, FixedEntropy};
use oidc_core::claims::{Audience, IdTokenClaims, LogoutTokenClaims};
use oidc_core::jose::{Algorithm, Jwks, SigningKey};
use oidc_core::provider::{
    self, AuthorizeRequest, ClientAuthentication, DiscoveryDocument, Grant, Prompt, TokenRequest,
    TokenResponse,
};
use oidc_core::relying_party::{
    self, AuthorizationParams, IdTokenExpectations, LoginSecrets, ProviderMetadata, RelyingParty,
    UpstreamClientAuth,
};
use oidc_core::{pkce, OidcError};

const KEY_A: &[u8] = include_bytes!("fixtures/rsa-2048-a.pem");
const NOW: i64 = 1_700_000_000;

#[test]
fn code_flow_with_pkce_between_gatehouse_op_and_an_rp() {
    let now = DateTime::from_timestamp(NOW, 0).unwrap();
    let issuer_url = url::Url::parse("https://sso.example.com").unwrap();
    let key = SigningKey::from_pem(KEY_A).unwrap();

    // OP publishes discovery and JWKS; the RP fetches and validates them.
    let discovery = DiscoveryDocument::new(&issuer_url).unwrap();
    let issuer = discovery.issuer.clone();
    let metadata =
        ProviderMetadata::parse(discovery.to_json().to_string().as_bytes(), &issuer).unwrap();
    assert_eq!(metadata.supported_algorithms(), vec![Algorithm::RS256]);
    let jwks_doc = Jwks::from_signing_keys([&key]).to_json().to_string();
    let rp = RelyingParty::new(
        &issuer,
        "app",
        Jwks::parse(jwks_doc.as_bytes()).unwrap(),
        metadata.supported_algorithms(),
        TimeDelta::seconds(30),
    )
    .unwrap();

    // RP sends the browser to the OP.
    let mut entropy = FixedEntropy::new(2024);
    let secrets = LoginSecrets::generate(&mut entropy);
    let params = AuthorizationParams {
        client_id: "app".into(),
        redirect_uri: "https://app.example/callback".into(),
        scopes: vec!["email".into()],
        prompt: vec![Prompt::Login],
        max_age: Some(300),
        acr_values: vec![],
        login_hint: Some("alice@acme.com".into()),
    };
    let url = relying_party::authorization_url(&metadata, &params, &secrets).unwrap();
    assert!(url
        .as_str()
        .starts_with("https://sso.example.com/oauth/authorize?"));

    // OP parses the request, checks the redirect, issues a code.
    let request = AuthorizeRequest::parse(url.query_pairs()).unwrap();
    assert_eq!(request.scopes, ["openid", "email"]);
    assert_eq!(request.login_hint.as_deref(), Some("alice@acme.com"));
    assert!(provider::redirect_uri_matches(
        &["https://app.example/callback".to_owned()],
        &request.redirect_uri
    ));
    let challenge = request.code_challenge.clone().unwrap();
    let redirect = provider::authorization_response_url(
        &request.redirect_uri,
        "code-123",
        request.state.as_deref(),
        &issuer,
    )
    .unwrap();

    // RP handles the callback and builds the code exchange.
    let code = relying_party::parse_callback(redirect.query_pairs(), &secrets.state, &issuer, true)
        .unwrap();
    let exchange = relying_party::code_exchange(
        &code,
        &params,
        &secrets,
        &UpstreamClientAuth::ClientSecretBasic("s3cret/+=".into()),
    );

    // OP parses the token request, authenticates the client, checks PKCE, issues tokens.
    let token_request =
        TokenRequest::parse(exchange.form.clone(), exchange.authorization.as_deref()).unwrap();
    match &token_request.client {
        ClientAuthentication::ClientSecretBasic {
            client_id,
            client_secret,
        } => {
            assert_eq!(client_id, "app");
            assert_eq!(client_secret.expose(), "s3cret/+=");
        }
        other => panic!("{other:?}"),
    }
    let Grant::AuthorizationCode {
        code,
        redirect_uri,
        code_verifier,
    } = &token_request.grant
    else {
        panic!("{:?}", token_request.grant)
    };
    assert_eq!(code, "code-123");
    assert_eq!(redirect_uri, &request.redirect_uri);
    assert!(pkce::verify_s256(
        code_verifier.as_deref().unwrap(),
        &challenge
    ));

    let id_token = IdTokenClaims {
        iss: issuer.clone(),
        sub: "usr_1".into(),
        aud: Audience::one("app"),
        exp: NOW + 300,
        iat: NOW,
        auth_time: Some(NOW - 5),
        nonce: request.nonce.clone(),
        azp: None,
        email: Some("alice@acme.com".into()),
        email_verified: Some(true),
        given_name: None,
        family_name: None,
        name: None,
        tenant: Some("acme".into()),
        idp: Some("conn_1".into()),
        amr: vec!["mfa".into()],
        acr: None,
        groups: vec![],
        roles: vec!["admin".into()],
        scopes: vec![],
        sid: Some("sess_1".into()),
    }
    .sign(&key)
    .unwrap();
    let mut response = TokenResponse::bearer("at-1", 300);
    response.id_token = Some(id_token);
    let body = serde_json::to_vec(&response).unwrap();

    // RP parses the response and validates the ID token.
    let response = TokenResponse::parse(&body).unwrap();
    let verified = rp
        .validate_id_token(
            response.id_token.as_deref().unwrap(),
            &IdTokenExpectations {
                nonce: &secrets.nonce,
                max_age: params.max_age,
            },
            now,
        )
        .unwrap();
    assert_eq!(verified.claims().roles, ["admin"]);
    assert_eq!(
        verified.external_identity().authn.session_index.as_deref(),
        Some("sess_1")
    );

    // Later the OP ends the session and tells the RP over the back channel.
    let logout = LogoutTokenClaims::new(
        &issuer,
        "app",
        Some("usr_1".into()),
        Some("sess_1".into()),
        now,
        TimeDelta::minutes(2),
        &mut entropy,
    )
    .unwrap();
    let logout_token = provider::build_logout_token(&key, &logout).unwrap();
    let verified = rp.validate_logout_token(&logout_token, now).unwrap();
    assert_eq!(verified.sid(), Some("sess_1"));
    assert_eq!(verified.jti(), logout.jti);
}

fn garbage(entropy: &mut FixedEntropy, max: usize) -> String {
    let mut len = [0u8; 2];
    entropy.fill(&mut len);
    let len = usize::from(u16::from_le_bytes(len)) % max;
    let mut bytes = vec![0u8; len];
    entropy.fill(&mut bytes);
    // Bias towards the characters parsers care about.
    let alphabet = b"{}[]\":,.=&%+ -_aAzZ09eyJ\\";
    bytes
        .iter()
        .map(|b| {
            if b % 4 == 0 {
                char::from(*b)
            } else {
                char::from(alphabet[usize::from(*b) % alphabet.len()])
            }
        })
        .collect()
}

#[test]
fn parsers_never_panic_on_garbage() {
    let key = SigningKey::from_pem(KEY_A).unwrap();
    let rp = RelyingParty::new(
        "https://i",
        "c",
        Jwks::from_signing_keys([&key]),
        vec![Algorithm::RS256, Algorithm::ES256],
        TimeDelta::zero(),
    )
    .unwrap();
    let now = DateTime::from_timestamp(NOW, 0).unwrap();
    let expectations = IdTokenExpectations {
        nonce: "n",
        max_age: Some(1),
    };
    let mut entropy = FixedEntropy::new(77);
    for _ in 0..500 {
        let a = garbage(&mut entropy, 600);
        let b = garbage(&mut entropy, 200);
        let pairs = url::form_urlencoded::parse(a.as_bytes())
            .into_owned()
            .collect::<Vec<_>>();
        let _ = AuthorizeRequest::parse(pairs.clone());
        let _ = AuthorizeRequest::unverified_redirect(pairs.clone());
        let _ = TokenRequest::parse(pairs.clone(), Some(&b));
        let _ = TokenRequest::parse(pairs.clone(), None);
        let _ = relying_party::parse_callback(pairs, "s", "https://i", true);
        let _ = Jwks::parse(a.as_bytes());
        let _ = ProviderMetadata::parse(a.as_bytes(), "https://i");
        let _ = TokenResponse::parse(a.as_bytes());
        let _ = SigningKey::from_pem(a.as_bytes());
        assert!(rp.validate_id_token(&a, &expectations, now).is_err());
        assert!(rp.validate_logout_token(&a, now).is_err());
        let token = format!("{a}.{b}.{a}");
        assert!(oidc_core::jose::verify(
            &token,
            &Jwks::default(),
            &[Algorithm::RS256],
            now,
            TimeDelta::zero()
        )
        .is_err());
    }
    // Deep nesting inside a signed payload is refused by the JSON parser, not the stack.
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let err = ProviderMetadata::parse(deep.as_bytes(), "https://i").unwrap_err();
    assert!(matches!(err, OidcError::Json { .. }), "{err:?}");
}
