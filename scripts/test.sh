#!/usr/bin/env bash
# Every check and test. DATABASE_URL picks the database (SQLite by default).
# Browser tests need Debian's chromium: installed here when we may (root + apt),
# and required whenever CI=true. So is Postfix for tests/postfix.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The Postfix end-to-end tests (tests/postfix) need Debian's postfix and the SASL
# client plugins. Answering "No configuration" installs no system mail server (and
# no /etc/postfix/main.cf): the tests run private instances of their own.
if { [ ! -x /usr/sbin/postfix ] || ! compgen -G "/usr/lib/*/sasl2/libplain.so*" >/dev/null; } \
  && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's postfix and libsasl2-modules for the Postfix tests"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix libsasl2-modules >/dev/null
fi

echo "== ruff"
$PY -m ruff check .
$PY -m ruff format --check .
echo "== mypy (engine)"
$PY -m mypy
echo "== migrations are up to date"
$PY manage.py makemigrations --check --dry-run
echo "== check --deploy with production settings"
PRODUCTION=1 DEBUG=0 SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')" \
  SECRETS_ENCRYPTION_KEYS="$($PY -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
  ALLOWED_HOSTS=overrides.example.org DATABASE_URL="${DATABASE_URL:-}" \
  $PY manage.py check --deploy --fail-level WARNING

echo "== pytest on ${DATABASE_URL:-SQLite}"
$PY -m pytest -n 2 "$@"
