#!/usr/bin/env bash
# Install axe-core (the accessibility rules engine, from npm) into the checkout's
# .cache/axe, where tests/browser/test_accessibility.py looks for it. Needs npm.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${AXE_VERSION:-4.11.0}"
PREFIX=".cache/axe"
PKG="$PREFIX/node_modules/axe-core/package.json"
if [ -f "$PKG" ] && grep -q "\"version\": \"$VERSION\"" "$PKG"; then
    echo "[axe] axe-core $VERSION already in $PREFIX"
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "[axe] npm not found: apt-get install nodejs npm" >&2; exit 1; }
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --loglevel=error "axe-core@$VERSION"
echo "[axe] axe-core $VERSION installed in $PREFIX"
