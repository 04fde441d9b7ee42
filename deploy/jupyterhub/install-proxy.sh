#!/usr/bin/env bash
# Install JupyterHub's proxy (configurable-http-proxy, from npm) into the checkout's
# .cache/chp, where tests/test_jupyterhub.py looks for it. Needs node >= 18 and npm.
# Idempotent: does nothing when the pinned version is already there.
# Production servers install it globally instead (README.md here).
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION="${CHP_VERSION:-5.3.0}"
PREFIX=".cache/chp"
BIN="$PREFIX/node_modules/.bin/configurable-http-proxy"
if [ -x "$BIN" ] && [ "$("$BIN" --version)" = "$VERSION" ]; then
    echo "[proxy] configurable-http-proxy $VERSION already in $PREFIX"
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "[proxy] npm not found: apt-get install nodejs npm" >&2; exit 1; }
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --loglevel=error \
    "configurable-http-proxy@$VERSION"
echo "[proxy] $("$BIN" --version) installed in $PREFIX"
