// Checks that every package in package-lock.json accepts the Node.js the
// dashboard is built with on a stock Debian 12 (18.20, Raspberry Pi OS
// bookworm). Exits 1 naming each package whose `engines.node` refuses it.
//
//   node scripts/check-engines.mjs [VERSION]     (default 18.20.4)
//
// Understands the range syntax packages use in `engines`: "||", space-joined
// comparators (>=, >, <=, <, =), caret, tilde, x-ranges, "*" and hyphen
// ranges. A range it cannot read counts as a refusal, so nothing slips by.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function parse(v) {
  const parts = v.replace(/^[v=]+/, "").split(/[.+-]/, 3);
  const nums = parts.map((p) => (p === undefined || /^[x*]$/i.test(p) ? null : Number(p)));
  while (nums.length < 3) nums.push(null);
  if (nums.some((n) => n !== null && !Number.isInteger(n))) throw new Error(`bad version ${v}`);
  return nums;
}

function cmp(a, b) {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

// The [lower, upper) bounds of one comparator, as [op, version] pairs.
function bounds(token) {
  const m = /^(>=|<=|>|<|=|\^|~)?(.+)$/.exec(token);
  if (!m) throw new Error(`bad comparator ${token}`);
  const [, op = "", ver] = m;
  const v = parse(ver);
  const fixed = v.filter((n) => n !== null).length;
  const zero = v.map((n) => n ?? 0);
  const bump = (i) => zero.map((n, j) => (j < i ? n : j === i ? n + 1 : 0));
  if (op === "^") {
    const i = zero[0] !== 0 || fixed < 2 ? 0 : zero[1] !== 0 || fixed < 3 ? 1 : 2;
    return [[">=", zero], ["<", bump(i)]];
  }
  if (op === "~") return [[">=", zero], ["<", bump(fixed >= 2 ? 1 : 0)]];
  if (op === "" || op === "=") {
    if (fixed === 0) return [];
    return fixed === 3 ? [["=", zero]] : [[">=", zero], ["<", bump(fixed - 1)]];
  }
  if (op === ">" && fixed < 3) return [[">=", bump(fixed - 1)]];
  if (op === "<=" && fixed < 3) return [["<", bump(fixed - 1)]];
  return [[op, zero]];
}

function holds([op, v], x) {
  const c = cmp(x, v);
  return { ">=": c >= 0, ">": c > 0, "<=": c <= 0, "<": c < 0, "=": c === 0 }[op];
}

export function satisfies(version, range) {
  const x = parse(version);
  return range.split("||").some((alt) => {
    const set = alt.trim().replace(/\s+-\s+/, " - ");
    const hyphen = /^(\S+) - (\S+)$/.exec(set);
    const tokens = hyphen
      ? [`>=${hyphen[1]}`, `<=${hyphen[2]}`]
      : set.replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1").split(/\s+/).filter(Boolean);
    if (tokens.length === 0 || (tokens.length === 1 && tokens[0] === "*")) return true;
    return tokens.flatMap(bounds).every((b) => holds(b, x));
  });
}

function main() {
  const node = process.argv[2] ?? "18.20.4";
  const lock = JSON.parse(readFileSync(join(here, "..", "package-lock.json"), "utf8"));
  const refused = [];
  let checked = 0;
  for (const [path, pkg] of Object.entries(lock.packages ?? {})) {
    const range = pkg.engines?.node;
    if (!range) continue;
    checked++;
    let ok = false;
    try {
      ok = satisfies(node, range);
    } catch (e) {
      ok = false;
    }
    if (!ok) refused.push(`${path || "(the dashboard)"}@${pkg.version}: engines.node "${range}"`);
  }
  if (refused.length) {
    console.error(`These packages refuse Node.js ${node}; pick releases that accept it:`);
    for (const r of refused) console.error(`  ${r}`);
    process.exit(1);
  }
  console.log(`package-lock.json: all ${checked} packages that name engines.node accept Node.js ${node}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
