use super::*;
use expect_test::expect;
use gatehouse_types::{Entropy, FixedEntropy};
use openssl::pkey::PKey;
use serde_json::json;

const KEY_A: &[u8] = include_bytes!("../../tests/fixtures/rsa-2048-a.pem");
const KEY_B: &[u8] = include_bytes!("../../tests/fixtures/rsa-2048-b.pem");
const KEY_1024: &[u8] = include_bytes!("../../tests/fixtures/rsa-1024.pem");
const KEY_EC: &[u8] = include_bytes!("../../tests/fixtures/ec-p256.pem");

const NOW: i64 = 1_700_000_000;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

fn key_a() -> SigningKey {
    SigningKey::from_pem(KEY_A).unwrap()
}

fn key_b() -> SigningKey {
    SigningKey::from_pem(KEY_B).unwrap()
}

fn claims() -> Value {
    json!({ "iss": "https://sso.example.com", "sub": "u1", "aud": "app", "iat": NOW, "exp": NOW + 300 })
}

fn verify_rs(token: &str, jwks: &Jwks) -> Result<VerifiedJws, OidcError> {
    verify(token, jwks, &[Algorithm::RS256], now(), TimeDelta::zero())
}

/// Assemble a token from raw JSON header/payload text and a raw signature.
fn raw_token(header: &str, payload: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header),
        b64::encode(payload),
        b64::encode(signature)
    )
}

