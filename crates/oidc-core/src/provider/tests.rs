use super::*;
use crate::jose::{self, Algorithm, Jwks, SigningKey};
use chrono::{DateTime, TimeDelta};
use expect_test::{expect, Expect};
use gatehouse_types::FixedEntropy;

const KEY_A: &[u8] = include_bytes!("../../tests/fixtures/rsa-2048-a.pem");
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn check_authorize(query: &str, expect: &Expect) {
    let rendered = match AuthorizeRequest::parse(pairs(query)) {
        Ok(req) => format!("{req:#?}"),
        Err(err) => format!(
            "error {} ({}): {}",
            err.error,
            err.http_status(),
            err.description
        ),
    };
    expect.assert_eq(&rendered);
}

fn check_token(form: &str, authorization: Option<&str>, expect: &Expect) {
    let rendered = match TokenRequest::parse(pairs(form), authorization) {
        Ok(req) => format!("{req:#?}"),
        Err(err) => format!(
            "error {} ({}): {}",
            err.error,
            err.http_status(),
            err.description
        ),
    };
    expect.assert_eq(&rendered);
}

const BASE: &str =
    "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid";

#[test]
fn discovery_document_golden() {
    let issuer = url::Url::parse("https://sso.example.com/").unwrap();
    let doc = DiscoveryDocument::new(&issuer).unwrap();
    expect![[r#"
        {
          "issuer": "https://sso.example.com",
          "authorization_endpoint": "https://sso.example.com/oauth/authorize",
          "token_endpoint": "https://sso.example.com/oauth/token",
          "userinfo_endpoint": "https://sso.example.com/oauth/userinfo",
          "jwks_uri": "https://sso.example.com/oauth/jwks",
          "introspection_endpoint": "https://sso.example.com/oauth/introspect",
          "end_session_endpoint": "https://sso.example.com/oauth/logout",
          "scopes_supported": [
            "openid",
            "profile",
            "email"
          ],
          "response_types_supported": [
            "code"
          ],
          "response_modes_supported": [
            "query"
          ],
          "grant_types_supported": [
            "authorization_code",
            "refresh_token"
          ],
          "subject_types_supported": [
            "public"
          ],
          "id_token_signing_alg_values_supported": [
            "RS256"
          ],
          "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none"
          ],
          "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post"
          ],
          "code_challenge_methods_supported": [
            "S256"
          ],
          "prompt_values_supported": [
            "none",
            "login",
            "consent",
            "select_account"
          ],
          "claims_supported": [
            "sub",
            "email",
            "email_verified",
            "given_name",
            "family_name",
            "name",
            "tenant",
            "idp",
            "amr",
            "acr",
            "auth_time",
            "groups",
            "roles",
            "scopes",
            "sid"
          ],
          "backchannel_logout_supported": true,
          "backchannel_logout_session_supported": true,
          "claims_parameter_supported": false,
          "request_parameter_supported": false,
          "request_uri_parameter_supported": false,
          "authorization_response_iss_parameter_supported": true
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&doc).unwrap());
    assert_eq!(
        doc.to_json()["jwks_uri"],
        "https://sso.example.com/oauth/jwks"
    );
}

