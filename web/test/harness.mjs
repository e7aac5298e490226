// Test harness: runs the real `printmeter serve` binary on a free loopback
// port over a fresh SQLite file, feeds it fixture requests, and drives
// Debian's Chromium with playwright-core.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const webDir = resolve(here, "..");
export const fixturesDir = resolve(webDir, "../../shared/fixtures");
// Screenshots are part of the documentation: the README shows them.
export const resultsDir = resolve(webDir, "../docs/screenshots");
const binary = resolve(webDir, process.env.PRINTMETER_BIN ?? "../build/printmeter");
// The dashboard built into the binary is what the tests see; PM_WEB_ROOT
// points them at a directory instead (serve --web-root).
const webRoot = process.env.PM_WEB_ROOT ? resolve(process.env.PM_WEB_ROOT) : "";
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// Starts `printmeter serve`; `config` (TOML text) is written to a file and
// passed with --config. Resolves once /healthz answers.
export async function startServer({ config } = {}) {
  for (const [what, path, fix] of [
    ["the printmeter binary", binary, "build it: make build (or set PRINTMETER_BIN)"],
    ["the fixtures", fixturesDir, "shared/fixtures must sit beside the repository"],
  ]) {
    if (!existsSync(path)) throw new Error(`${what} is missing at ${path}; ${fix}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "pm-web-"));
  const port = await freePort();
  const args = ["serve", "--listen", `127.0.0.1:${port}`, "--db", `sqlite:${join(dir, "t.db")}`,
    "--auth", "open"];
  if (webRoot) args.push("--web-root", webRoot);
  if (config) {
    writeFileSync(join(dir, "printmeter.toml"), config);
    args.push("--config", join(dir, "printmeter.toml"));
  }
  const child = spawn(binary, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((ok) => child.once("exit", (code) => ok(code)));
  const base = `http://127.0.0.1:${port}`;
  const server = {
    base,
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) {
        const page = await fetch(`${base}/`);
        if (page.ok) return server;
        await server.stop();
        throw new Error(`printmeter serves no dashboard (GET / answered ${page.status}: ` +
          `${await page.text()}); rebuild it after the dashboard: make build`);
      }
    } catch (e) {
      if (String(e.message).includes("no dashboard")) throw e;
      // Not listening yet.
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  await server.stop();
  throw new Error(`printmeter serve did not come up on ${base}:\n${log}`);
}

// A fixture body with its currentTime moved to `time` (epoch seconds), so the
// prints fall in this month and no stale sweep closes them.
export function fixtureAt(name, time) {
  const body = JSON.parse(readFileSync(join(fixturesDir, name), "utf8"));
  body.currentTime = Math.floor(time);
  return JSON.stringify(body);
}

// Waits until the server's ledger shows every webhook it answered: the
// ledger is folded from the request log right behind the answers
// (/readyz says "lag_events": 0 once it caught up).
export async function waitForLedger(server) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ready = await (await fetch(`${server.base}/readyz`)).json();
    if (ready.lag_events === 0) return;
    if (Date.now() > deadline) throw new Error(`the ledger still trails: ${JSON.stringify(ready)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function postWebhook(server, body) {
  const res = await fetch(`${server.base}/webhook`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /webhook answered ${res.status}: ${text}`);
  await waitForLedger(server);
  return JSON.parse(text);
}

// Feeds the scenario both runs use: "delta" finished a print 25..6 minutes
// ago; "ender3-garage" started one 10 minutes ago, reported 50 % two minutes
// ago and now asks for the user (filament change).
export async function feedScenario(server) {
  const now = Date.now() / 1000;
  await postWebhook(server, fixtureAt("seed/01-octoprint-print-started.json", now - 25 * 60));
  await postWebhook(server, fixtureAt("seed/02-octoprint-print-done.json", now - 6 * 60));
  await postWebhook(server, fixtureAt("plugin/01_print_started_local.json", now - 10 * 60));
  await postWebhook(server, fixtureAt("plugin/07_print_progress_50.json", now - 2 * 60));
  await postWebhook(server, fixtureAt("plugin/08_user_action_needed.json", now - 60));
}

// Fixture 17 (the plugin's default multipart request, Print Started on
// ender3-garage) at `time`, with a `snapshot` part carrying `jpeg`, as the
// plugin sends when the data template holds @snapshot.
export async function postMultipartSnapshot(server, jpeg, time) {
  const raw = readFileSync(join(fixturesDir, "plugin/17_multipart_default_no_snapshot_print_started.http"), "latin1");
  const split = raw.indexOf("\r\n\r\n");
  const type = /^Content-Type: (.+)$/mi.exec(raw.slice(0, split))[1].trim();
  const boundary = /boundary=(\S+)/.exec(type)[1];
  let body = raw.slice(split + 4);
  body = body.replace(/(name="currentTime"\r\n\r\n)\d+/, `$1${Math.floor(time)}`);
  const end = body.lastIndexOf(`--${boundary}--`);
  const head = Buffer.from(body.slice(0, end) + `--${boundary}\r\n` +
    'Content-Disposition: form-data; name="snapshot"; filename="snapshot.jpg"\r\n' +
    "Content-Type: image/jpeg\r\n\r\n", "latin1");
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, "latin1");
  const res = await fetch(`${server.base}/webhook`, {
    method: "POST",
    headers: { "Content-Type": type },
    body: Buffer.concat([head, jpeg, tail]),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /webhook (multipart) answered ${res.status}: ${text}`);
  await waitForLedger(server);
  return JSON.parse(text);
}

// GET a JSON answer of the API (with `token` when given).
export async function apiJson(server, path, token) {
  const res = await fetch(`${server.base}${path}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

export async function openBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "pm-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    timezoneId: "Europe/Berlin",
    locale: "en-GB",
    viewport: { width: 1280, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function screenshotPath(name) {
  mkdirSync(resultsDir, { recursive: true });
  return join(resultsDir, name);
}