#[test]
fn rfc7638_thumbprint_vector() {
    // RFC 7638 §3.1.
    let jwk = Jwk {
        kty: "RSA".into(),
        kid: None,
        alg: None,
        use_: None,
        n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
        e: Some("AQAB".into()),
        crv: None,
        x: None,
        y: None,
    };
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn signing_key_publishes_thumbprint_kid_and_round_trips_pem() {
    let key = key_a();
    assert_eq!(key.kid(), key.public_jwk().thumbprint().unwrap());
    let again = SigningKey::from_pem(&key.to_pem().unwrap()).unwrap();
    assert_eq!(again.kid(), key.kid());
    assert_ne!(key_b().kid(), key.kid());
    assert!(!format!("{key:?}").contains("PRIVATE"));
    assert!(format!("{key:?}").contains(key.kid()));
}

#[test]
fn jwks_document_golden() {
    let jwks = Jwks::from_signing_keys([&key_a()]);
    let mut text = serde_json::to_string_pretty(&jwks.to_json()).unwrap();
    // The modulus is long and random; pin its shape, and pin everything else exactly.
    let n = jwks.keys[0].n.clone().unwrap();
    assert_eq!(b64::decode(&n).unwrap().len(), 256);
    text = text.replace(&n, "<n>");
    let kid = key_a().kid().to_owned();
    text = text.replace(&kid, "<kid>");
    expect![[r#"
        {
          "keys": [
            {
              "alg": "RS256",
              "e": "AQAB",
              "kid": "<kid>",
              "kty": "RSA",
              "n": "<n>",
              "use": "sig"
            }
          ]
        }"#]]
    .assert_eq(&text);
    // Parsing what we publish gives the same set back.
    assert_eq!(
        Jwks::parse(text.replace("<n>", &n).replace("<kid>", &kid).as_bytes()).unwrap(),
        jwks
    );
}

#[test]
fn weak_or_wrong_keys_are_refused() {
    assert!(matches!(
        SigningKey::from_pem(KEY_1024),
        Err(OidcError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem(KEY_EC),
        Err(OidcError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem(b"garbage"),
        Err(OidcError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::generate(1024),
        Err(OidcError::InvalidKey { .. })
    ));
    let big = vec![b'A'; MAX_PEM_LEN + 1];
    assert!(matches!(
        SigningKey::from_pem(&big),
        Err(OidcError::TooLarge { .. })
    ));
}

#[test]
fn generated_key_signs_and_verifies() {
    let key = generate_rsa_key(2048).unwrap();
    let token = key.sign(&claims()).unwrap();
    let verified = verify_rs(&token, &Jwks::from_signing_keys([&key])).unwrap();
    assert_eq!(verified.kid(), Some(key.kid()));
}

#[test]
fn sign_then_verify_round_trip() {
    let key = key_a();
    let token = key.sign(&claims()).unwrap();
    let header_and_payload: Vec<_> = token
        .split('.')
        .take(2)
        .map(|s| String::from_utf8(b64::decode(s).unwrap()).unwrap())
        .collect();
    let header = header_and_payload[0].replace(key.kid(), "<kid>");
    expect![[r#"{"alg":"RS256","kid":"<kid>","typ":"JWT"}"#]].assert_eq(&header);
    expect![[r#"{"aud":"app","exp":1700000300,"iat":1700000000,"iss":"https://sso.example.com","sub":"u1"}"#]]
        .assert_eq(&header_and_payload[1]);
    // PKCS#1 v1.5 is deterministic, so signing twice gives the same token.
    assert_eq!(key.sign(&claims()).unwrap(), token);

    let verified = verify_rs(&token, &Jwks::from_signing_keys([&key])).unwrap();
    assert_eq!(verified.alg(), Algorithm::RS256);
    assert_eq!(verified.typ(), Some("JWT"));
    assert_eq!(Value::Object(verified.into_claims()), claims());
}

#[test]
fn tampered_payload_is_rejected() {
    let key = key_a();
    let token = key.sign(&claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = claims();
    evil["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(evil.to_string()),
        parts[2]
    );
    assert!(matches!(
        verify_rs(&forged, &Jwks::from_signing_keys([&key])),
        Err(OidcError::BadSignature)
    ));
}

#[test]
fn tampered_header_is_rejected() {
    let key = key_a();
    let token = key.sign(&claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header = format!(r#"{{"alg":"RS256","kid":"{}","typ":"at+jwt"}}"#, key.kid());
    let forged = format!("{}.{}.{}", b64::encode(header), parts[1], parts[2]);
    assert!(matches!(
        verify_rs(&forged, &Jwks::from_signing_keys([&key])),
        Err(OidcError::BadSignature)
    ));
}

#[test]
fn alg_none_is_rejected() {
    let jwks = Jwks::from_signing_keys([&key_a()]);
    let token = raw_token(r#"{"alg":"none"}"#, &claims().to_string(), b"");
    let err = verify_rs(&token, &jwks).unwrap_err();
    assert!(
        matches!(err, OidcError::UnsupportedAlgorithm { ref alg } if alg == "none"),
        "{err:?}"
    );
    // Even with an empty signature segment removed entirely.
    let token = format!(
        "{}.{}.",
        b64::encode(r#"{"alg":"none"}"#),
        b64::encode(claims().to_string())
    );
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::UnsupportedAlgorithm { .. })
    ));
}

#[test]
fn hs256_keyed_with_the_public_key_is_rejected() {
    // Algorithm confusion: an attacker HMACs with the published modulus as the secret.
    let key = key_a();
    let jwks = Jwks::from_signing_keys([&key]);
    let header = format!(r#"{{"alg":"HS256","kid":"{}"}}"#, key.kid());
    let input = format!(
        "{}.{}",
        b64::encode(&header),
        b64::encode(claims().to_string())
    );
    let secret = PKey::hmac(key.public_jwk().n.as_deref().unwrap().as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &secret).unwrap();
    let mac = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
    let token = format!("{input}.{}", b64::encode(mac));
    let err = verify_rs(&token, &jwks).unwrap_err();
    assert!(
        matches!(err, OidcError::UnsupportedAlgorithm { ref alg } if alg == "HS256"),
        "{err:?}"
    );
}

#[test]
fn allow_list_is_enforced_and_must_not_be_empty() {
    let key = key_a();
    let jwks = Jwks::from_signing_keys([&key]);
    let token = key.sign(&claims()).unwrap();
    assert!(matches!(
        verify(&token, &jwks, &[Algorithm::ES256], now(), TimeDelta::zero()),
        Err(OidcError::AlgorithmNotAllowed { .. })
    ));
    assert!(matches!(
        verify(&token, &jwks, &[], now(), TimeDelta::zero()),
        Err(OidcError::EmptyAlgorithmAllowList)
    ));
}

#[test]
fn crit_header_is_rejected() {
    let jwks = Jwks::from_signing_keys([&key_a()]);
    let token = raw_token(
        r#"{"alg":"RS256","crit":["exp"]}"#,
        &claims().to_string(),
        &[0; 256],
    );
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::CriticalHeader)
    ));
}

#[test]
fn unknown_kid_is_rejected() {
    let token = key_a().sign(&claims()).unwrap();
    let err = verify_rs(&token, &Jwks::from_signing_keys([&key_b()])).unwrap_err();
    assert!(
        matches!(err, OidcError::UnknownKey { kid: Some(_) }),
        "{err:?}"
    );
    assert!(matches!(
        verify_rs(&token, &Jwks::default()),
        Err(OidcError::UnknownKey { .. })
    ));
}

#[test]
fn kid_rotation_old_key_verifies_while_published() {
    let (old, new) = (key_a(), key_b());
    let old_token = old.sign(&claims()).unwrap();
    let new_token = new.sign(&claims()).unwrap();
    let during = Jwks::from_signing_keys([&new, &old]);
    assert!(verify_rs(&old_token, &during).is_ok());
    assert!(verify_rs(&new_token, &during).is_ok());
    let after = Jwks::from_signing_keys([&new]);
    assert!(matches!(
        verify_rs(&old_token, &after),
        Err(OidcError::UnknownKey { .. })
    ));
    assert!(verify_rs(&new_token, &after).is_ok());
}

#[test]
fn token_without_kid_tries_every_compatible_key() {
    let key = key_a();
    let input = format!(
        "{}.{}",
        b64::encode(r#"{"alg":"RS256"}"#),
        b64::encode(claims().to_string())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &key.key).unwrap();
    let sig = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
    let token = format!("{input}.{}", b64::encode(sig));
    assert!(verify_rs(&token, &Jwks::from_signing_keys([&key_b(), &key])).is_ok());
    assert!(matches!(
        verify_rs(&token, &Jwks::from_signing_keys([&key_b()])),
        Err(OidcError::BadSignature)
    ));
}

#[test]
fn encryption_keys_and_mismatched_alg_keys_are_not_candidates() {
    let key = key_a();
    let token = key.sign(&claims()).unwrap();
    let mut jwks = Jwks::from_signing_keys([&key]);
    jwks.keys[0].use_ = Some("enc".into());
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::UnknownKey { .. })
    ));
    jwks.keys[0].use_ = None;
    jwks.keys[0].alg = Some("RS512".into());
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::UnknownKey { .. })
    ));
    jwks.keys[0].alg = None;
    assert!(verify_rs(&token, &jwks).is_ok());
}

#[test]
fn short_rsa_verification_key_is_refused() {
    let weak = PKey::private_key_from_pem(KEY_1024).unwrap();
    let rsa = weak.rsa().unwrap();
    let jwks = Jwks {
        keys: vec![Jwk {
            kty: "RSA".into(),
            kid: Some("weak".into()),
            alg: None,
            use_: None,
            n: Some(b64::encode(rsa.n().to_vec())),
            e: Some(b64::encode(rsa.e().to_vec())),
            crv: None,
            x: None,
            y: None,
        }],
    };
    let input = format!(
        "{}.{}",
        b64::encode(r#"{"alg":"RS256","kid":"weak"}"#),
        b64::encode(claims().to_string())
    );
    let sig = Signer::new(MessageDigest::sha256(), &weak)
        .unwrap()
        .sign_oneshot_to_vec(input.as_bytes())
        .unwrap();
    let token = format!("{input}.{}", b64::encode(sig));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::InvalidKey { .. })
    ));
}

fn signed_with_claims(claims: Value) -> (String, Jwks) {
    let key = key_a();
    (key.sign(&claims).unwrap(), Jwks::from_signing_keys([&key]))
}

#[test]
fn expiry_is_required_and_enforced_with_leeway() {
    let (token, jwks) = signed_with_claims(json!({ "exp": NOW }));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::Expired { exp: NOW, now: NOW })
    ));
    assert!(verify(
        &token,
        &jwks,
        &[Algorithm::RS256],
        now(),
        TimeDelta::seconds(30)
    )
    .is_ok());
    // A negative leeway is treated as zero, not as a stricter check that could overflow.
    assert!(matches!(
        verify(
            &token,
            &jwks,
            &[Algorithm::RS256],
            now(),
            TimeDelta::seconds(-30)
        ),
        Err(OidcError::Expired { .. })
    ));
    assert!(verify_rs(&signed_with_claims(json!({ "exp": NOW + 1 })).0, &jwks).is_ok());
    let (token, _) = signed_with_claims(json!({ "sub": "x" }));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::MissingClaim { claim: "exp" })
    ));
    let (token, _) = signed_with_claims(json!({ "exp": "tomorrow" }));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::InvalidClaim { claim: "exp", .. })
    ));
    // Fractional NumericDates are allowed (RFC 7519 §2).
    let (token, _) = signed_with_claims(json!({ "exp": (NOW as f64) + 10.5 }));
    assert!(verify_rs(&token, &jwks).is_ok());
    let (token, _) = signed_with_claims(json!({ "exp": i64::MAX }));
    assert!(verify(
        &token,
        &jwks,
        &[Algorithm::RS256],
        now(),
        TimeDelta::seconds(60)
    )
    .is_ok());
}

