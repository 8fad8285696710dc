#!/usr/bin/env bash
# tool.sh DIR PACKAGE VERSION: make DIR/<name> the binary of PACKAGE at
# VERSION, built with `go install` from the Go module proxy. Nothing is
# done when the binary is there and was built from that module version.
# Prints nothing unless it installs.
set -euo pipefail
dir=$1 pkg=$2 version=$3
: "${GO:=go}"
bin="$dir/$(basename "$pkg")"
case "$(basename "$pkg")" in v[0-9]*) echo "tool.sh: $pkg: give the command's package, not a module major version" >&2; exit 2 ;; esac

# `go version -m` prints "mod <module path> <version> <sum>" for the main module.
if [ -x "$bin" ] && "$GO" version -m "$bin" 2>/dev/null | awk -v v="$version" '$1 == "mod" && $3 == v { ok = 1 } END { exit !ok }'; then
  exit 0
fi
echo "tools: installing $pkg@$version into $dir" >&2
mkdir -p "$dir"
GOBIN="$(cd "$dir" && pwd)" GOFLAGS= "$GO" install "$pkg@$version"
