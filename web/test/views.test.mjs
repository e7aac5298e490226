// The dashboard's live parts in a real browser against the real server: an
// event appears without a reload (server-sent events), a print's detail with
// the plugin's picture, attribution from the page with the admin token, and
// costs as the API computes them.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  apiJson, feedScenario, fixtureAt, openBrowser, postMultipartSnapshot, postWebhook,
  screenshotPath, startServer,
} from "./harness.mjs";

const kWait = { timeout: 15_000 };
const kAdmin = "admin-5e1f0b";

async function openDashboard(browser, server) {
  const page = await browser.context.newPage();
  const errors = [];
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${server.base}/`);
  try {
    await page.waitForSelector("body[data-loaded=true]", kWait);
  } catch (e) {
    throw new Error(`the dashboard did not load: ${e.message}\npage errors: ${errors.join("; ")}\n` +
      `server log:\n${server.log().slice(-3000)}`);
  }
  return { page, errors, requests };
}

// A small real JPEG (a 64 x 48 orange rectangle), drawn by the browser.
async function makeJpeg(page) {
  const b64 = await page.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 64;
    c.height = 48;
    const g = c.getContext("2d");
    g.fillStyle = "#e8590c";
    g.fillRect(0, 0, 64, 48);
    return c.toDataURL("image/jpeg", 0.9).split(",")[1];
  });
  return Buffer.from(b64, "base64");
}

describe("live dashboard, admin token and rates configured", () => {
  let server;
  let browser;
  let view;

  before(async () => {
    server = await startServer({
      config: [
        'auth = "open"',
        `admin_token = "${kAdmin}"`,
        "",
        "[devices.delta]",
        'name = "Prusa by the door"',
        "rate_per_hour = 2.0",
        "rate_per_m = 0.5",
        "",
      ].join("\n"),
    });
    await feedScenario(server);
    browser = await openBrowser();
    view = await openDashboard(browser, server);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("the page goes live on the event stream", async () => {
    await view.page.waitForSelector("body[data-live=true]", kWait);
    assert.ok(view.requests.some((u) => u.endsWith("/api/v1/stream")), "the page never opened the stream");
    assert.match(await view.page.locator("#status").innerText(), /Live/);
  });

  test("a new print appears on its card and in the list without a reload", async () => {
    await view.page.evaluate(() => {
      window.__sameDocument = true;
    });
    const card = view.page.locator('.card[data-device="delta"]');
    assert.match(await card.innerText(), /Idle/);
    const printersBefore = view.requests.filter((u) => u.includes("/api/v1/printers")).length;
    await postWebhook(server, fixtureAt("seed/03-sdcard-print-started.json", Date.now() / 1000 - 30));
    await card.filter({ hasText: "Printing" }).waitFor(kWait);
    await view.page.locator("#session-table tbody tr").nth(2).waitFor(kWait);
    assert.equal(await view.page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
    // The stream, not the 5-second poll, brought it: while live the page
    // does not poll, so it asked again only because of the event.
    assert.ok(view.requests.filter((u) => u.includes("/api/v1/printers")).length > printersBefore);
    assert.equal(await view.page.evaluate(() => document.body.dataset.live), "true");
  });

  test("a print's detail shows its timeline and the plugin's picture", async () => {
    const jpeg = await makeJpeg(view.page);
    const posted = await postMultipartSnapshot(server, jpeg, Date.now() / 1000 - 20);
    const sessionsAnswer = await apiJson(server, "/api/v1/sessions?device=ender3-garage&limit=1");
    const session = sessionsAnswer.sessions[0];
    // The API's own picture is the bytes the plugin sent.
    const picture = await fetch(`${server.base}/api/v1/events/${posted.event}/snapshot`);
    assert.equal(picture.status, 200);
    assert.equal(picture.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(Buffer.from(await picture.arrayBuffer()), jpeg);

    const row = view.page.locator(`#session-table tbody tr[data-session="${session.id}"]`);
    await row.waitFor(kWait);
    await row.click();
    const dialog = view.page.locator("#session-dialog");
    await dialog.waitFor({ state: "visible", ...kWait });
    const img = dialog.locator(".snapshot img");
    await img.waitFor(kWait);
    await view.page.waitForFunction(() => {
      const i = document.querySelector("#session-dialog .snapshot img");
      return i && i.complete && i.naturalWidth > 0;
    }, null, kWait);
    const size = await img.evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    assert.deepEqual(size, [64, 48]);
    const events = await dialog.locator(".timeline li").allInnerTexts();
    const detail = await apiJson(server, `/api/v1/sessions/${session.id}`);
    assert.equal(events.length, detail.events.length);
    assert.ok(events.some((t) => /Print Started/.test(t)), events.join("\n"));
    assert.match(await dialog.innerText(), /CE3PRO_calibration_cube\.gcode/);
    await view.page.screenshot({ path: screenshotPath("print-detail.png") });
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "hidden", ...kWait });
  });

  test("attributing an SD print from the page asks for the admin token once and moves the usage", async () => {
    const sd = (await apiJson(server, "/api/v1/sessions?device=delta&status=printing")).sessions[0];
    assert.ok(sd, "the SD print is not open");
    assert.equal(sd.user ?? null, null);
    const before = await apiJson(server, "/api/v1/usage?group_by=user");
    assert.ok(!before.rows.some((r) => r.key.user === "carol"));

    await view.page.locator(`#session-table tbody tr[data-session="${sd.id}"]`).click();
    const dialog = view.page.locator("#session-dialog");
    await dialog.waitFor({ state: "visible", ...kWait });
    await dialog.getByLabel("Attribute to").fill("carol");
    await dialog.getByRole("button", { name: "Save" }).click();
    // From loopback with an admin token configured, the server wants it.
    const tokenField = dialog.getByLabel("Admin token");
    await tokenField.waitFor({ state: "visible", ...kWait });
    assert.match(await dialog.locator(".attribute .error").innerText(), /admin/i);
    await tokenField.fill(kAdmin);
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.locator(".facts").filter({ hasText: "carol" }).waitFor(kWait);
    assert.equal(await view.page.evaluate(() => localStorage.getItem("printmeter.adminToken")), kAdmin);
    await dialog.getByRole("button", { name: "Close" }).click();

    const after = await apiJson(server, "/api/v1/usage?group_by=user");
    const carol = after.rows.find((r) => r.key.user === "carol");
    assert.ok(carol, "the API's usage has no row for carol");
    assert.equal(carol.sessions, 1);
    const row = view.page.locator("#usage-people tbody tr").filter({ hasText: "carol" });
    await row.waitFor(kWait);
    assert.equal((await row.locator("td").allInnerTexts())[0], "1");
    await view.page.locator("#sessions").screenshot({ path: screenshotPath("prints.png") });
  });

  test("costs on the page are the API's, with the rates configured", async () => {
    const usage = await apiJson(server, "/api/v1/usage?group_by=user");
    const mike = usage.rows.find((r) => r.key.user === "mike");
    assert.ok(mike && mike.cost > 0, `mike's print costs nothing: ${JSON.stringify(mike)}`);
    const shown = await view.page.evaluate(([value, currency]) => {
      const f = currency
        ? new Intl.NumberFormat(undefined, { style: "currency", currency })
        : new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      return f.format(value);
    }, [mike.cost, usage.currency ?? ""]);
    const row = view.page.locator("#usage-people tbody tr").filter({ hasText: "mike" });
    assert.equal((await row.locator("td").allInnerTexts())[3], shown);
    // Each print's own cost, once the server reports it per session.
    const sessions = await apiJson(server, "/api/v1/sessions?device=delta&status=completed");
    const done = sessions.sessions[0];
    const cell = view.page.locator(`#session-table tbody tr[data-session="${done.id}"] td`).last();
    if (typeof done.cost === "number") {
      assert.notEqual(await cell.innerText(), "—");
    } else {
      assert.equal(await cell.innerText(), "—");
    }
  });

  test("nothing went wrong on the page", async () => {
    // Chromium logs the refused PUT (401) and the pictures' 404s; nothing else.
    assert.deepEqual(view.errors.filter((e) => !/status of (401|403|404)/.test(e)), []);
    assert.deepEqual(view.requests.filter((u) => !u.startsWith(server.base) && !u.startsWith("blob:")), []);
  });
});

describe("stream refused: the page polls", () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    await feedScenario(server);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("with the stream blocked the page still follows a printer by polling", async () => {
    const page = await browser.context.newPage();
    await page.route("**/api/v1/stream", (route) => route.fulfill({
      status: 503, contentType: "application/json", body: '{"error":"busy"}' }));
    await page.goto(`${server.base}/`);
    await page.waitForSelector("body[data-loaded=true]", kWait);
    assert.equal(await page.evaluate(() => document.body.dataset.live), "false");
    assert.match(await page.locator("#status").innerText(), /Refreshing every 5 s/);
    await postWebhook(server, fixtureAt("seed/03-sdcard-print-started.json", Date.now() / 1000 - 30));
    await page.locator('.card[data-device="delta"]').filter({ hasText: "Printing" }).waitFor(kWait);
  });
});