#[test]
fn nbf_and_iat_in_the_future_are_rejected() {
    let (token, jwks) = signed_with_claims(json!({ "exp": NOW + 600, "nbf": NOW + 60 }));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::NotYetValid { .. })
    ));
    assert!(verify(
        &token,
        &jwks,
        &[Algorithm::RS256],
        now(),
        TimeDelta::seconds(60)
    )
    .is_ok());
    let (token, _) = signed_with_claims(json!({ "exp": NOW + 600, "iat": NOW + 60 }));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::IssuedInFuture { .. })
    ));
    assert!(verify(
        &token,
        &jwks,
        &[Algorithm::RS256],
        now(),
        TimeDelta::seconds(60)
    )
    .is_ok());
}

#[test]
fn malformed_tokens_are_rejected() {
    let (token, jwks) = signed_with_claims(claims());
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        String::new(),
        parts[..2].join("."),
        format!("{token}.x"),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
        format!("!!.{}.{}", parts[1], parts[2]),
        raw_token("[1]", "{}", b"sig"),
        raw_token(r#"{"alg":5}"#, "{}", b"sig"),
        raw_token(r#"{"alg":"RS256","kid":5}"#, "{}", b"sig"),
    ];
    for case in cases {
        let err = verify_rs(&case, &jwks).unwrap_err();
        assert!(
            matches!(err, OidcError::MalformedToken { .. }),
            "{case:?}: {err:?}"
        );
    }
    // A payload that is signed but is not a JSON object.
    let key = key_a();
    let input = format!(
        "{}.{}",
        b64::encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, key.kid())),
        b64::encode("[1,2]")
    );
    let sig = Signer::new(MessageDigest::sha256(), &key.key)
        .unwrap()
        .sign_oneshot_to_vec(input.as_bytes())
        .unwrap();
    let token = format!("{input}.{}", b64::encode(sig));
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::MalformedToken { .. })
    ));
}

