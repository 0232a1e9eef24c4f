#!/usr/bin/env python3
"""An OpenID Connect client built on Authlib, signing in through Gatehouse to the pysaml2 IdP.

Everything Gatehouse-facing is done the way an app using Authlib would do it:

1. read the discovery document (`/.well-known/openid-configuration`);
2. build the authorization URL with `OAuth2Session` (authorization code, PKCE S256, state, nonce);
3. follow Gatehouse to the IdP (a redirect, or an auto-submit form for the HTTP-POST binding):
   the pysaml2 IdP of idp.py answers the AuthnRequest in-process (no browser, no listening server);
4. POST the SAMLResponse to Gatehouse's ACS and read the redirect back to `redirect_uri` from the
   Location header;
5. exchange the code (`client_secret_basic`, PKCE verifier, state checked by Authlib);
6. validate the ID token with `authlib.jose.jwt.decode` against the JWKS from `jwks_uri`
   (`CodeIDToken` claims: iss, aud, nonce, exp/iat, at_hash when present);
7. call userinfo and introspection.

It prints a JSON summary on stdout, including the SAMLResponse it posted (so a test can replay it),
and exits non-zero with the reason on stderr on any failure.
"""

import argparse
import json
import os
import sys
import warnings
from urllib.parse import parse_qs, urlsplit

# Deprecation notices of the pinned libraries about their own internals are not test output.
warnings.filterwarnings("ignore", module=r"(saml2|authlib|cryptography)(\.|$)")
warnings.filterwarnings("ignore", message=r".*authlib\.jose.*")

import requests  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idp  # noqa: E402

TIMEOUT = 30


class ClientError(Exception):
    """A step of the flow did not go as an OIDC client requires."""


def expect_redirect(response, what):
    if response.status_code not in (302, 303, 307):
        raise ClientError(f"{what}: expected a redirect, got HTTP {response.status_code}: {response.text[:500]}")
    location = response.headers.get("Location")
    if not location:
        raise ClientError(f"{what}: redirect without Location")
    return location


