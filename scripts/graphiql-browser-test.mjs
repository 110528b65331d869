// Driven by scripts/graphiql-browser-test.sh: see there.
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { chromium } = require("playwright-core");

const url = process.env.EMBHUB_URL;
const token = process.env.EMBHUB_TOKEN;
const blocked = [];
const problems = [];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext();
  // The network: 127.0.0.1 only. Anything else (a CDN) is refused and noted.
  await context.route("**/*", (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === "127.0.0.1") return route.continue();
    blocked.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));

  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-container", { timeout: 20000 });
  await page.fill("#token", token);
  // Replace the editor's text with the query, as a person would type it.
  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  await editor.click();
  await page.evaluate((q) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(q),
    "{ viewer { organization { name } } }");
  await page.click(".graphiql-execute-button");
  const result = page.locator(".result-window");
  await result.getByText("National Election Commission").first().waitFor({ timeout: 20000 });
  const text = (await result.innerText()).replace(/\s+/g, " ");
  console.log(`result pane: ${text.slice(0, 200)}`);
  if (blocked.length) problems.push(`requests to other hosts: ${blocked.join(", ")}`);
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
  console.log("GraphiQL ran the query offline and showed the answer; no request left 127.0.0.1");
} finally {
  await browser.close();
}
