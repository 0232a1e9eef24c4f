#!/usr/bin/env python3
"""A SAML 2.0 identity provider built on pysaml2 (saml2.server.Server), for end-to-end tests.

It is a third-party peer: Gatehouse's own SAML code never runs here. pysaml2 parses the
AuthnRequest Gatehouse sends (HTTP-Redirect binding), checks its query-string signature against the signing
certificate in Gatehouse's SP metadata (or, for the HTTP-POST binding, the enveloped XML
signature), and answers with a Response whose assertion pysaml2 signs
(and optionally encrypts for the SP's encryption certificate) through the xmlsec1 binary.

Commands (the IdP key and certificate live in --key-dir, made with the openssl CLI on first use,
so that `metadata` and a later `respond` are the same IdP):

  idp.py metadata --key-dir DIR --entity-id X --sso-url Y
      prints the IdP metadata XML.
  idp.py logout-request --key-dir DIR --entity-id X --sso-url Y --sp-metadata FILE --user U
                 [--session-index S]
      IdP-initiated Single Logout: prints {"url"}, a signed HTTP-Redirect LogoutRequest to the
      SP's SingleLogoutService from its metadata.
  idp.py logout-answer ... --sp-metadata FILE --logout-request-url URL
      pysaml2 parses the SP's LogoutRequest (checking its query-string signature against the SP
      metadata) and answers: prints {"name_id", "session_indexes", "url"} with a signed
      HTTP-Redirect LogoutResponse.
  idp.py check-logout-response ... --sp-metadata FILE --logout-response-url URL
      pysaml2 parses the SP's LogoutResponse (signature checked): prints {"status", "in_response_to"}.
  (Every command takes --slo-url; the IdP's metadata then offers SingleLogoutService there.)
  idp.py respond --key-dir DIR --entity-id X --sso-url Y --sp-metadata FILE
                 (--authn-request-url URL | --authn-request-form HTML_FILE)
                 --user alice@acme.test [--given-name ..]
                 [--family-name ..] [--group G ...] [--sign-response]
                 [--encrypt-assertion [--encryption-alg aes128-gcm|aes256-gcm|aes128-cbc|aes256-cbc]]
      prints {"acs_url", "saml_response", "relay_state", "in_response_to", "sp_entity_id"} as JSON.

Exit status is non-zero, with the reason on stderr, when anything is refused or fails.
"""

import argparse
import base64
import functools
import json
import os
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

# Deprecation notices pysaml2's dependencies print about its internals are not test output.
warnings.filterwarnings("ignore", module=r"(saml2|cryptography)(\.|$)")

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, entity, sigver, xmldsig  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID  # noqa: E402
from saml2.server import Server  # noqa: E402

# pysaml2's default attribute converters name these attributes by OID with the URI name format
# (the eduPerson / inetOrgPerson profile most SAML IdPs follow). Gatehouse's connection maps them.
ATTR_MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
ATTR_GIVEN_NAME = "urn:oid:2.5.4.42"
ATTR_SURNAME = "urn:oid:2.5.4.4"
ATTR_IS_MEMBER_OF = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"

PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

# Content-encryption algorithms Gatehouse accepts: (XML-Enc URI, xmlsec1 session key type).
# pysaml2's Server always encrypts with Triple-DES (which Gatehouse rightly refuses): it calls
# sigver.pre_encryption_part and SecurityContext.encrypt_assertion with their defaults
# (msg_enc=TRIPLE_DES_CBC, key_type="des-192"). Both take the algorithm as a parameter, so the
# IdP supplies AES through them; key transport stays pysaml2's RSA-OAEP (rsa-oaep-mgf1p).
ENCRYPTION_ALGS = {
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
    "aes128-cbc": ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
}


class IdpError(Exception):
    """A refusal or failure, reported on stderr with a non-zero exit status."""


def ensure_keys(key_dir):
    """The IdP signing key and self-signed certificate in key_dir, generated once."""
    os.makedirs(key_dir, exist_ok=True)
    key = os.path.join(key_dir, "idp.key")
    cert = os.path.join(key_dir, "idp.crt")
    if not (os.path.exists(key) and os.path.exists(cert)):
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                "-days", "30", "-subj", "/CN=pysaml2 test IdP",
                "-keyout", key, "-out", cert,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return key, cert


def xmlsec_binary():
    try:
        return sigver.get_xmlsec_binary(["/usr/bin", "/usr/local/bin"])
    except sigver.SigverError as e:
        raise IdpError("xmlsec1 not found (apt package xmlsec1)") from e


