// The forwarding warning in a real browser against the real server, each
// forwarding to a real receiver on loopback: one that answers 500 (the
// banner names it, for a page with admin rights only) and one that answers
// 200 (no banner).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { apiJson, feedScenario, openBrowser, screenshotPath, startServer } from "./harness.mjs";

const kWait = { timeout: 15_000 };
const kAdmin = "admin-5e0f3a";

// A receiver on a free loopback port answering every POST with `status`.
async function startReceiver(status) {
  const received = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(req.headers["x-printmeter-event"]);
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 200 ? "ok" : "the billing database is down");
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}/printmeter`,
    received,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

function config(receiver, name) {
  return [
    'auth = "open"',
    `admin_token = "${kAdmin}"`,
    "",
    "[[forward]]",
    `name = "${name}"`,
    `url = "${receiver.url}"`,
    "",
  ].join("\n");
}

// Waits until GET /api/v1/forwarding says `done(target)` of the only target.
async function waitForTarget(server, done) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { targets } = await apiJson(server, "/api/v1/forwarding", kAdmin);
    if (done(targets[0])) return targets[0];
    if (Date.now() > deadline) throw new Error(`forwarding is still ${JSON.stringify(targets)}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

// Opens the dashboard with the admin token saved (or none, for null) and
// waits until it has asked for the forwarding status.
async function openDashboard(browser, server, token) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.addInitScript((t) => {
    if (t) localStorage.setItem("printmeter.adminToken", t);
    else localStorage.removeItem("printmeter.adminToken");
  }, token);
  await page.goto(`${server.base}/`);
  await page.waitForSelector("body[data-loaded=true]", kWait);
  await page.waitForSelector("body[data-forwarding]", kWait);
  return { page, errors };
}

describe("forwarding to a target that fails", () => {
  let receiver;
  let server;
  let browser;

  before(async () => {
    receiver = await startReceiver(500);
    server = await startServer({ config: config(receiver, "billing") });
    await feedScenario(server);
    await waitForTarget(server, (t) => t.state === "retrying" && t.backlog > 0);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await receiver?.close();
  });

  test("an admin sees a banner naming it, its state, backlog, error and since when", async () => {
    const { page, errors } = await openDashboard(browser, server, kAdmin);
    const banner = page.locator("#forwarding-alert");
    await banner.waitFor({ state: "visible", ...kWait });
    const item = banner.locator('li[data-target="billing"]');
    assert.equal(await item.getAttribute("data-state"), "retrying");
    const text = await item.innerText();
    assert.match(text, /billing/);
    assert.match(text, /failing, retrying/);
    assert.match(text, /since \d/);
    assert.match(text, /\d+ events? waiting/);
    assert.match(text, /Last error: .*500/);
    assert.ok(receiver.received.length > 0, "the receiver was never asked");
    await page.screenshot({ path: screenshotPath("forwarding-behind.png") });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("a page without admin rights shows nothing", async () => {
    const { page, errors } = await openDashboard(browser, server, null);
    assert.equal(await page.evaluate(() => document.body.dataset.forwarding), "denied");
    assert.equal(await page.locator("#forwarding-alert").isVisible(), false);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe("forwarding to a target that is fine", () => {
  let receiver;
  let server;
  let browser;

  before(async () => {
    receiver = await startReceiver(200);
    server = await startServer({ config: config(receiver, "home-assistant") });
    await feedScenario(server);
    await waitForTarget(server, (t) => t.state === "idle" && t.delivered > 0 && t.backlog === 0);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await receiver?.close();
  });

  test("an admin sees no banner", async () => {
    const { page, errors } = await openDashboard(browser, server, kAdmin);
    assert.equal(await page.evaluate(() => document.body.dataset.forwarding), "checked");
    assert.equal(await page.locator("#forwarding-alert").isVisible(), false);
    assert.equal(await page.locator("#forwarding-alert li").count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
