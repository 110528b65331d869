// Runs the graphql-http server audit (GraphQL-over-HTTP specification) against a
// running embhub. Usage: EMBHUB_URL=http://127.0.0.1:8080/graphql EMBHUB_TOKEN=… node audit.mjs
// Prints one line per audit (ok / warn / error) and exits 1 if any MUST failed.
import { auditServer } from 'graphql-http';

const url = process.env.EMBHUB_URL ?? 'http://127.0.0.1:8080/graphql';
const token = process.env.EMBHUB_TOKEN;
if (!token) {
  console.error('EMBHUB_TOKEN must hold an access token');
  process.exit(2);
}

// Every request carries the token, as a real client's would.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const counts = { ok: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  let line = `${result.status.padEnd(5)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    line += `\n      reason: ${result.reason}`;
    if (result.response) {
      const status = result.response.status;
      let body = '';
      try {
        body = await result.response.text();
      } catch {
        // already consumed by the audit
      }
      line += `\n      response: ${status} ${body.slice(0, 300)}`;
    }
  }
  console.log(line);
}
console.log(`\n${counts.ok} ok, ${counts.warn} warn (SHOULD), ${counts.error} error (MUST)`);
process.exit(counts.error > 0 ? 1 : 0);
