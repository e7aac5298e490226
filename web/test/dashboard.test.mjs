// The dashboard in a real browser against the real server: what a person
// sees after a printer finished one print and another is printing.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { feedScenario, openBrowser, screenshotPath, startServer } from "./harness.mjs";

const kWait = { timeout: 10_000 };

// Opens the dashboard and records every request the page makes, and the
// usage by printer the server answered it (each a promise of its JSON).
async function openDashboard(browser, server) {
  const page = await browser.context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const usageByPrinter = [];
  page.on("response", (r) => {
    const u = new URL(r.url());
    if (u.pathname === "/api/v1/usage" && u.searchParams.get("group_by") === "device") {
      usageByPrinter.push(r.json().catch(() => null));
    }
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${server.base}/`);
  return { page, requests, errors, usageByPrinter };
}

// Waits until the dashboard has loaded its data; on failure says what the
// page showed and what the server logged.
async function waitLoaded(view, server) {
  try {
    await view.page.waitForSelector("body[data-loaded=true]", kWait);
  } catch (e) {
    const status = await view.page.locator("#status").innerText().catch(() => "");
    throw new Error(`the dashboard did not load: ${e.message}\npage status: ${status}\n` +
      `page errors: ${view.errors.join("; ")}\nserver log:\n${server.log().slice(-3000)}`);
  }
}

describe("dashboard, open server", () => {
  let server;
  let browser;
  let view;

  before(async () => {
    server = await startServer();
    await feedScenario(server);
    browser = await openBrowser();
    view = await openDashboard(browser, server);
    await waitLoaded(view, server);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("GET / serves the page uncached and its assets immutable", async () => {
    const res = await fetch(`${server.base}/`);
    assert.equal(res.status, 200);
    // Built into the binary: compressed, with a validator that saves the
    // next download.
    assert.equal(res.headers.get("content-encoding"), "gzip");
    const etag = res.headers.get("etag");
    assert.ok(etag, "no ETag on the page");
    const again = await fetch(`${server.base}/`, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const html = await res.text();
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/);
    assert.ok(script, `no script in the served page:\n${html}`);
    const asset = await fetch(`${server.base}${script[1]}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("content-type") ?? "", /javascript/);
    assert.match(asset.headers.get("cache-control") ?? "", /immutable/);
    const traversal = await fetch(`${server.base}/assets/..%2f..%2fCMakeLists.txt`);
    assert.equal(traversal.status, 404);
  });

  test("the printing printer's card shows state, file, user, progress and attention", async () => {
    const card = view.page.locator('.card[data-device="ender3-garage"]');
    await card.waitFor(kWait);
    const text = await card.innerText();
    assert.match(text, /ender3-garage/);
    assert.match(text, /Printing/);
    assert.match(text, /CE3PRO_calibration_cube\.gcode/);
    assert.match(text, /\bpi\b/);
    // The latest event (User Action Needed) reported 61.4471 % done.
    assert.match(text, /61 %/);
    assert.match(text, /Needs attention/);
    // The printer's own words (fixture 08's message).
    assert.match(text, /You might need to change the filament color\./);
    assert.match(text, /Last heard 1 min ago/);
    assert.match(text, /ETA/);
    assert.equal(await card.locator('[role="progressbar"]').getAttribute("aria-valuenow"), "61");
    assert.match((await card.getAttribute("class")) ?? "", /\battention\b/);
  });

  test("the idle printer's card says so", async () => {
    const text = await view.page.locator('.card[data-device="delta"]').innerText();
    assert.match(text, /Idle/);
    assert.match(text, /No print running/);
    assert.doesNotMatch(text, /Needs attention/);
  });

  test("recent prints list both sessions, newest first, with status badges", async () => {
    const rows = view.page.locator("#session-table tbody tr");
    assert.equal(await rows.count(), 2);
    const first = await rows.nth(0).innerText();
    const second = await rows.nth(1).innerText();
    assert.match(first, /ender3-garage/);
    assert.match(first, /printing/);
    assert.match(second, /delta/);
    assert.match(second, /cube_0\.8n_0\.4mm_PETG_235C\.gcode/);
    assert.match(second, /mike/);
    assert.match(second, /completed/);
    assert.match(second, /19 min/);
    assert.match(second, /1\.85 m/);
  });

  test("usage by printer: a row per printer, queried in the browser's zone", async () => {
    const rows = view.page.locator("#usage-printers tbody tr");
    await rows.first().waitFor(kWait);
    const keys = await rows.locator("th").allInnerTexts();
    assert.deepEqual(keys.sort(), ["delta", "ender3-garage"]);
    // Columns: utilization, busy h, prints, completed, cancelled, failed,
    // interrupted.
    const delta = await rows.filter({ hasText: "delta" }).locator("td").allInnerTexts();
    assert.deepEqual(delta.slice(1), ["0.3", "1", "1", "0", "0", "0"]);
    const ender = await rows.filter({ hasText: "ender3-garage" }).locator("td").allInnerTexts();
    assert.deepEqual(ender.slice(2), ["1", "0", "0", "0", "0"]);
    const usage = view.requests.find((u) => u.includes("/api/v1/usage"));
    assert.ok(usage, "the page never asked for usage");
    assert.equal(new URL(usage).searchParams.get("tz"), "Europe/Berlin");
    // Totals: both prints; the fleet's utilization as the API computed it
    // for the page (busy time over the window times the two printers). The
    // print still running makes it grow with the clock, so it is compared
    // with what the server answered the page, not with a later request.
    const total = await view.page.locator("#usage-printers tfoot td").allInnerTexts();
    assert.equal(total[2], "2");
    const answered = (await Promise.all(view.usageByPrinter)).filter(Boolean);
    assert.ok(answered.length > 0, "the page never got usage by printer");
    const fleet = await view.page.locator("#usage-fleet").innerText();
    const shown = [];
    for (const a of answered) {
      assert.ok(a.totals.utilization > 0 && a.totals.utilization <= 1);
      shown.push(await view.page.evaluate((u) =>
        `${new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(u * 100)} %`, a.totals.utilization));
    }
    assert.ok(shown.some((s) => fleet.startsWith(`All printers: ${s} busy`)),
      `the page shows "${fleet}", the server answered ${shown.join(", ")}`);
    // The stacked chart has a series per printer.
    const chart = view.page.locator("#usage-chart figure.busy-chart");
    await chart.waitFor(kWait);
    assert.equal(await chart.getAttribute("data-printers"), "delta,ender3-garage");
    assert.equal(await chart.locator("canvas").count(), 1);
  });

  test("usage by person shows each person's prints and filament", async () => {
    const rows = view.page.locator("#usage-people tbody tr");
    await rows.first().waitFor(kWait);
    const keys = await rows.locator("th").allInnerTexts();
    assert.deepEqual(keys.sort(), ["mike", "pi"]);
    const mike = await rows.filter({ hasText: "mike" }).locator("td").allInnerTexts();
    assert.equal(mike[0], "1");
    assert.equal(mike[2], "1.85 m");
  });

  test("filtering by status narrows the list and the CSV link", async () => {
    await view.page.selectOption('#session-filters select[name="status"]', "completed");
    const rows = view.page.locator("#session-table tbody tr");
    await view.page.waitForFunction(
      () => document.querySelectorAll("#session-table tbody tr").length === 1, null, kWait);
    assert.match(await rows.nth(0).innerText(), /delta/);
    const href = await view.page.locator("#csv-link").getAttribute("href");
    assert.equal(href, "/api/v1/sessions.csv?status=completed");
    const csv = await (await fetch(`${server.base}${href}`)).text();
    assert.match(csv, /delta/);
    assert.doesNotMatch(csv, /ender3-garage/);
    await view.page.selectOption('#session-filters select[name="status"]', "");
    await view.page.waitForFunction(
      () => document.querySelectorAll("#session-table tbody tr").length === 2, null, kWait);
  });

  test("grouping usage by user shows each person", async () => {
    await view.page.selectOption('#usage-form select[name="group1"]', "user");
    await view.page.waitForFunction(
      () => [...document.querySelectorAll("#usage-table tbody th")].some((th) => th.textContent === "mike"),
      null, kWait);
    const keys = await view.page.locator("#usage-table tbody th").allInnerTexts();
    assert.deepEqual(keys.sort(), ["mike", "pi"]);
    await view.page.selectOption('#usage-form select[name="group1"]', "week");
  });

  test("the page makes no request beyond printmeter and shows no error", async () => {
    await view.page.screenshot({ path: screenshotPath("dashboard.png"), fullPage: true });
    await view.page.locator("#printers").screenshot({ path: screenshotPath("printers.png") });
    await view.page.locator("#usage").screenshot({ path: screenshotPath("usage.png") });
    await view.page.setViewportSize({ width: 390, height: 844 });
    await view.page.screenshot({ path: screenshotPath("dashboard-phone.png"), fullPage: true });
    await view.page.setViewportSize({ width: 1280, height: 900 });
    const foreign = view.requests.filter((u) => !u.startsWith(server.base));
    assert.deepEqual(foreign, []);
    assert.deepEqual(view.errors, []);
    assert.equal(await view.page.locator("#status.error").count(), 0);
  });
});

