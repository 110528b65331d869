// Driven by scripts/oidc-e2e.sh: a real OpenID provider (npm's oidc-provider) on
// 127.0.0.1 signs a person in with the authorization-code flow (PKCE), the way a
// console would, and issues a JWT access token for embhub's audience.
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { default: Provider } = await import(require.resolve("oidc-provider"));

const issuer = process.env.ISSUER;
const port = Number(new URL(issuer).port);
const redirect = "http://127.0.0.1:5173/callback";

const provider = new Provider(issuer, {
  clients: [{
    client_id: "console", client_secret: "console-secret", redirect_uris: [redirect],
    grant_types: ["authorization_code"], response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  }],
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => "urn:embhub:api",
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        audience: "embhub-api", scope: "openid", accessTokenFormat: "jwt",
        accessTokenTTL: 300, jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  // The person's organization and groups travel in the access token.
  extraTokenClaims: (ctx, token) => ({
    name: "Kim Staff", email: `${token.accountId}@nec.example`,
    org: "NEC", groups: ["embhub-coordinators"],
  }),
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 300, IdToken: 300 },
});
provider.proxy = false;
const server = provider.listen(port, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
console.error(`provider listening on ${issuer}`);

if (process.env.MODE === "serve") {
  // Keep serving (the shell script signs in next).
} else {
  server.close();
}

// The authorization-code flow, as a browser would follow it.
export async function signIn() {
  const cookies = new Map();
  const jar = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const keep = (response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, ...value] = pair.split("=");
      cookies.set(name.trim(), value.join("="));
    }
  };
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  let url = `${issuer}/auth?` + new URLSearchParams({
    client_id: "console", response_type: "code", scope: "openid", redirect_uri: redirect,
    code_challenge: challenge, code_challenge_method: "S256", resource: "urn:embhub:api",
  });
  let method = "GET";
  let body;
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      method, body, redirect: "manual",
      headers: { cookie: jar(), ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
    });
    keep(response);
    const location = response.headers.get("location");
    if (location) {
      const next = new URL(location, url);
      if (next.href.startsWith(redirect)) {
        const code = next.searchParams.get("code");
        if (!code) throw new Error(`no code: ${next}`);
        const token = await fetch(`${issuer}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: verifier,
            client_id: "console", client_secret: "console-secret", resource: "urn:embhub:api",
          }),
        }).then((r) => r.json());
        if (!token.access_token) throw new Error(`no access token: ${JSON.stringify(token)}`);
        return token.access_token;
      }
      url = next.href; method = "GET"; body = undefined;
      continue;
    }
    const html = await response.text();
    const action = html.match(/<form[^>]*action="([^"]+)"/);
    if (!action) throw new Error(`stuck at ${url}: ${response.status}`);
    const prompt = html.match(/name="prompt" value="([^"]+)"/)[1];
    const form = new URLSearchParams({ prompt });
    if (prompt === "login") { form.set("login", "kim"); form.set("password", "any"); }
    url = new URL(action[1], url).href; method = "POST"; body = form.toString();
  }
  throw new Error("too many steps");
}

if (process.env.MODE === "serve") {
  const token = await signIn();
  const { writeFileSync, renameSync } = await import("node:fs");
  writeFileSync(process.env.TOKEN_FILE + ".tmp", token);
  renameSync(process.env.TOKEN_FILE + ".tmp", process.env.TOKEN_FILE);
}
