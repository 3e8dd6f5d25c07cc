#!/usr/bin/env bash
# Refresh the vendored API-docs viewer (Redoc's standalone bundle, MIT) from the npm
# registry: bash scripts/vendor-redoc.sh [VERSION]. The files are copied unchanged, with
# their licences, to web/static/vendor/redoc/; the page at /api/docs loads them from
# there, so no browser ever fetches anything from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-2.5.4}
dest=web/static/vendor/redoc
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "redoc@$version" >/dev/null)
tar -xzf "$tmp/redoc-$version.tgz" -C "$tmp"
mkdir -p "$dest"
cp "$tmp/package/bundles/redoc.standalone.js" "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$dest/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
integrity=$(cd "$tmp" && npm view --silent "redoc@$version" dist.integrity)
cat > "$dest/VERSION" <<EOT
redoc $version (npm), bundles/redoc.standalone.js, copied unchanged
tarball integrity: $integrity
refresh: bash scripts/vendor-redoc.sh [VERSION]
EOT
echo "vendored redoc $version into $dest"