def login(args):
    issuer = args.issuer.rstrip("/")
    http = requests.Session()

    discovery = http.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
    discovery.raise_for_status()
    doc = discovery.json()
    if doc.get("issuer") != issuer:
        raise ClientError(f"discovery issuer {doc.get('issuer')!r} is not {issuer!r}")
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "introspection_endpoint"):
        if not doc.get(field):
            raise ClientError(f"discovery document has no {field}")
    if "S256" not in doc.get("code_challenge_methods_supported", []):
        raise ClientError("the provider does not advertise PKCE S256")

    client = OAuth2Session(
        client_id=args.client_id,
        client_secret=args.client_secret,
        scope="openid email profile",
        redirect_uri=args.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    state = generate_token(24)
    nonce = generate_token(24)
    code_verifier = generate_token(64)
    extra = {}
    if args.login_hint:
        extra["login_hint"] = args.login_hint
    if args.connection:
        extra["connection"] = args.connection
    authorization_url, _ = client.create_authorization_url(
        doc["authorization_endpoint"], state=state, nonce=nonce, code_verifier=code_verifier, **extra
    )

    # Gatehouse sends the browser to the IdP with the binding the IdP's metadata asks for:
    # a redirect (HTTP-Redirect) or an auto-submitting form (HTTP-POST).
    authorize = http.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
    to_idp, form_html = None, None
    if authorize.status_code == 200 and authorize.headers.get("Content-Type", "").startswith("text/html"):
        form_html = authorize.text
        binding = "post"
    else:
        to_idp = expect_redirect(authorize, "authorize")
        if not to_idp.startswith(args.idp_sso_url + "?"):
            raise ClientError(f"authorize redirected to {to_idp[:200]!r}, not to the IdP {args.idp_sso_url}")
        binding = "redirect"

    with open(args.sp_metadata, encoding="utf-8") as f:
        sp_metadata = f.read()
    saml = idp.respond(
        entity_id=args.idp_entity_id,
        sso_url=args.idp_sso_url,
        key_dir=args.idp_key_dir,
        sp_metadata_xml=sp_metadata,
        authn_request_url=to_idp,
        authn_request_form=form_html,
        user=args.user,
        given_name=args.given_name,
        family_name=args.family_name,
        groups=args.group,
        sign_response=args.sign_response,
        encrypt_assertion=args.encrypt_assertion,
        encryption_alg=args.encryption_alg,
    )
    if not saml["acs_url"].startswith(issuer + "/"):
        raise ClientError(f"the SP metadata names ACS {saml['acs_url']!r} outside {issuer}")

    form = {"SAMLResponse": saml["saml_response"]}
    if saml["relay_state"] is not None:
        form["RelayState"] = saml["relay_state"]
    back = expect_redirect(http.post(saml["acs_url"], data=form, allow_redirects=False, timeout=TIMEOUT), "ACS")
    if not back.startswith(args.redirect_uri + "?"):
        raise ClientError(f"ACS redirected to {back[:200]!r}, not to the redirect_uri")
    returned = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    if "error" in returned:
        raise ClientError(f"authorization error: {returned}")
    # RFC 9207: the authorization response names its issuer (mix-up defence).
    if returned.get("iss") != issuer:
        raise ClientError(f"authorization response iss {returned.get('iss')!r} is not {issuer!r}")

    # Authlib checks `state` against the one it generated, then sends the PKCE verifier.
    token = client.fetch_token(
        doc["token_endpoint"], authorization_response=back, state=state, code_verifier=code_verifier
    )
    for field in ("access_token", "id_token", "token_type"):
        if field not in token:
            raise ClientError(f"token response has no {field}")
    if token["token_type"].lower() != "bearer":
        raise ClientError(f"token_type {token['token_type']!r}")

    jwks = http.get(doc["jwks_uri"], timeout=TIMEOUT)
    jwks.raise_for_status()
    keys = JsonWebKey.import_key_set(jwks.json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": args.client_id},
            "nonce": {"essential": True, "value": nonce},
            "sub": {"essential": True},
        },
        claims_params={"nonce": nonce, "client_id": args.client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=60)
    header = dict(claims.header)
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise ClientError(f"unexpected ID token header {header}")

    userinfo = client.get(doc["userinfo_endpoint"], timeout=TIMEOUT)
    userinfo.raise_for_status()
    userinfo = userinfo.json()
    if userinfo.get("sub") != claims["sub"]:
        raise ClientError("userinfo sub differs from the ID token sub")

    introspection = client.introspect_token(doc["introspection_endpoint"], token=token["access_token"])
    introspection.raise_for_status()
    introspection = introspection.json()

    return {
        "issuer": issuer,
        "id_token": token["id_token"],
        "id_token_header": header,
        "id_token_claims": dict(claims),
        "token_response": {k: v for k, v in token.items() if k not in ("access_token", "id_token")},
        "userinfo": userinfo,
        "introspection": introspection,
        "saml": {
            "request_binding": binding,
            "acs_url": saml["acs_url"],
            "saml_response": saml["saml_response"],
            "relay_state": saml["relay_state"],
            "sp_entity_id": saml["sp_entity_id"],
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issuer", required=True, help="Gatehouse public URL (the OIDC issuer)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--login-hint", help="routes to the tenant by e-mail domain")
    parser.add_argument("--connection", help="routes to one connection explicitly")
    parser.add_argument("--sp-metadata", required=True, help="Gatehouse SP metadata of the connection (file)")
    parser.add_argument("--idp-key-dir", required=True)
    parser.add_argument("--idp-entity-id", required=True)
    parser.add_argument("--idp-sso-url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--given-name")
    parser.add_argument("--family-name")
    parser.add_argument("--group", action="append", default=[])
    parser.add_argument("--sign-response", action="store_true")
    parser.add_argument("--encrypt-assertion", action="store_true")
    parser.add_argument("--encryption-alg", default="aes128-gcm", choices=sorted(idp.ENCRYPTION_ALGS))
    args = parser.parse_args(argv)
    try:
        summary = login(args)
    except (ClientError, idp.IdpError) as e:
        print(f"oidc_client.py: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # Authlib / requests / jose failures: report them, never a traceback-only exit
        print(f"oidc_client.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    json.dump(summary, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
