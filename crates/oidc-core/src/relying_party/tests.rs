use super::*;
use crate::claims::{build_logout_token, Audience, BACKCHANNEL_LOGOUT_EVENT};
use crate::jose::SigningKey;
use expect_test::expect;
use gatehouse_types::FixedEntropy;
use serde_json::json;

const KEY_A: &[u8] = include_bytes!("../../tests/fixtures/rsa-2048-a.pem");
const KEY_B: &[u8] = include_bytes!("../../tests/fixtures/rsa-2048-b.pem");
const ISSUER: &str = "https://idp.acme.example/oauth2/default";
const NOW: i64 = 1_700_000_000;
const NONCE: &str = "n-0S6_WzA2Mj";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

fn idp_key() -> SigningKey {
    SigningKey::from_pem(KEY_A).unwrap()
}

fn rp() -> RelyingParty {
    RelyingParty::new(
        ISSUER,
        "gatehouse",
        Jwks::from_signing_keys([&idp_key()]),
        vec![Algorithm::RS256],
        TimeDelta::seconds(30),
    )
    .unwrap()
}

fn discovery_json() -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://idp.acme.example/oauth2/default/v1/authorize",
        "token_endpoint": "https://idp.acme.example/oauth2/default/v1/token",
        "jwks_uri": "https://idp.acme.example/oauth2/default/v1/keys",
        "userinfo_endpoint": "https://idp.acme.example/oauth2/default/v1/userinfo",
        "response_types_supported": ["code", "id_token", "code id_token"],
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "backchannel_logout_supported": true,
        "request_parameter_supported": true,
    })
}

fn parse_discovery(doc: &Value) -> Result<ProviderMetadata, OidcError> {
    ProviderMetadata::parse(doc.to_string().as_bytes(), ISSUER)
}

#[test]
fn discovery_url_extends_issuer_path() {
    assert_eq!(
        discovery_url(ISSUER).unwrap().as_str(),
        "https://idp.acme.example/oauth2/default/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery_url("https://login.example.com/")
            .unwrap()
            .as_str(),
        "https://login.example.com/.well-known/openid-configuration"
    );
    assert!(matches!(
        discovery_url("not a url"),
        Err(OidcError::InvalidUrl { .. })
    ));
}

#[test]
fn discovery_document_parses_and_filters_algorithms() {
    let metadata = parse_discovery(&discovery_json()).unwrap();
    assert_eq!(metadata.supported_algorithms(), vec![Algorithm::RS256]);
    assert!(metadata.backchannel_logout_supported);
    assert!(!metadata.authorization_response_iss_parameter_supported);
}

#[test]
fn discovery_document_rejections() {
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut doc = discovery_json();
        f(&mut doc);
        parse_discovery(&doc).unwrap_err()
    };
    // Trailing-slash difference is a different issuer.
    let err = mutate(&|d| d["issuer"] = json!(format!("{ISSUER}/")));
    assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err:?}");
    let err = mutate(&|d| d["token_endpoint"] = json!("http://idp.acme.example/token"));
    assert!(
        matches!(
            err,
            OidcError::InvalidDiscovery {
                field: "token_endpoint",
                ..
            }
        ),
        "{err:?}"
    );
    let err = mutate(&|d| d["jwks_uri"] = json!("/keys"));
    assert!(
        matches!(
            err,
            OidcError::InvalidDiscovery {
                field: "jwks_uri",
                ..
            }
        ),
        "{err:?}"
    );
    let err = mutate(&|d| d["userinfo_endpoint"] = json!("https://x.example/u#frag"));
    assert!(
        matches!(
            err,
            OidcError::InvalidDiscovery {
                field: "userinfo_endpoint",
                ..
            }
        ),
        "{err:?}"
    );
    let err = mutate(&|d| d["response_types_supported"] = json!(["id_token"]));
    assert!(matches!(
        err,
        OidcError::InvalidDiscovery {
            field: "response_types_supported",
            ..
        }
    ));
    let err = mutate(&|d| d["id_token_signing_alg_values_supported"] = json!(["HS256", "none"]));
    assert!(matches!(
        err,
        OidcError::InvalidDiscovery {
            field: "id_token_signing_alg_values_supported",
            ..
        }
    ));
    let err = mutate(&|d| {
        d.as_object_mut().unwrap().remove("jwks_uri");
    });
    assert!(matches!(err, OidcError::Json { .. }), "{err:?}");
    let huge = vec![b' '; MAX_DISCOVERY_LEN + 1];
    assert!(matches!(
        ProviderMetadata::parse(&huge, ISSUER),
        Err(OidcError::TooLarge { .. })
    ));
    assert!(matches!(
        ProviderMetadata::parse(b"[]", ISSUER),
        Err(OidcError::Json { .. })
    ));
}

