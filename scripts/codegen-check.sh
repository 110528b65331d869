#!/usr/bin/env bash
# Generates TypeScript for examples/operations with graphql-codegen
# (typescript-operations) and fails if an operation's type holds `unknown` or
# `any`: the schema's scalars must be typed without custom configuration
# beyond Date/DateTime strings. Needs npm (Node 18+); not part of CI.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/target/codegen"
mkdir -p "$work"
if [ ! -x "$work/node_modules/.bin/graphql-codegen" ]; then
  (cd "$work" && npm init -y >/dev/null &&
    npm install --no-audit --no-fund @graphql-codegen/cli @graphql-codegen/typescript \
      @graphql-codegen/typescript-operations graphql >/dev/null)
fi
# Plugins resolve from the working directory: run from $work with the
# repository's paths made absolute.
sed -e "s|^schema: |schema: $root/|" -e "s|^documents: |documents: $root/|" \
  -e "s|^  target/|  $root/target/|" "$root/examples/codegen.yml" >"$work/codegen.yml"
(cd "$work" && ./node_modules/.bin/graphql-codegen --config codegen.yml)
out="$work/operations.ts"
# The Scalars map lists every scalar of the schema (JSON among them, used by
# auditLog and webhook deliveries only); what matters is the operations' types.
bad=$(grep -nE '^export type .*(Query|Mutation)(Variables)? = ' "$out" | grep -E '\bunknown\b|\bany\b' || true)
if [ -n "$bad" ]; then
  echo "operation types with unknown/any:"; echo "$bad"; exit 1
fi
echo "codegen: $(grep -cE '^export type .*(Query|Mutation) = ' "$out") operations, no unknown/any in their types ($out)"