#[test]
fn discovery_keeps_issuer_path_and_refuses_bad_issuers() {
    let local = url::Url::parse("http://localhost:8080").unwrap();
    assert_eq!(issuer_identifier(&local).unwrap(), "http://localhost:8080");
    let issuer = url::Url::parse("https://example.com/sso/").unwrap();
    let doc = DiscoveryDocument::new(&issuer).unwrap();
    assert_eq!(doc.issuer, "https://example.com/sso");
    assert_eq!(doc.token_endpoint, "https://example.com/sso/oauth/token");
    for bad in [
        "https://example.com/?x=1",
        "https://example.com/#f",
        "ftp://example.com",
        "http://sso.example.com",
        "https://u:p@example.com",
    ] {
        let url = url::Url::parse(bad).unwrap();
        assert!(
            matches!(
                DiscoveryDocument::new(&url),
                Err(crate::OidcError::InvalidIssuer { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn authorize_full_request() {
    check_authorize(
        &format!(
            "{BASE}%20profile%20email%20openid&state=xyz&nonce=n-0S6&code_challenge={CHALLENGE}\
             &code_challenge_method=S256&login_hint=alice%40acme.com&prompt=login%20consent\
             &max_age=300&acr_values=urn%3Amfa%20pwd&tenant=acme&connection=conn_1\
             &domain_hint=acme.com&ui_locales=fr&unknown=ignored"
        ),
        &expect![[r#"
            AuthorizeRequest {
                client_id: "app",
                redirect_uri: "https://app.example/cb",
                scopes: [
                    "openid",
                    "profile",
                    "email",
                ],
                state: Some(
                    "xyz",
                ),
                nonce: Some(
                    "n-0S6",
                ),
                code_challenge: Some(
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                login_hint: Some(
                    "alice@acme.com",
                ),
                prompt: [
                    Login,
                    Consent,
                ],
                max_age: Some(
                    300,
                ),
                acr_values: [
                    "urn:mfa",
                    "pwd",
                ],
                id_token_hint: None,
                tenant: Some(
                    "acme",
                ),
                connection: Some(
                    "conn_1",
                ),
                domain_hint: Some(
                    "acme.com",
                ),
            }"#]],
    );
}

#[test]
fn authorize_minimal_and_empty_values_count_as_omitted() {
    check_authorize(
        &format!("{BASE}&state=&nonce="),
        &expect![[r#"
            AuthorizeRequest {
                client_id: "app",
                redirect_uri: "https://app.example/cb",
                scopes: [
                    "openid",
                ],
                state: None,
                nonce: None,
                code_challenge: None,
                login_hint: None,
                prompt: [],
                max_age: None,
                acr_values: [],
                id_token_hint: None,
                tenant: None,
                connection: None,
                domain_hint: None,
            }"#]],
    );
}

#[test]
fn authorize_rejections() {
    let cases: &[(&str, Expect)] = &[
        (
            "response_type=token&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid",
            expect!["error unsupported_response_type (400): only response_type=code is supported"],
        ),
        (
            "client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid",
            expect!["error invalid_request (400): response_type is required"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=profile",
            expect!["error invalid_scope (400): scope must include openid"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid%20%22bad",
            expect!["error invalid_scope (400): malformed scope"],
        ),
        (
            "response_type=code&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid",
            expect!["error invalid_request (400): client_id is required"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=%2Fcb&scope=openid",
            expect!["error invalid_request (400): redirect_uri must be an absolute URI without fragment"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb%23frag&scope=openid",
            expect!["error invalid_request (400): redirect_uri must be an absolute URI without fragment"],
        ),
        (
            "response_type=code&client_id=app&client_id=evil&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid",
            expect!["error invalid_request (400): parameter repeated"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid&request=eyJ",
            expect!["error request_not_supported (400): request objects are not supported"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid&request_uri=urn%3Ax",
            expect!["error request_uri_not_supported (400): request_uri is not supported"],
        ),
        (
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&scope=openid&response_mode=fragment",
            expect!["error invalid_request (400): only response_mode=query is supported"],
        ),
    ];
    for (query, expect) in cases {
        check_authorize(query, expect);
    }
}

#[test]
fn authorize_pkce_rules() {
    check_authorize(
        &format!("{BASE}&code_challenge={CHALLENGE}&code_challenge_method=plain"),
        &expect!["error invalid_request (400): code_challenge_method must be S256"],
    );
    check_authorize(
        &format!("{BASE}&code_challenge={CHALLENGE}"),
        &expect!["error invalid_request (400): code_challenge_method must be S256"],
    );
    check_authorize(
        &format!("{BASE}&code_challenge_method=S256"),
        &expect!["error invalid_request (400): code_challenge_method without code_challenge"],
    );
    check_authorize(
        &format!("{BASE}&code_challenge=short&code_challenge_method=S256"),
        &expect!["error invalid_request (400): malformed code_challenge"],
    );
}

#[test]
fn authorize_prompt_and_max_age_rules() {
    check_authorize(
        &format!("{BASE}&prompt=none%20login"),
        &expect!["error invalid_request (400): prompt=none cannot be combined with other values"],
    );
    check_authorize(
        &format!("{BASE}&prompt=create"),
        &expect!["error invalid_request (400): unsupported prompt value"],
    );
    for bad in ["-1", "1.5", "+5", "99999999999", "1e3"] {
        check_authorize(
            &format!("{BASE}&max_age={bad}"),
            &expect!["error invalid_request (400): max_age must be a non-negative integer"],
        );
    }
    let req = AuthorizeRequest::parse(pairs(&format!("{BASE}&prompt=none&max_age=0"))).unwrap();
    assert!(req.is_prompt_none());
    assert_eq!(req.max_age, Some(0));
}

#[test]
fn authorize_bounds() {
    let long = "a".repeat(MAX_AUTHORIZE_VALUE_LEN + 1);
    check_authorize(
        &format!("{BASE}&state={long}"),
        &expect!["error invalid_request (400): parameter value too long"],
    );
    let many: String = (0..MAX_AUTHORIZE_PARAMS)
        .map(|i| format!("&x{i}=1"))
        .collect();
    check_authorize(
        &format!("{BASE}{many}"),
        &expect!["error invalid_request (400): too many parameters"],
    );
    check_authorize(
        &format!("{BASE}&state=a%00b"),
        &expect!["error invalid_request (400): control character in parameter"],
    );
    check_authorize(
        &format!("{BASE}&tenant=has%20space"),
        &expect!["error invalid_request (400): malformed tenant, connection or domain_hint"],
    );
    // id_token_hint may be as long as a token.
    let hint = "a".repeat(4000);
    assert!(AuthorizeRequest::parse(pairs(&format!("{BASE}&id_token_hint={hint}"))).is_ok());
}

#[test]
fn unverified_redirect_reads_only_what_routing_needs() {
    let got = AuthorizeRequest::unverified_redirect(pairs(
        "client_id=app&redirect_uri=https%3A%2F%2Fa%2Fcb&state=s1&response_type=token",
    ))
    .unwrap();
    assert_eq!(
        got,
        UnverifiedRedirect {
            client_id: "app".into(),
            redirect_uri: "https://a/cb".into(),
            state: Some("s1".into()),
        }
    );
    assert_eq!(
        AuthorizeRequest::unverified_redirect(pairs("client_id=app")),
        None
    );
    assert_eq!(
        AuthorizeRequest::unverified_redirect(pairs(
            "client_id=a&client_id=b&redirect_uri=https%3A%2F%2Fa"
        )),
        None
    );
}

#[test]
fn token_authorization_code_with_basic_auth() {
    // "my client:p@ss:w+rd" form-encoded, then base64 (RFC 6749 §2.3.1).
    let header = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "my+client:p%40ss%3Aw%2Brd"
        )
    );
    check_token(
        "grant_type=authorization_code&code=c1&redirect_uri=https%3A%2F%2Fapp%2Fcb",
        Some(&header),
        &expect![[r#"
            TokenRequest {
                client: ClientSecretBasic {
                    client_id: "my client",
                    client_secret: ClientSecret(<redacted>),
                },
                grant: AuthorizationCode {
                    code: "c1",
                    redirect_uri: "https://app/cb",
                    code_verifier: None,
                },
            }"#]],
    );
    let req = TokenRequest::parse(
        pairs("grant_type=authorization_code&code=c1&redirect_uri=x&client_id=my+client"),
        Some(&header),
    )
    .unwrap();
    match req.client {
        ClientAuthentication::ClientSecretBasic { client_secret, .. } => {
            assert_eq!(client_secret.expose(), "p@ss:w+rd");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn token_post_and_public_clients() {
    check_token(
        "grant_type=refresh_token&refresh_token=r1&client_id=app&client_secret=s&scope=openid%20email",
        None,
        &expect![[r#"
            TokenRequest {
                client: ClientSecretPost {
                    client_id: "app",
                    client_secret: ClientSecret(<redacted>),
                },
                grant: RefreshToken {
                    refresh_token: "<redacted>",
                    scopes: Some(
                        [
                            "openid",
                            "email",
                        ],
                    ),
                },
            }"#]],
    );
    check_token(
        &format!("grant_type=authorization_code&code=c&redirect_uri=x&client_id=spa&code_verifier={VERIFIER}"),
        None,
        &expect![[r#"
            TokenRequest {
                client: None {
                    client_id: "spa",
                },
                grant: AuthorizationCode {
                    code: "c",
                    redirect_uri: "x",
                    code_verifier: Some(
                        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                    ),
                },
            }"#]],
    );
}

#[test]
fn token_rejections() {
    let basic = "Basic YXBwOnNlY3JldA=="; // app:secret
    let cases: &[(&str, Option<&str>, Expect)] = &[
        (
            "grant_type=authorization_code&code=c&redirect_uri=x&client_id=spa&code_verifier=short",
            None,
            expect!["error invalid_request (400): malformed code_verifier"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x&client_id=app&client_secret=s",
            Some(basic),
            expect!["error invalid_request (400): use only one client authentication method"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x&client_id=other",
            Some(basic),
            expect!["error invalid_request (400): client_id does not match the Authorization header"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x",
            Some("Bearer abc"),
            expect!["error invalid_client (401): only HTTP Basic client authentication is supported"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x",
            Some("Basic !!!"),
            expect!["error invalid_client (401): malformed Basic credentials"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x",
            Some("Basic YXBwc2VjcmV0"), // no colon
            expect!["error invalid_client (401): malformed Basic credentials"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x",
            Some("Basic YXBwOg=="), // empty secret
            expect!["error invalid_client (401): malformed Basic credentials"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x",
            None,
            expect!["error invalid_client (401): client authentication is required"],
        ),
        (
            "grant_type=authorization_code&code=c&redirect_uri=x&client_id=app&client_assertion_type=jwt&client_assertion=e",
            None,
            expect!["error invalid_client (401): client assertions are not supported"],
        ),
        (
            "grant_type=password&username=u&password=p&client_id=app&client_secret=s",
            None,
            expect!["error unsupported_grant_type (400): grant_type must be authorization_code or refresh_token"],
        ),
        (
            "code=c&client_id=app&client_secret=s",
            None,
            expect!["error invalid_request (400): grant_type is required"],
        ),
        (
            "grant_type=authorization_code&redirect_uri=x&client_id=app&client_secret=s",
            None,
            expect!["error invalid_request (400): code is required"],
        ),
        (
            "grant_type=authorization_code&code=c&code=d&redirect_uri=x&client_id=app&client_secret=s",
            None,
            expect!["error invalid_request (400): parameter repeated"],
        ),
        (
            "grant_type=refresh_token&client_id=app&client_secret=s",
            None,
            expect!["error invalid_request (400): refresh_token is required"],
        ),
    ];
    for (form, header, expect) in cases {
        check_token(form, *header, expect);
    }
}

/// A request without a secret may be a public client or a confidential one that forgot its
/// secret: only the provider, which knows the client, can tell, so the parser leaves the
/// missing verifier to it (`invalid_client` for the forgetful confidential client).
#[test]
fn missing_verifier_is_left_to_the_provider() {
    let form = "grant_type=authorization_code&code=c&redirect_uri=x&client_id=spa";
    let parsed = TokenRequest::parse(pairs(form), None).unwrap();
    assert!(matches!(
        parsed.client,
        ClientAuthentication::None { ref client_id } if client_id == "spa"
    ));
    assert!(matches!(
        parsed.grant,
        Grant::AuthorizationCode {
            code_verifier: None,
            ..
        }
    ));
}

#[test]
fn introspection_requires_the_token_parameter() {
    let basic = Some("Basic YXBwOnNlY3JldA=="); // app:secret
    let err =
        IntrospectionRequest::parse(pairs("token_type_hint=access_token"), basic).unwrap_err();
    assert_eq!(
        (err.error.as_str(), err.description.as_ref()),
        ("invalid_request", "token is required")
    );
    let ok = IntrospectionRequest::parse(pairs("token=abc"), basic).unwrap();
    assert_eq!(ok.token, "abc");
}

#[test]
fn oauth_error_rendering() {
    let err = OAuthError::new(ErrorCode::InvalidClient, "client authentication failed");
    assert_eq!(err.http_status(), 401);
    expect![[r#"{"error":"invalid_client","error_description":"client authentication failed"}"#]]
        .assert_eq(&err.to_json().to_string());
    assert_eq!(serde_json::to_value(&err).unwrap(), err.to_json());
    let bare = OAuthError::new(ErrorCode::ServerError, "");
    assert_eq!(bare.http_status(), 500);
    expect![[r#"{"error":"server_error"}"#]].assert_eq(&bare.to_json().to_string());
    let statuses: Vec<u16> = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::InvalidScope,
        ErrorCode::AccessDenied,
        ErrorCode::LoginRequired,
        ErrorCode::InteractionRequired,
    ]
    .iter()
    .map(|c| c.http_status())
    .collect();
    assert!(statuses.iter().all(|s| *s == 400));
    assert_eq!(
        serde_json::to_string(&ErrorCode::InteractionRequired).unwrap(),
        r#""interaction_required""#
    );

    let url = OAuthError::new(ErrorCode::LoginRequired, "")
        .redirect_url(
            "https://app.example/cb?x=1",
            Some("s t"),
            "https://sso.example.com",
        )
        .unwrap();
    expect!["https://app.example/cb?x=1&error=login_required&state=s+t&iss=https%3A%2F%2Fsso.example.com"]
        .assert_eq(url.as_str());
    let ok = authorization_response_url(
        "https://app.example/cb",
        "c0de",
        None,
        "https://sso.example.com",
    )
    .unwrap();
    expect!["https://app.example/cb?code=c0de&iss=https%3A%2F%2Fsso.example.com"]
        .assert_eq(ok.as_str());
}

#[test]
fn redirect_uri_matching_is_exact() {
    let registered = vec![
        "https://app.example/cb".to_owned(),
        "http://127.0.0.1:8080/cb".to_owned(),
    ];
    assert!(redirect_uri_matches(&registered, "https://app.example/cb"));
    for near in [
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://APP.example/cb",
        "https://app.example/cb/../cb",
        "https://app.example:443/cb",
        "https://app.example/c",
        "",
    ] {
        assert!(!redirect_uri_matches(&registered, near), "{near}");
    }
    assert!(!redirect_uri_matches(&[], "https://app.example/cb"));
}

#[test]
fn token_and_introspection_documents() {
    let mut response = TokenResponse::bearer("at", 300);
    response.id_token = Some("eyJ.x.y".into());
    expect![[
        r#"{"access_token":"at","token_type":"Bearer","expires_in":300,"id_token":"eyJ.x.y"}"#
    ]]
    .assert_eq(&serde_json::to_string(&response).unwrap());
    let parsed =
        TokenResponse::parse(serde_json::to_string(&response).unwrap().as_bytes()).unwrap();
    assert_eq!(parsed, response);
    assert!(TokenResponse::parse(br#"{"access_token":"a","token_type":"mac"}"#).is_err());

    expect![[r#"{"active":false}"#]]
        .assert_eq(&IntrospectionResponse::Inactive.to_json().to_string());
    let active = IntrospectionResponse::Active(Box::new(ActiveToken {
        scope: Some("openid email".into()),
        client_id: Some("app".into()),
        token_type: Some("Bearer".into()),
        exp: Some(1_700_000_300),
        sub: Some("u1".into()),
        aud: Some(Audience::one("app")),
        tenant: Some("acme".into()),
        roles: vec!["admin".into()],
        ..ActiveToken::default()
    }));
    expect![[r#"{"active":true,"scope":"openid email","client_id":"app","token_type":"Bearer","exp":1700000300,"sub":"u1","aud":"app","tenant":"acme","roles":["admin"]}"#]]
        .assert_eq(&serde_json::to_string(&active).unwrap());
}

fn id_claims() -> IdTokenClaims {
    IdTokenClaims {
        iss: "https://sso.example.com".into(),
        sub: "usr_1".into(),
        aud: Audience::one("app"),
        exp: 1_700_000_300,
        iat: 1_700_000_000,
        auth_time: Some(1_699_999_990),
        nonce: Some("n-0S6".into()),
        azp: None,
        email: Some("alice@acme.com".into()),
        email_verified: Some(true),
        given_name: Some("Alice".into()),
        family_name: Some("Liddell".into()),
        name: None,
        tenant: Some("acme".into()),
        idp: Some("conn_okta".into()),
        amr: vec!["pwd".into(), "mfa".into()],
        acr: None,
        groups: vec![],
        roles: vec!["admin".into()],
        scopes: vec!["billing:read".into()],
        sid: Some("sess_1".into()),
    }
}

#[test]
fn id_token_claims_golden_and_round_trip() {
    let claims = id_claims();
    expect![[r#"{"iss":"https://sso.example.com","sub":"usr_1","aud":"app","exp":1700000300,"iat":1700000000,"auth_time":1699999990,"nonce":"n-0S6","email":"alice@acme.com","email_verified":true,"given_name":"Alice","family_name":"Liddell","tenant":"acme","idp":"conn_okta","amr":["pwd","mfa"],"roles":["admin"],"scopes":["billing:read"],"sid":"sess_1"}"#]]
        .assert_eq(&serde_json::to_string(&claims).unwrap());
    let key = SigningKey::from_pem(KEY_A).unwrap();
    let token = claims.sign(&key).unwrap();
    let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
    let verified = jose::verify(
        &token,
        &Jwks::from_signing_keys([&key]),
        &[Algorithm::RS256],
        now,
        TimeDelta::zero(),
    )
    .unwrap();
    let back: IdTokenClaims =
        serde_json::from_value(serde_json::Value::Object(verified.into_claims())).unwrap();
    assert_eq!(back, claims);
    let many: Audience = serde_json::from_str(r#"["a","b"]"#).unwrap();
    assert!(many.contains("b") && !many.contains("c"));
    assert_eq!(serde_json::to_string(&many).unwrap(), r#"["a","b"]"#);
}

#[test]
fn logout_token_is_built_per_backchannel_spec() {
    let key = SigningKey::from_pem(KEY_A).unwrap();
    let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let claims = LogoutTokenClaims::new(
        "https://sso.example.com",
        "app",
        Some("usr_1".into()),
        Some("sess_1".into()),
        now,
        TimeDelta::minutes(2),
        &mut FixedEntropy::new(5),
    )
    .unwrap();
    let text = serde_json::to_string(&claims)
        .unwrap()
        .replace(&claims.jti, "<jti>");
    expect![[r#"{"iss":"https://sso.example.com","sub":"usr_1","aud":"app","iat":1700000000,"exp":1700000120,"jti":"<jti>","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"sid":"sess_1"}"#]]
        .assert_eq(&text);
    assert_eq!(claims.jti.len(), 32);

    let token = build_logout_token(&key, &claims).unwrap();
    let verified = jose::verify(
        &token,
        &Jwks::from_signing_keys([&key]),
        &[Algorithm::RS256],
        now,
        TimeDelta::zero(),
    )
    .unwrap();
    assert_eq!(verified.typ(), Some("logout+jwt"));
    assert!(!verified.claims().contains_key("nonce"));

    let neither = LogoutTokenClaims::new(
        "i",
        "app",
        None,
        None,
        now,
        TimeDelta::minutes(2),
        &mut FixedEntropy::new(5),
    );
    assert!(matches!(
        neither,
        Err(crate::OidcError::MissingClaim { .. })
    ));
    let mut no_event = claims.clone();
    no_event.events.clear();
    assert!(matches!(
        build_logout_token(&key, &no_event),
        Err(crate::OidcError::InvalidClaim {
            claim: "events",
            ..
        })
    ));
    // sid alone is enough.
    let sid_only = LogoutTokenClaims::new(
        "i",
        "app",
        None,
        Some("s".into()),
        now,
        TimeDelta::minutes(2),
        &mut FixedEntropy::new(6),
    );
    assert!(sid_only.is_ok());
}

#[test]
fn token_response_debug_redacts_tokens() {
    let mut response = TokenResponse::bearer("secret-at", 60);
    response.refresh_token = Some("secret-rt".into());
    let debug = format!("{response:?}");
    assert!(!debug.contains("secret"), "{debug}");
}

#[test]
fn end_session_request_parsing() {
    let req = EndSessionRequest::parse(pairs(
        "id_token_hint=eyJ.a.b&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=s",
    ))
    .unwrap();
    assert_eq!(
        req.post_logout_redirect_uri.as_deref(),
        Some("https://app.example/bye")
    );
    assert_eq!(req.state.as_deref(), Some("s"));
    assert_eq!(EndSessionRequest::parse(pairs("")).unwrap().client_id, None);
    let err = EndSessionRequest::parse(pairs(
        "post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye",
    ))
    .unwrap_err();
    assert_eq!(err.error, ErrorCode::InvalidRequest);
    let err =
        EndSessionRequest::parse(pairs("client_id=app&post_logout_redirect_uri=bye")).unwrap_err();
    assert_eq!(err.error, ErrorCode::InvalidRequest);
    let err = EndSessionRequest::parse(pairs("client_id=a&client_id=b")).unwrap_err();
    assert_eq!(err.error, ErrorCode::InvalidRequest);
}

#[test]
fn id_token_hint_accepts_recently_expired_tokens_only() {
    let key = SigningKey::from_pem(KEY_A).unwrap();
    let jwks = Jwks::from_signing_keys([&key]);
    let token = id_claims().sign(&key).unwrap(); // exp 1_700_000_300
    let at = |t| DateTime::from_timestamp(t, 0).unwrap();
    let hint = verify_id_token_hint(
        &token,
        &jwks,
        "https://sso.example.com",
        at(1_700_003_000),
        TimeDelta::hours(1),
    )
    .unwrap();
    assert_eq!(hint.sub(), "usr_1");
    assert_eq!(hint.sid(), Some("sess_1"));
    assert!(hint.aud().contains("app"));
    assert!(matches!(
        verify_id_token_hint(
            &token,
            &jwks,
            "https://sso.example.com",
            at(1_700_004_000),
            TimeDelta::hours(1)
        ),
        Err(crate::OidcError::Expired { .. })
    ));
    assert!(matches!(
        verify_id_token_hint(
            &token,
            &jwks,
            "https://other.example",
            at(1_700_000_100),
            TimeDelta::hours(1)
        ),
        Err(crate::OidcError::IssuerMismatch { .. })
    ));
    assert!(matches!(
        verify_id_token_hint(
            &token,
            &jwks,
            "https://sso.example.com",
            at(1_699_999_000),
            TimeDelta::hours(1)
        ),
        Err(crate::OidcError::IssuedInFuture { .. })
    ));
    let mut tampered: Vec<&str> = token.split('.').collect();
    let evil = crate::b64::encode(
        r#"{"iss":"https://sso.example.com","sub":"admin","aud":"app","exp":1700000300,"iat":1700000000}"#,
    );
    tampered[1] = &evil;
    assert!(matches!(
        verify_id_token_hint(
            &tampered.join("."),
            &jwks,
            "https://sso.example.com",
            at(1_700_000_100),
            TimeDelta::hours(1)
        ),
        Err(crate::OidcError::BadSignature)
    ));
}
