// Maintenance on the dashboard in a real browser against the real server:
// a printer's card lists the items due soon, due and overdue, and an admin
// marks one done from the card.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiJson, feedScenario, openBrowser, startServer } from "./harness.mjs";

const kWait = { timeout: 15_000 };
const kAdmin = "admin-7c2d91";

describe("maintenance on the printer's card", () => {
  let server;
  let browser;
  let page;
  const errors = [];

  before(async () => {
    // delta's print of the scenario lasted 19 min and used 1.85 m.
    server = await startServer({
      config: [
        'auth = "open"',
        `admin_token = "${kAdmin}"`,
        "",
        "[devices.delta]",
        "[[devices.delta.maintenance]]",
        'item = "nozzle"',
        'every = "0.3h"',
        "[[devices.delta.maintenance]]",
        'item = "lubricate rods"',
        'every = "2m"',
        "[[devices.delta.maintenance]]",
        'item = "belts"',
        'every = "1000d"',
        "",
      ].join("\n"),
    });
    await feedScenario(server);
    browser = await openBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.base}/`);
    await page.waitForSelector("body[data-loaded=true]", kWait);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("the card lists what is due and due soon, not what is fine", async () => {
    const list = page.locator('.card[data-device="delta"] .maintenance');
    await list.waitFor(kWait);
    const nozzle = await list.locator('li[data-item="nozzle"]').innerText();
    assert.match(nozzle, /Due/);
    assert.match(nozzle, /0\.3 h of 0\.3h/);
    const rods = await list.locator('li[data-item="lubricate rods"]').innerText();
    assert.match(rods, /Due soon/);
    assert.match(rods, /1\.9 m of 2m/);
    assert.equal(await list.locator('li[data-item="belts"]').count(), 0);
    const card = page.locator('.card[data-device="ender3-garage"]');
    assert.equal(await card.locator(".maintenance").count(), 0);
  });

  test("an admin marks an item done from the card, giving the token once", async () => {
    const asked = [];
    page.once("dialog", (d) => {
      asked.push(d.message());
      d.accept(kAdmin);
    });
    const card = page.locator('.card[data-device="delta"]');
    await card.getByRole("button", { name: "Mark nozzle done" }).click();
    await card.locator('li[data-item="nozzle"]').waitFor({ state: "detached", ...kWait });
    assert.equal(asked.length, 1);
    assert.match(asked[0], /admin/i);
    assert.equal(await page.evaluate(() => localStorage.getItem("printmeter.adminToken")), kAdmin);
    const printers = await apiJson(server, "/api/v1/printers");
    const delta = printers.printers.find((p) => p.device === "delta");
    const nozzle = delta.maintenance.find((m) => m.item === "nozzle");
    assert.equal(nozzle.state, "ok");
    assert.ok(nozzle.last_done, "the mark was not recorded");
    // Still listed: the rods, due soon.
    assert.equal(await card.locator('li[data-item="lubricate rods"]').count(), 1);

    // The token is kept: the next item is marked without asking.
    page.once("dialog", (d) => {
      asked.push(d.message());
      d.dismiss();
    });
    await card.getByRole("button", { name: "Mark lubricate rods done" }).click();
    await card.locator(".maintenance").waitFor({ state: "detached", ...kWait });
    assert.equal(asked.length, 1);
  });

  test("nothing went wrong on the page", () => {
    assert.deepEqual(errors, []);
  });
});