#[test]
fn loopback_http_is_allowed_for_local_development() {
    let issuer = "http://localhost:8080";
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": "http://localhost:8080/authorize",
        "token_endpoint": "http://127.0.0.1:8080/token",
        "jwks_uri": "http://localhost:8080/jwks",
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    });
    let metadata = ProviderMetadata::parse(doc.to_string().as_bytes(), issuer).unwrap();
    assert_eq!(
        metadata.supported_algorithms(),
        vec![Algorithm::ES256, Algorithm::RS256]
    );
}

fn params() -> AuthorizationParams {
    AuthorizationParams {
        client_id: "gatehouse".into(),
        redirect_uri: "https://sso.example.com/callback/oidc".into(),
        scopes: vec!["email".into(), "openid".into(), "profile".into()],
        prompt: vec![Prompt::Login],
        max_age: Some(600),
        acr_values: vec!["urn:okta:loa:2fa:any".into()],
        login_hint: Some("alice@acme.com".into()),
    }
}

#[test]
fn authorization_url_golden() {
    let metadata = parse_discovery(&discovery_json()).unwrap();
    let secrets = LoginSecrets::generate(&mut FixedEntropy::new(42));
    assert_eq!(secrets.state.len(), 64);
    assert_ne!(secrets.state, secrets.nonce);
    assert!(pkce::is_valid_verifier(&secrets.code_verifier));
    let url = authorization_url(&metadata, &params(), &secrets).unwrap();
    let text = url
        .as_str()
        .replace(&secrets.state, "<state>")
        .replace(&secrets.nonce, "<nonce>")
        .replace(
            &pkce::challenge_s256(&secrets.code_verifier).unwrap(),
            "<challenge>",
        )
        .replace('&', "\n&");
    expect![[r#"
        https://idp.acme.example/oauth2/default/v1/authorize?response_type=code
        &client_id=gatehouse
        &redirect_uri=https%3A%2F%2Fsso.example.com%2Fcallback%2Foidc
        &scope=openid+email+profile
        &state=<state>
        &nonce=<nonce>
        &code_challenge=<challenge>
        &code_challenge_method=S256
        &prompt=login
        &max_age=600
        &acr_values=urn%3Aokta%3Aloa%3A2fa%3Aany
        &login_hint=alice%40acme.com"#]]
    .assert_eq(&text);
    assert!(!format!("{secrets:?}").contains(&secrets.code_verifier));
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn callback_checks_state_iss_and_errors() {
    let ok = q(&[("code", "c1"), ("state", "s1"), ("iss", ISSUER)]);
    assert_eq!(parse_callback(ok, "s1", ISSUER, true).unwrap(), "c1");
    let no_iss = q(&[("code", "c1"), ("state", "s1")]);
    assert_eq!(
        parse_callback(no_iss.clone(), "s1", ISSUER, false).unwrap(),
        "c1"
    );
    assert!(matches!(
        parse_callback(no_iss, "s1", ISSUER, true),
        Err(OidcError::MissingClaim { claim: "iss" })
    ));
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (q(&[("code", "c1"), ("state", "s2")]), "StateMismatch"),
        (q(&[("code", "c1")]), "StateMismatch"),
        (
            q(&[
                ("code", "c1"),
                ("state", "s1"),
                ("iss", "https://evil.example"),
            ]),
            "IssuerMismatch",
        ),
        (
            q(&[("error", "access_denied"), ("state", "s1")]),
            "ProviderError",
        ),
        (q(&[("state", "s1")]), "MissingClaim"),
        (
            q(&[("code", "c1"), ("code", "c2"), ("state", "s1")]),
            "InvalidClaim",
        ),
    ];
    for (pairs, want) in cases {
        let err = parse_callback(pairs.clone(), "s1", ISSUER, false).unwrap_err();
        assert!(format!("{err:?}").starts_with(want), "{pairs:?}: {err:?}");
    }
    // An injected error with the wrong state is a state failure, not a provider error.
    let forged = q(&[("error", "access_denied"), ("state", "x")]);
    assert!(matches!(
        parse_callback(forged, "s1", ISSUER, false),
        Err(OidcError::StateMismatch)
    ));
    // An empty expected state never matches.
    assert!(matches!(
        parse_callback(q(&[("code", "c"), ("state", "")]), "", ISSUER, false),
        Err(OidcError::StateMismatch)
    ));
}

#[test]
fn code_exchange_per_auth_method() {
    let secrets = LoginSecrets::generate(&mut FixedEntropy::new(1));
    let basic = code_exchange(
        "c1",
        &params(),
        &secrets,
        &UpstreamClientAuth::ClientSecretBasic("p@ss:1".into()),
    );
    // base64("gatehouse:p%40ss%3A1")
    assert_eq!(
        basic.authorization.as_deref(),
        Some("Basic Z2F0ZWhvdXNlOnAlNDBzcyUzQTE=")
    );
    let names: Vec<&str> = basic.form.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["grant_type", "code", "redirect_uri", "code_verifier"]
    );
    assert!(basic
        .form
        .contains(&("code_verifier", secrets.code_verifier.clone())));
    assert!(!format!("{basic:?}").contains("Z2F0"));

    let post = code_exchange(
        "c1",
        &params(),
        &secrets,
        &UpstreamClientAuth::ClientSecretPost("s".into()),
    );
    assert_eq!(post.authorization, None);
    assert!(post.form.contains(&("client_secret", "s".to_owned())));
    let public = code_exchange("c1", &params(), &secrets, &UpstreamClientAuth::None);
    assert!(public.form.contains(&("client_id", "gatehouse".to_owned())));
    assert!(!public.form.iter().any(|(n, _)| *n == "client_secret"));
}

fn id_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "00u1abcd",
        "aud": "gatehouse",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "auth_time": NOW - 20,
        "nonce": NONCE,
        "email": "alice@acme.com",
        "email_verified": true,
        "given_name": "Alice",
        "family_name": "Liddell",
        "groups": ["Engineering", "Admins"],
        "amr": ["pwd", "mfa"],
        "acr": "urn:okta:loa:2fa:any",
        "sid": "idp-sess-1",
        "department": "R&D",
        "at_hash": "x",
    })
}

