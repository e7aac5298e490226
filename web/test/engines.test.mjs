// The range check behind scripts/check-engines.mjs, and the lockfile itself:
// every package must run on the Node.js 18.20 that Debian 12 ships.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { satisfies } from "../scripts/check-engines.mjs";

test("engines ranges as packages write them", () => {
  const cases = [
    [">=20", false],
    ["^20.19.0 || >=22.12.0", false], // vite 8
    [">=18", true],
    ["^18.0.0 || >=20.0.0", true], // vite 5
    ["^10 || ^12 || ^13.7 || ^14 || >=15.0.1", true],
    ["~18.20", true],
    ["18.x", true],
    ["<18.20", false],
    ["16 - 18", true],
    [">= 14", true],
    ["^18.21", false],
    ["*", true],
  ];
  for (const [range, want] of cases) {
    assert.equal(satisfies("18.20.4", range), want, `18.20.4 against "${range}"`);
  }
});

test("every package in package-lock.json accepts Node.js 18.20", () => {
  const script = new URL("../scripts/check-engines.mjs", import.meta.url).pathname;
  const out = execFileSync(process.execPath, [script, "18.20.4"], { encoding: "utf8" });
  assert.match(out, /accept Node\.js 18\.20\.4/);
  assert.throws(() => execFileSync(process.execPath, [script, "16.0.0"], { stdio: "pipe" }),
    /refuse Node\.js 16\.0\.0/);
});