def make_server(entity_id, sso_url, key_dir, sp_metadata_xml=None, slo_url=None):
    """A pysaml2 IdP server configured in memory."""
    key, cert = ensure_keys(key_dir)
    config = {
        "entityid": entity_id,
        "name": "pysaml2 test IdP",
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (sso_url, BINDING_HTTP_REDIRECT),
                        (sso_url, BINDING_HTTP_POST),
                    ],
                },
                # Gatehouse signs its AuthnRequests; an unsigned or badly signed one is refused.
                "want_authn_requests_signed": True,
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    },
                },
            },
        },
        "key_file": key,
        "cert_file": cert,
        "encryption_keypairs": [{"key_file": key, "cert_file": cert}],
        "xmlsec_binary": xmlsec_binary(),
        "crypto_backend": "xmlsec1",
        "signing_algorithm": xmldsig.SIG_RSA_SHA256,
        "digest_algorithm": xmldsig.DIGEST_SHA256,
        "accepted_time_diff": 180,
        "delete_tmpfiles": True,
    }
    if slo_url:
        config["service"]["idp"]["endpoints"]["single_logout_service"] = [(slo_url, BINDING_HTTP_REDIRECT)]
    if sp_metadata_xml is not None:
        config["metadata"] = {"inline": [sp_metadata_xml]}
    idp_config = IdPConfig()
    idp_config.load(config)
    return Server(config=idp_config)


def metadata_xml(entity_id, sso_url, key_dir, slo_url=None):
    server = make_server(entity_id, sso_url, key_dir, slo_url=slo_url)
    return create_metadata_string(None, config=server.config, valid=None, sign=False).decode("utf-8")


class _FormParser(HTMLParser):
    """Collects the form action and input fields of an HTTP-POST binding page."""

    def __init__(self):
        super().__init__()
        self.actions = []
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.actions.append(a.get("action"))
        elif tag == "input" and a.get("name"):
            if a["name"] in self.fields:
                raise IdpError(f"form field {a['name']} is repeated")
            self.fields[a["name"]] = a.get("value", "")


def parse_post_form(html):
    """(action, fields) of the auto-submit form Gatehouse serves for the HTTP-POST binding."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    if len(parser.actions) != 1:
        raise IdpError(f"expected one form, found {len(parser.actions)}")
    if "SAMLRequest" not in parser.fields:
        raise IdpError("the form carries no SAMLRequest")
    return parser.actions[0], parser.fields


def parse_redirect_url(url):
    """SAMLRequest, RelayState, SigAlg and Signature of an HTTP-Redirect binding URL."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)
    single = {}
    for name, values in query.items():
        if len(values) != 1:
            raise IdpError(f"query parameter {name} is repeated")
        single[name] = values[0]
    if "SAMLRequest" not in single:
        raise IdpError("the URL carries no SAMLRequest")
    return single


