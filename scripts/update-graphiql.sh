#!/usr/bin/env bash
# Refreshes the GraphiQL page's assets in assets/graphiql/ from the npm registry,
# at the pinned versions below (GraphiQL 3 is the last major with a ready-made
# browser bundle; React 18 the last with UMD builds). The binary embeds these
# files, so GraphiQL works with no internet. Change a version, run this, rebuild,
# and run scripts/graphiql-browser-test.sh.
set -euo pipefail
GRAPHIQL=3.8.3
REACT=18.3.1
cd "$(dirname "$0")/.."
out=assets/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for spec in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  pkg=${spec%-*}
  mkdir -p "$work/$pkg" && tar xzf "$work/$spec.tgz" -C "$work/$pkg"
done
# No source maps: the page must not reference files the binary does not serve.
sed '/sourceMappingURL=/d' "$work/graphiql/package/graphiql.min.js" > "$out/graphiql.min.js"
sed 's#/\*\# sourceMappingURL=[^*]*\*/##' "$work/graphiql/package/graphiql.min.css" > "$out/graphiql.min.css"
cp "$work/react/package/umd/react.production.min.js" "$out/"
cp "$work/react-dom/package/umd/react-dom.production.min.js" "$out/"
{
  echo "graphiql $GRAPHIQL (MIT):"; cat "$work/graphiql/package/LICENSE"; echo
  echo "react and react-dom $REACT (MIT):"; cat "$work/react/package/LICENSE"
} > "$out/LICENSES.txt"
echo "graphiql $GRAPHIQL, react $REACT" > "$out/VERSIONS"
echo "assets/graphiql updated: graphiql $GRAPHIQL, react $REACT"
