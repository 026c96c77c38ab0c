#!/usr/bin/env bash
# Refresh the Swagger UI that /docs serves (ocr_core/http/assets/swagger-ui/) from the npm
# registry. Only the bundle, its stylesheet and the licences are kept, gzipped where large,
# so the repository and every deployed function stay small; nothing is fetched at run time.
set -euo pipefail
version=${1:-5.35.0}
dest="$(cd "$(dirname "$0")/.." && pwd)/ocr_core/assets/swagger-ui"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$dest"
cp "$work/package/LICENSE" "$work/package/NOTICE" "$work/package/swagger-ui-bundle.js.LICENSE.txt" "$dest/"
gzip -9 -n -c "$work/package/swagger-ui-bundle.js" >"$dest/swagger-ui-bundle.js.gz"
gzip -9 -n -c "$work/package/swagger-ui.css" >"$dest/swagger-ui.css.gz"
echo "swagger-ui-dist $version" >"$dest/VERSION"
echo "vendored swagger-ui-dist $version into $dest"