def respond(
    *,
    entity_id,
    sso_url,
    key_dir,
    sp_metadata_xml,
    user,
    authn_request_url=None,
    authn_request_form=None,
    given_name=None,
    family_name=None,
    groups=(),
    sign_response=False,
    encrypt_assertion=False,
    encryption_alg="aes128-gcm",
):
    """Answer one AuthnRequest, given either the HTTP-Redirect URL or the HTML page of the
    HTTP-POST binding: returns the dict `idp.py respond` prints."""
    server = make_server(entity_id, sso_url, key_dir, sp_metadata_xml)
    if (authn_request_url is None) == (authn_request_form is None):
        raise IdpError("give exactly one of the redirect URL and the POST form")
    if authn_request_url is not None:
        params = parse_redirect_url(authn_request_url)
        binding = BINDING_HTTP_REDIRECT
    else:
        action, params = parse_post_form(authn_request_form)
        if action != sso_url:
            raise IdpError(f"the form posts to {action!r}, not to this IdP's {sso_url!r}")
        binding = BINDING_HTTP_POST
    try:
        # HTTP-Redirect: pysaml2 checks the query-string signature (SigAlg, Signature);
        # HTTP-POST: the enveloped XML signature. Either against the SP metadata's signing cert.
        request = server.parse_authn_request(
            params["SAMLRequest"],
            binding,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=params.get("Signature"),
        )
    except Exception as e:  # pysaml2 raises many unrelated types; any of them is a refusal
        raise IdpError(f"AuthnRequest refused by pysaml2: {type(e).__name__}: {e}") from e
    if request is None:
        raise IdpError("AuthnRequest refused by pysaml2")
    resp_args = server.response_args(request.message, [BINDING_HTTP_POST])
    if resp_args.get("binding") != BINDING_HTTP_POST:
        raise IdpError(f"the SP has no HTTP-POST ACS (got {resp_args.get('binding')})")

    identity = {ATTR_MAIL: [user]}
    if given_name:
        identity[ATTR_GIVEN_NAME] = [given_name]
    if family_name:
        identity[ATTR_SURNAME] = [family_name]
    if groups:
        identity[ATTR_IS_MEMBER_OF] = list(groups)
    # pysaml2 converts local attribute names through its attribute maps; the OID names are
    # already in the wire form, so translate them to the local names pysaml2 knows.
    local = {
        ATTR_MAIL: "mail",
        ATTR_GIVEN_NAME: "givenName",
        ATTR_SURNAME: "sn",
        ATTR_IS_MEMBER_OF: "isMemberOf",
    }
    identity = {local[k]: v for k, v in identity.items()}

    original_pre_encryption_part = entity.pre_encryption_part
    if encrypt_assertion:
        if encryption_alg not in ENCRYPTION_ALGS:
            raise IdpError(f"unknown encryption algorithm {encryption_alg}")
        msg_enc, session_key = ENCRYPTION_ALGS[encryption_alg]
        entity.pre_encryption_part = functools.partial(
            sigver.pre_encryption_part, msg_enc=msg_enc, key_enc=sigver.RSA_OAEP_MGF1P
        )
        server.sec.encrypt_assertion = functools.partial(server.sec.encrypt_assertion, key_type=session_key)
    try:
        response = server.create_authn_response(
            identity,
            userid=user,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user),
            authn={"class_ref": PASSWORD_PROTECTED_TRANSPORT, "authn_auth": entity_id},
            sign_assertion=True,
            sign_response=sign_response,
            encrypt_assertion=encrypt_assertion,
            encrypt_assertion_self_contained=True,
            sign_alg=xmldsig.SIG_RSA_SHA256,
            digest_alg=xmldsig.DIGEST_SHA256,
            **resp_args,
        )
    finally:
        entity.pre_encryption_part = original_pre_encryption_part
    xml = response if isinstance(response, str) else str(response)
    return {
        "acs_url": resp_args["destination"],
        "saml_response": base64.b64encode(xml.encode("utf-8")).decode("ascii"),
        "relay_state": params.get("RelayState"),
        "in_response_to": resp_args["in_response_to"],
        "sp_entity_id": resp_args["sp_entity_id"],
    }


def location(info):
    """The Location header of pysaml2's HTTP-Redirect binding result."""
    for name, value in info["headers"]:
        if name == "Location":
            return value
    raise IdpError("pysaml2 produced no redirect")


def sp_entity_id(server):
    ids = [e for e in server.metadata.keys()]
    if len(ids) != 1:
        raise IdpError(f"expected one SP in the metadata, got {ids}")
    return ids[0]


def logout_request(server, user, session_index=None):
    """IdP-initiated Single Logout: a signed HTTP-Redirect LogoutRequest URL to the SP."""
    sp = sp_entity_id(server)
    destinations = server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")
    if not destinations:
        raise IdpError("the SP metadata offers no HTTP-Redirect SingleLogoutService")
    destination = destinations[0]["location"]
    request = server.create_logout_request(
        destination,
        sp,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user),
        session_indexes=[session_index] if session_index else None,
        sign=False,
    )
    # pysaml2 returns (id, message) here.
    request_id, request = request if isinstance(request, tuple) else (request.id, request)
    info = server.apply_binding(
        BINDING_HTTP_REDIRECT, str(request), destination, relay_state="idp-rs",
        sign=True, sigalg=xmldsig.SIG_RSA_SHA256,
    )
    return {"url": location(info), "request_id": request_id}


def logout_answer(server, url):
    """Parse the SP's LogoutRequest (signature checked) and answer it with a signed response."""
    params = parse_redirect_url(url)
    try:
        request = server.parse_logout_request(
            params["SAMLRequest"], BINDING_HTTP_REDIRECT,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"), signature=params.get("Signature"),
        )
    except Exception as e:
        raise IdpError(f"LogoutRequest refused by pysaml2: {type(e).__name__}: {e}") from e
    if request is None:
        raise IdpError("LogoutRequest refused by pysaml2")
    message = request.message
    response = server.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
    destination = response.destination
    info = server.apply_binding(
        BINDING_HTTP_REDIRECT, str(response), destination, relay_state=params.get("RelayState"),
        response=True, sign=True, sigalg=xmldsig.SIG_RSA_SHA256,
    )
    return {
        "name_id": message.name_id.text,
        "name_id_format": message.name_id.format,
        "session_indexes": [s.text for s in (message.session_index or [])],
        "signature_checked": bool(params.get("Signature")),
        "url": location(info),
    }