#[test]
fn oversized_token_is_refused_before_parsing() {
    let jwks = Jwks::from_signing_keys([&key_a()]);
    let token = "a".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::TooLarge { what: "JWS", .. })
    ));
}

#[test]
fn mutated_tokens_never_panic_and_never_verify() {
    let (token, jwks) = signed_with_claims(claims());
    let bytes = token.as_bytes();
    let alphabet = b"AZaz09-_.=+/ \x00";
    let mut entropy = FixedEntropy::new(11);
    for _ in 0..400 {
        let mut mutated = bytes.to_vec();
        let mut r = [0u8; 4];
        entropy.fill(&mut r);
        let pos = usize::from(u16::from_le_bytes([r[0], r[1]])) % mutated.len();
        match r[2] % 3 {
            0 => mutated[pos] = alphabet[usize::from(r[3]) % alphabet.len()],
            1 => mutated.truncate(pos),
            _ => mutated.insert(pos, alphabet[usize::from(r[3]) % alphabet.len()]),
        }
        if mutated == bytes {
            continue;
        }
        let text = String::from_utf8_lossy(&mutated);
        assert!(verify_rs(&text, &jwks).is_err(), "{text}");
    }
}

/// Sign ES256 with the committed P-256 key, converting OpenSSL's DER signature to R || S.
fn es256_token_and_jwks(claims: &Value) -> (String, Jwks) {
    let pkey = PKey::private_key_from_pem(KEY_EC).unwrap();
    let ec = pkey.ec_key().unwrap();
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    let jwk = Jwk {
        kty: "EC".into(),
        kid: Some("ec1".into()),
        alg: Some("ES256".into()),
        use_: Some("sig".into()),
        n: None,
        e: None,
        crv: Some("P-256".into()),
        x: Some(b64::encode(x.to_vec_padded(32).unwrap())),
        y: Some(b64::encode(y.to_vec_padded(32).unwrap())),
    };
    let input = format!(
        "{}.{}",
        b64::encode(r#"{"alg":"ES256","kid":"ec1"}"#),
        b64::encode(claims.to_string())
    );
    let sig = EcdsaSig::sign(&openssl::sha::sha256(input.as_bytes()), &ec).unwrap();
    let mut raw = sig.r().to_vec_padded(32).unwrap();
    raw.extend(sig.s().to_vec_padded(32).unwrap());
    (
        format!("{input}.{}", b64::encode(raw)),
        Jwks { keys: vec![jwk] },
    )
}

#[test]
fn es256_verifies_and_rejects_tampering() {
    let (token, jwks) = es256_token_and_jwks(&claims());
    let verified = verify(&token, &jwks, &[Algorithm::ES256], now(), TimeDelta::zero()).unwrap();
    assert_eq!(verified.alg(), Algorithm::ES256);
    assert!(jwks.keys[0].thumbprint().is_ok());
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::AlgorithmNotAllowed { .. })
    ));

    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(r#"{"exp":9999999999}"#),
        parts[2]
    );
    assert!(matches!(
        verify(
            &forged,
            &jwks,
            &[Algorithm::ES256],
            now(),
            TimeDelta::zero()
        ),
        Err(OidcError::BadSignature)
    ));
    // DER-encoded or truncated signatures are not R || S.
    let short = format!("{}.{}.{}", parts[0], parts[1], b64::encode([1u8; 63]));
    assert!(matches!(
        verify(&short, &jwks, &[Algorithm::ES256], now(), TimeDelta::zero()),
        Err(OidcError::BadSignature)
    ));
}

