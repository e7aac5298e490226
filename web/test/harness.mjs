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
export const resultsDir = join(webDir, "test-results");
const binary = resolve(webDir, process.env.PRINTMETER_BIN ?? "../build/printmeter");
const webRoot = resolve(webDir, "dist");
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
    ["the built dashboard", join(webRoot, "index.html"), "build it: npm run build"],
    ["the fixtures", fixturesDir, "shared/fixtures must sit beside the repository"],
  ]) {
    if (!existsSync(path)) throw new Error(`${what} is missing at ${path}; ${fix}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "pm-web-"));
  const port = await freePort();
  const args = ["serve", "--listen", `127.0.0.1:${port}`, "--db", `sqlite:${join(dir, "t.db")}`,
    "--auth", "open", "--web-root", webRoot];
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
      if (res.ok) return server;
    } catch {
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

export async function postWebhook(server, body) {
  const res = await fetch(`${server.base}/webhook`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /webhook answered ${res.status}: ${text}`);
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
