#!/usr/bin/env bash
# vulndb.sh VERSION [DIR]: build a local Go vulnerability database from the
# pinned module golang.org/x/vulndb@VERSION (fetched through the Go module
# proxy like any module, so no access to vuln.go.dev is needed) and print its
# absolute path, for `govulncheck -db file://PATH`.
#
# The module's data/osv/*.json are the OSV entries; its cmd/indexdb (same
# version) writes the v1 database layout govulncheck reads: index/db.json,
# index/modules.json, index/vulns.json and ID/<id>.json. The result is cached
# in DIR/<VERSION> (default $TOOLS/vulndb, TOOLS defaulting to bin/tools,
# git-ignored); a second run only prints the path. indexdb goes to $TOOLS.
set -euo pipefail
version=${1:?usage: vulndb.sh VERSION [DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${TOOLS:-$root/bin/tools}
base=${2:-$tools/vulndb}
: "${GO:=go}"
out="$base/$version"

if [ -f "$out/index/modules.json" ] && [ -f "$out/index/db.json" ]; then
  echo "$out"
  exit 0
fi

# Outside any module, so neither go.mod of the repository is touched.
cd "${TMPDIR:-/tmp}"
field() { printf '%s\n' "$json" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p"; }
if ! json=$("$GO" mod download -json "golang.org/x/vulndb@$version") || [ -n "$(field Error)" ]; then
  echo "vulndb: go mod download golang.org/x/vulndb@$version: $(field Error)" >&2
  exit 1
fi
src=$(field Dir)
info=$(field Info)
osv=$src/data/osv
[ -d "$osv" ] || { echo "vulndb: $osv missing" >&2; exit 1; }

"$root/scripts/tool.sh" "$tools" golang.org/x/vulndb/cmd/indexdb "$version"

echo "vulndb: indexing $(ls "$osv" | wc -l) OSV entries of golang.org/x/vulndb@$version" >&2
mkdir -p "$base"
tmp=$(mktemp -d "$base/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$tools/indexdb" -vulns "$osv" -out "$tmp/db"

# The entries in the repository carry no modification time (the published
# database takes it from git history), so index/db.json says year 1 and
# govulncheck would print "DB updated: 0001-01-01". Use the commit time of the
# pinned module version instead.
when=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
if [ -n "$when" ]; then
  printf '{"modified":"%s"}' "$when" >"$tmp/db/index/db.json"
  gzip -n -c "$tmp/db/index/db.json" >"$tmp/db/index/db.json.gz"
fi

rm -rf "$out"
mv "$tmp/db" "$out"
echo "$out"
