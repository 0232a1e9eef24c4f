#!/usr/bin/env bash
# Installs the third-party test peers of bins/server/tests/it/e2e.rs and scim_http.rs (a pysaml2 IdP,
# an Authlib OIDC client and the scim2-tester checker, pinned in scripts/test-peers/requirements.txt)
# into target/test-peers/venv.
#
# Idempotent: the venv is rebuilt only when it is missing, broken, or the requirements changed
# (their SHA-256 is stored in the venv). System packages are never installed here; what is
# missing is named and the script fails (.ci/run installs the Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/test-peers/venv
requirements=scripts/test-peers/requirements.txt
stamp="$venv/.requirements.sha256"

missing=()
command -v python3 >/dev/null 2>&1 || missing+=("python3 (apt package python3)")
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("the venv module (apt package python3-venv)")
fi
# pysaml2 signs, verifies and encrypts by running the xmlsec1 binary.
command -v xmlsec1 >/dev/null 2>&1 || missing+=("xmlsec1 (apt package xmlsec1)")
# The IdP generates its key and certificate with the openssl CLI.
command -v openssl >/dev/null 2>&1 || missing+=("openssl (apt package openssl)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-test-peers: missing on this machine:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  echo "install them (e.g. apt-get install -y python3-venv xmlsec1 openssl) and run this again" >&2
  exit 1
fi

want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$venv/bin/python" -c 'import saml2, authlib, requests, scim2_tester, httpx2' >/dev/null 2>&1; then
  echo "setup-test-peers: $venv is up to date"
  exit 0
fi

echo "setup-test-peers: creating $venv"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
"$venv/bin/python" -c 'import saml2, authlib, requests, scim2_tester, httpx2' 
echo "$want" >"$stamp"
echo "setup-test-peers: installed $("$venv/bin/python" -m pip freeze --disable-pip-version-check | grep -iE '^(pysaml2|authlib|requests|scim2-tester)==' | tr '\n' ' ')"
