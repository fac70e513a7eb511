#!/usr/bin/env bash
# tools.sh [servers]
#
# Installs the pinned tools the tests need into .tools/ (git-ignored),
# skipping what is already there at the right version:
#   dynalite     npm, version and dependencies pinned by scripts/dynalite/package-lock.json
#   local-kms    Go module, pinned below
#   staticcheck  Go module, pinned below; not with "servers"
# With "servers", only the two servers: make demo runs nothing else.
set -euo pipefail
case "${1:-all}" in
  all) only_servers= ;;
  servers) only_servers=1 ;;
  *) echo "usage: $0 [servers]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"

LOCAL_KMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6
STATICCHECK_VERSION=v0.8.2

# dynalite: reinstall when the committed lockfile changed.
if ! cmp -s "$root/scripts/dynalite/package-lock.json" "$tools/dynalite/package-lock.json" ||
   [ ! -f "$tools/dynalite/node_modules/dynalite/cli.js" ]; then
  echo "tools: installing dynalite (npm ci)"
  rm -rf "$tools/dynalite"
  mkdir -p "$tools/dynalite"
  cp "$root/scripts/dynalite/package.json" "$root/scripts/dynalite/package-lock.json" "$tools/dynalite/"
  (cd "$tools/dynalite" && npm ci --no-audit --no-fund --loglevel=error)
fi

# Go tools: the version is recorded beside the binary.
go_tool() { # name module version
  local name=$1 module=$2 version=$3
  if [ "$(cat "$tools/bin/$name.version" 2>/dev/null)" != "$version" ] || [ ! -x "$tools/bin/$name" ]; then
    echo "tools: installing $name $version"
    GOBIN="$tools/bin" GOFLAGS= go install "$module@$version"
    echo "$version" > "$tools/bin/$name.version"
  fi
}
go_tool local-kms github.com/nsmithuk/local-kms "$LOCAL_KMS_VERSION"
[ -n "$only_servers" ] || go_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