#[test]
fn es256_key_off_the_curve_is_refused() {
    let (token, mut jwks) = es256_token_and_jwks(&claims());
    jwks.keys[0].y = Some(b64::encode([7u8; 32]));
    assert!(matches!(
        verify(&token, &jwks, &[Algorithm::ES256], now(), TimeDelta::zero()),
        Err(OidcError::InvalidKey { .. })
    ));
}

#[test]
fn jwks_parse_is_bounded_and_lenient_per_key() {
    let doc = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"},{"kty":"RSA","kid":"k","x5c":["..."]}]}"#;
    let jwks = Jwks::parse(doc).unwrap();
    assert_eq!(jwks.keys.len(), 2);
    assert!(matches!(Jwks::parse(b"[]"), Err(OidcError::Json { .. })));
    assert!(matches!(Jwks::parse(b"{}"), Err(OidcError::Json { .. })));
    let many = format!(
        r#"{{"keys":[{}]}}"#,
        vec![r#"{"kty":"RSA"}"#; MAX_JWKS_KEYS + 1].join(",")
    );
    assert!(matches!(
        Jwks::parse(many.as_bytes()),
        Err(OidcError::TooLarge { .. })
    ));
    let huge = vec![b' '; MAX_JWKS_LEN + 1];
    assert!(matches!(
        Jwks::parse(&huge),
        Err(OidcError::TooLarge { .. })
    ));
    // A selected key without material is an error, not a panic.
    let token = raw_token(
        r#"{"alg":"RS256","kid":"k"}"#,
        &claims().to_string(),
        &[0; 256],
    );
    assert!(matches!(
        verify_rs(&token, &jwks),
        Err(OidcError::InvalidKey { .. })
    ));
}