fn sign(claims: &Value) -> String {
    idp_key().sign(claims).unwrap()
}

fn validate(token: &str) -> Result<VerifiedIdToken, OidcError> {
    rp().validate_id_token(
        token,
        &IdTokenExpectations {
            nonce: NONCE,
            max_age: None,
        },
        now(),
    )
}

fn with(f: impl FnOnce(&mut Value)) -> String {
    let mut claims = id_claims();
    f(&mut claims);
    sign(&claims)
}

#[test]
fn valid_id_token_maps_to_external_identity() {
    let verified = validate(&sign(&id_claims())).unwrap();
    assert_eq!(verified.claims().sub, "00u1abcd");
    assert_eq!(verified.raw_claims()["department"], "R&D");
    expect![[r#"
        ExternalIdentity {
            subject: "00u1abcd",
            email: Some(
                "alice@acme.com",
            ),
            first_name: Some(
                "Alice",
            ),
            last_name: Some(
                "Liddell",
            ),
            groups: [
                "Engineering",
                "Admins",
            ],
            attributes: {
                "acr": [
                    "urn:okta:loa:2fa:any",
                ],
                "amr": [
                    "pwd",
                    "mfa",
                ],
                "aud": [
                    "gatehouse",
                ],
                "auth_time": [
                    "1699999980",
                ],
                "department": [
                    "R&D",
                ],
                "email": [
                    "alice@acme.com",
                ],
                "email_verified": [
                    "true",
                ],
                "family_name": [
                    "Liddell",
                ],
                "given_name": [
                    "Alice",
                ],
                "groups": [
                    "Engineering",
                    "Admins",
                ],
                "iss": [
                    "https://idp.acme.example/oauth2/default",
                ],
                "sid": [
                    "idp-sess-1",
                ],
                "sub": [
                    "00u1abcd",
                ],
            },
            authn: AuthnContext {
                acr: Some(
                    "urn:okta:loa:2fa:any",
                ),
                amr: [
                    "pwd",
                    "mfa",
                ],
                auth_time: Some(
                    2023-11-14T22:13:00Z,
                ),
                session_index: Some(
                    "idp-sess-1",
                ),
            },
        }"#]]
    .assert_eq(&format!("{:#?}", verified.external_identity()));
}

#[test]
fn id_token_claim_checks() {
    let cases: Vec<(String, &str)> = vec![
        (
            with(|c| c["iss"] = json!("https://evil.example")),
            "IssuerMismatch",
        ),
        (
            with(|c| c["aud"] = json!("other-client")),
            "AudienceMismatch",
        ),
        (
            with(|c| c["aud"] = json!(["gatehouse", "other-client"])),
            "AudienceMismatch",
        ),
        (with(|c| c["aud"] = json!([])), "AudienceMismatch"),
        (
            with(|c| c["azp"] = json!("other-client")),
            "AudienceMismatch",
        ),
        (with(|c| c["nonce"] = json!("replayed")), "NonceMismatch"),
        (
            with(|c| c["nonce"] = json!("n-0S6_WzA2Mk")),
            "NonceMismatch",
        ),
        (
            with(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
            "NonceMismatch",
        ),
        (
            with(|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            "MissingClaim",
        ),
        (
            with(|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            "Json",
        ),
        (with(|c| c["sub"] = json!("")), "InvalidClaim"),
        (with(|c| c["sub"] = json!("x".repeat(256))), "InvalidClaim"),
        (with(|c| c["exp"] = json!(NOW - 31)), "Expired"),
        (with(|c| c["iat"] = json!(NOW + 31)), "IssuedInFuture"),
        (with(|c| c["email_verified"] = json!("yes")), "Json"),
    ];
    for (token, want) in cases {
        let err = validate(&token).unwrap_err();
        assert!(
            format!("{err:?}").starts_with(want),
            "want {want}, got {err:?}"
        );
    }
    // Within leeway, and azp equal to the client, is fine.
    assert!(validate(&with(|c| c["exp"] = json!(NOW - 29))).is_ok());
    assert!(validate(&with(|c| c["azp"] = json!("gatehouse"))).is_ok());
}

#[test]
fn id_token_signature_and_algorithm_checks() {
    let token = sign(&id_claims());
    let other = RelyingParty::new(
        ISSUER,
        "gatehouse",
        Jwks::from_signing_keys([&SigningKey::from_pem(KEY_B).unwrap()]),
        vec![Algorithm::RS256],
        TimeDelta::zero(),
    )
    .unwrap();
    let expectations = IdTokenExpectations {
        nonce: NONCE,
        max_age: None,
    };
    assert!(matches!(
        other.validate_id_token(&token, &expectations, now()),
        Err(OidcError::UnknownKey { .. })
    ));
    let es_only = RelyingParty::new(
        ISSUER,
        "gatehouse",
        Jwks::from_signing_keys([&idp_key()]),
        vec![Algorithm::ES256],
        TimeDelta::zero(),
    )
    .unwrap();
    assert!(matches!(
        es_only.validate_id_token(&token, &expectations, now()),
        Err(OidcError::AlgorithmNotAllowed { .. })
    ));
    let unsigned = format!(
        "{}.{}.",
        crate::b64::encode(r#"{"alg":"none"}"#),
        crate::b64::encode(id_claims().to_string())
    );
    assert!(matches!(
        validate(&unsigned),
        Err(OidcError::UnsupportedAlgorithm { .. })
    ));
}

#[test]
fn relying_party_refuses_to_be_built_without_keys_or_algorithms() {
    let jwks = Jwks::from_signing_keys([&idp_key()]);
    assert!(matches!(
        RelyingParty::new(ISSUER, "c", jwks.clone(), vec![], TimeDelta::zero()),
        Err(OidcError::EmptyAlgorithmAllowList)
    ));
    assert!(matches!(
        RelyingParty::new(
            ISSUER,
            "c",
            Jwks::default(),
            vec![Algorithm::RS256],
            TimeDelta::zero()
        ),
        Err(OidcError::InvalidKey { .. })
    ));
    assert!(RelyingParty::new("", "c", jwks, vec![Algorithm::RS256], TimeDelta::zero()).is_err());
}

#[test]
fn max_age_requires_recent_auth_time() {
    let rp = rp();
    let expect_age = |max_age| IdTokenExpectations {
        nonce: NONCE,
        max_age: Some(max_age),
    };
    let token = sign(&id_claims()); // auth_time = NOW - 20
    assert!(rp.validate_id_token(&token, &expect_age(60), now()).is_ok());
    // 20s ago, max_age 0, leeway 30: still fine; 100s ago is not.
    assert!(rp.validate_id_token(&token, &expect_age(0), now()).is_ok());
    let old = with(|c| c["auth_time"] = json!(NOW - 100));
    assert!(matches!(
        rp.validate_id_token(&old, &expect_age(60), now()),
        Err(OidcError::AuthenticationTooOld { .. })
    ));
    let none = with(|c| {
        c.as_object_mut().unwrap().remove("auth_time");
    });
    assert!(matches!(
        rp.validate_id_token(&none, &expect_age(60), now()),
        Err(OidcError::MissingClaim { claim: "auth_time" })
    ));
    assert!(rp
        .validate_id_token(&old, &expect_age(u64::MAX), now())
        .is_ok());
}

#[test]
fn lenient_claim_shapes_from_real_providers() {
    let token = with(|c| {
        c["email_verified"] = json!("true");
        c["groups"] = json!("Solo");
        c["iat"] = json!((NOW as f64) - 0.5);
    });
    let verified = validate(&token).unwrap();
    assert_eq!(verified.claims().email_verified, Some(true));
    assert_eq!(verified.claims().groups, vec!["Solo".to_owned()]);
    // Fractional seconds truncate (1699999999.5 → 1699999999).
    assert_eq!(verified.claims().iat, NOW - 1);
}

fn logout_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": "gatehouse",
        "iat": NOW - 5,
        "exp": NOW + 120,
        "jti": "bWJq",
        "sid": "idp-sess-1",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

fn logout_with(f: impl FnOnce(&mut Value)) -> String {
    let mut claims = logout_claims();
    f(&mut claims);
    idp_key().sign_with_typ(&claims, "logout+jwt").unwrap()
}

#[test]
fn logout_token_validation() {
    let verified = rp()
        .validate_logout_token(&logout_with(|_| {}), now())
        .unwrap();
    assert_eq!(verified.sid(), Some("idp-sess-1"));
    assert_eq!(verified.sub(), None);
    assert_eq!(verified.jti(), "bWJq");

    let cases: Vec<(String, &str)> = vec![
        (logout_with(|c| c["nonce"] = json!("n")), "InvalidClaim"),
        (logout_with(|c| c["events"] = json!({})), "InvalidClaim"),
        (
            logout_with(|c| c["events"] = json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" })),
            "InvalidClaim",
        ),
        (
            logout_with(|c| {
                c.as_object_mut().unwrap().remove("events");
            }),
            "Json",
        ),
        (
            logout_with(|c| {
                c.as_object_mut().unwrap().remove("sid");
            }),
            "MissingClaim",
        ),
        (
            logout_with(|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "Json",
        ),
        (logout_with(|c| c["jti"] = json!("")), "MissingClaim"),
        (
            logout_with(|c| c["aud"] = json!("other")),
            "AudienceMismatch",
        ),
        (
            logout_with(|c| c["iss"] = json!("https://evil.example")),
            "IssuerMismatch",
        ),
        (logout_with(|c| c["exp"] = json!(NOW - 60)), "Expired"),
    ];
    for (token, want) in cases {
        let err = rp().validate_logout_token(&token, now()).unwrap_err();
        assert!(
            format!("{err:?}").starts_with(want),
            "want {want}, got {err:?}"
        );
    }
    // sub alone is enough.
    let sub_only = logout_with(|c| {
        c.as_object_mut().unwrap().remove("sid");
        c["sub"] = json!("00u1abcd");
    });
    assert_eq!(
        rp().validate_logout_token(&sub_only, now()).unwrap().sub(),
        Some("00u1abcd")
    );
}

#[test]
fn id_and_logout_tokens_cannot_stand_in_for_each_other() {
    let id_token = sign(&id_claims());
    assert!(rp().validate_logout_token(&id_token, now()).is_err());
    let logout = logout_with(|c| c["sub"] = json!("00u1abcd"));
    assert!(matches!(validate(&logout), Err(OidcError::NonceMismatch)));
}

#[test]
fn gatehouse_logout_token_validates_with_the_relying_party_code() {
    // The OP side's builder and the RP side's validator agree on the format.
    let key = idp_key();
    let claims = LogoutTokenClaims::new(
        ISSUER,
        "gatehouse",
        None,
        Some("sess-9".into()),
        now(),
        TimeDelta::minutes(2),
        &mut FixedEntropy::new(9),
    )
    .unwrap();
    assert_eq!(claims.aud, Audience::one("gatehouse"));
    let token = build_logout_token(&key, &claims).unwrap();
    assert_eq!(
        rp().validate_logout_token(&token, now()).unwrap().claims(),
        &claims
    );
}