def check_logout_response(server, url):
    """Parse the SP's LogoutResponse to our LogoutRequest."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)
    if "SAMLResponse" not in query or "Signature" not in query:
        raise IdpError("the URL carries no signed SAMLResponse")
    # The query-string signature, checked with pysaml2 against the SP metadata's signing cert.
    single = {k: v[0] for k, v in query.items()}
    certs = server.metadata.certs(sp_entity_id(server), "spsso", "signing")
    if not any(
        sigver.verify_redirect_signature(single, server.sec.sec_backend, cert=cert)
        for _, cert in certs
    ):
        raise IdpError("the LogoutResponse's query-string signature does not verify")
    try:
        response = server.parse_logout_request_response(query["SAMLResponse"][0], BINDING_HTTP_REDIRECT)
    except Exception as e:
        raise IdpError(f"LogoutResponse refused by pysaml2: {type(e).__name__}: {e}") from e
    if response is None:
        raise IdpError("LogoutResponse refused by pysaml2")
    return {
        "signature_checked": True,
        "status": response.response.status.status_code.value,
        "in_response_to": response.response.in_response_to,
        "relay_state": query.get("RelayState", [None])[0],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("metadata", "respond", "logout-request", "logout-answer", "check-logout-response"):
        p = sub.add_parser(name)
        p.add_argument("--key-dir", required=True)
        p.add_argument("--entity-id", required=True)
        p.add_argument("--sso-url", required=True)
        p.add_argument("--slo-url")
        if name.startswith("logout") or name.startswith("check"):
            p.add_argument("--sp-metadata", required=True, help="file with the SP metadata XML")
        if name == "logout-request":
            p.add_argument("--user", required=True)
            p.add_argument("--session-index")
        if name == "logout-answer":
            p.add_argument("--logout-request-url", required=True)
        if name == "check-logout-response":
            p.add_argument("--logout-response-url", required=True)
        if name == "respond":
            p.add_argument("--sp-metadata", required=True, help="file with the SP metadata XML")
            how = p.add_mutually_exclusive_group(required=True)
            how.add_argument("--authn-request-url", help="HTTP-Redirect binding URL")
            how.add_argument("--authn-request-form", help="file with the HTTP-POST binding HTML page")
            p.add_argument("--user", required=True, help="e-mail address; also the NameID")
            p.add_argument("--given-name")
            p.add_argument("--family-name")
            p.add_argument("--group", action="append", default=[])
            p.add_argument("--sign-response", action="store_true")
            p.add_argument("--encrypt-assertion", action="store_true")
            p.add_argument("--encryption-alg", default="aes128-gcm", choices=sorted(ENCRYPTION_ALGS))
    args = parser.parse_args(argv)
    try:
        if args.command == "metadata":
            sys.stdout.write(metadata_xml(args.entity_id, args.sso_url, args.key_dir, args.slo_url))
        elif args.command in ("logout-request", "logout-answer", "check-logout-response"):
            with open(args.sp_metadata, encoding="utf-8") as f:
                server = make_server(args.entity_id, args.sso_url, args.key_dir, f.read(), args.slo_url)
            if args.command == "logout-request":
                result = logout_request(server, args.user, args.session_index)
            elif args.command == "logout-answer":
                result = logout_answer(server, args.logout_request_url)
            else:
                result = check_logout_response(server, args.logout_response_url)
            json.dump(result, sys.stdout)
            sys.stdout.write("\n")
        else:
            with open(args.sp_metadata, encoding="utf-8") as f:
                sp_metadata = f.read()
            form = None
            if args.authn_request_form:
                with open(args.authn_request_form, encoding="utf-8") as f:
                    form = f.read()
            result = respond(
                entity_id=args.entity_id,
                sso_url=args.sso_url,
                key_dir=args.key_dir,
                sp_metadata_xml=sp_metadata,
                authn_request_url=args.authn_request_url,
                authn_request_form=form,
                user=args.user,
                given_name=args.given_name,
                family_name=args.family_name,
                groups=args.group,
                sign_response=args.sign_response,
                encrypt_assertion=args.encrypt_assertion,
                encryption_alg=args.encryption_alg,
            )
            json.dump(result, sys.stdout)
            sys.stdout.write("\n")
    except (IdpError, OSError, subprocess.CalledProcessError) as e:
        print(f"idp.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
