#!/bin/sh
# vendor.sh copies the front-end libraries pinned in package-lock.json into
# static/vendor/, where go:embed picks them up: `go build` needs no npm, and
# running this again after `npm ci` reproduces the committed files exactly
# (check with `git diff --exit-code static/vendor`).
#
#   cd http/web && ./vendor.sh
#
# To upgrade: change the version in package.json, `npm install`, run this,
# look at the pages (go test ./cmd/paredao -run Browser) and commit all of it.
set -eu
cd "$(dirname "$0")"

npm ci --no-audit --no-fund --ignore-scripts

out=static/vendor
rm -rf "$out"
mkdir -p "$out"

# ALTCHA: the "external" build keeps styles and the worker in separate files,
# so the widget runs under our CSP (no 'unsafe-inline', no blob: workers).
cp node_modules/altcha/dist_external/altcha.js  "$out/altcha.js"
cp node_modules/altcha/dist_external/worker.js  "$out/altcha-worker.js"
cp node_modules/altcha/dist_external/altcha.css "$out/altcha.css"
cp node_modules/altcha/LICENSE.txt              "$out/LICENSE-altcha.txt"

# Chart.js: the UMD build defines window.Chart (it bundles @kurkle/color).
# The source map comment is dropped: the map is not vendored.
sed '/^\/\/# sourceMappingURL=/d' node_modules/chart.js/dist/chart.umd.min.js > "$out/chart.umd.min.js"
cp node_modules/chart.js/LICENSE.md             "$out/LICENSE-chart.js.md"
cp node_modules/@kurkle/color/LICENSE.md        "$out/LICENSE-kurkle-color.md"

version() { node -p "require('./node_modules/$1/package.json').version"; }
{
  echo "# Vendored front-end libraries"
  echo
  echo "Written by \`http/web/vendor.sh\` from \`http/web/package-lock.json\`; do not edit by hand."
  echo
  echo "| package | version | licence | files |"
  echo "| --- | --- | --- | --- |"
  echo "| altcha | $(version altcha) | MIT (LICENSE-altcha.txt) | altcha.js, altcha-worker.js, altcha.css (from dist_external/) |"
  echo "| chart.js | $(version chart.js) | MIT (LICENSE-chart.js.md) | chart.umd.min.js (from dist/, source map comment removed) |"
  echo "| @kurkle/color | $(version @kurkle/color) | MIT (LICENSE-kurkle-color.md) | bundled inside chart.umd.min.js |"
  echo
  echo "SHA-256 of the vendored files:"
  echo
  echo '```'
  (cd "$out" && sha256sum altcha.js altcha-worker.js altcha.css chart.umd.min.js)
  echo '```'
} > "$out/VENDOR.md"
echo "vendored into $out:"
ls -l "$out"