describe("dashboard, read token configured", () => {
  const token = "reader-3f9a1c";
  let server;
  let browser;

  before(async () => {
    server = await startServer({
      config: [
        'auth = "open"',
        `read_token = "${token}"`,
        "",
        '[devices."ender3-garage"]',
        'name = "Ender 3 in the garage"',
        "",
      ].join("\n"),
    });
    await feedScenario(server);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("the API refuses without the token", async () => {
    const res = await fetch(`${server.base}/api/v1/printers`);
    assert.equal(res.status, 401);
  });

  test("the dashboard asks for the token, refuses a wrong one, keeps the right one", async () => {
    const view = await openDashboard(browser, server);
    const { page, errors } = view;
    const form = page.locator("#auth");
    await form.waitFor({ state: "visible", ...kWait });
    assert.equal(await page.locator("#printers").isVisible(), false);
    await page.screenshot({ path: screenshotPath("token-form.png") });

    await page.getByLabel("Read token", { exact: true }).fill("not-the-token");
    await page.getByRole("button", { name: "Show the dashboard" }).click();
    await page.locator("#auth-error").filter({ hasText: "not accepted" }).waitFor(kWait);
    assert.equal(await page.locator("#printers").isVisible(), false);

    await page.getByLabel("Read token", { exact: true }).fill(token);
    await page.getByRole("button", { name: "Show the dashboard" }).click();
    await waitLoaded(view, server);
    assert.equal(await form.isVisible(), false);
    const card = await page.locator('.card[data-device="ender3-garage"]').innerText();
    assert.match(card, /Ender 3 in the garage/);
    assert.match(card, /Printing/);
    assert.equal(await page.evaluate(() => localStorage.getItem("printmeter.readToken")), token);
    const row = await page.locator("#usage-printers tbody tr").filter({ hasText: "Ender 3 in the garage" });
    assert.equal(await row.count(), 1);

    await page.reload();
    await waitLoaded(view, server);
    assert.equal(await form.isVisible(), false);
    assert.equal(await page.locator("#session-table tbody tr").count(), 2);
    // Chromium logs each refused request; nothing else may go wrong.
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  });
});
