// The ingest benchmark and the report: measures printmeter beside its peers
// (nginx, Node-RED, a node:http + better-sqlite3 receiver) in one run, and
// the disk's own durable append at printmeter's one-connection rate, then
// one printer's late events beside another's answers, printmeter on
// PostgreSQL (one and two instances) beside a bare INSERT loop, `printmeter rebuild`,
// the start on a large ledger and the Google Benchmark programs, and writes
// it all as Markdown. scripts/bench.sh runs it.
//
//   node bench/run.mjs --printmeter BIN --build DIR --large-db FILE --out FILE
//   node bench/run.mjs --smoke ...   tiny sizes; checks every figure is there
//
// Fails (exit 1) when printmeter cannot be measured; a peer that is not
// installed or fails is skipped and the report says why.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as gbench from './lib/gbench.mjs';
import { fixtures, measure, wrkArgv } from './lib/ingest.mjs';
import { measureDisk } from './lib/disk.mjs';
import { measureForward } from './lib/forward.mjs';
import { measureLate } from './lib/late.mjs';
import { measurePostgres } from './lib/postgres.mjs';
import { loadAverage, machine, versionOf } from './lib/machine.mjs';
import { copyDatabase, rebuilds, startup } from './lib/printmeter.mjs';
import { run } from './lib/proc.mjs';
import * as receivers from './lib/receivers.mjs';
import { forwarding, lateEvents, postgres, write } from './lib/write.mjs';
import { check } from './lib/smoke.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({
  options: {
    printmeter: { type: 'string', default: path.join(root, 'build/printmeter') },
    build: { type: 'string', default: path.join(root, 'build') },
    'large-db': { type: 'string' },
    'store-db': { type: 'string' },
    fixtures: { type: 'string', default: path.resolve(root, '../shared/fixtures') },
    out: { type: 'string', default: path.join(root, 'docs/benchmarks.md') },
    smoke: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    // "late", "forward" or "postgres": measure that only and replace its section
    // of --out; "findings": copy bench/findings.md into --out, measuring nothing.
    only: { type: 'string' },
  },
});

const smoke = args.smoke;
const settings = {
  seconds: Number(args.seconds ?? (smoke ? 1 : 10)),
  warmupSeconds: smoke ? 0 : 2,
  connections: 32,
  settleMs: smoke ? 200 : 1000,
  startups: smoke ? 2 : 5,
  minTime: smoke ? 0.01 : 0.5,
  // Late events: printer A's connections and events, printer B's
  // requests/s, at most this long for A, and B alone this long.
  late: {
    httpLoad: path.join(args.build, 'src/http/http_load'),
    clients: smoke ? 4 : 32,
    events: smoke ? [100, 200] : [4000, 20000],
    rate: smoke ? 20 : 50,
    capSeconds: smoke ? 30 : 300,
    aloneSeconds: smoke ? 1 : 10,
  },
  forward: {
    httpLoad: path.join(args.build, 'src/http/http_load'),
    clients: smoke ? 2 : 8,
    seconds: smoke ? 1 : 10,
  },
};

const t0 = Date.now();
function log(...a) {
  console.error(`bench: [${((Date.now() - t0) / 1000).toFixed(1)} s]`, ...a);
}

let runs = 0;
const tag = () => `${process.pid}x${++runs}`;

async function ingest(fx) {
  const pm = receivers.printmeter(path.resolve(args.printmeter));
  const all = [pm, receivers.nginx, receivers.nodeRed, receivers.sqliteReceiver];
  const results = [], skipped = {}, versions = {}, durable = {};
  for (const r of all) {
    const ok = await r.available();
    if (ok !== true) {
      if (r === pm) throw new Error(ok);
      skipped[r.name] = ok;
      log(`${r.name} skipped: ${ok}`);
      continue;
    }
    versions[r.name] = await r.version();
    durable[r.name] = r.durable;
    log(`measuring ${r.name} (${versions[r.name]})`);
    try {
      results.push(await measure(r, { ...settings, fixtures: fx, tag,
                                      kinds: ['json', 'multipart'] }));
    } catch (e) {
      if (r === pm) throw e;
      skipped[r.name] = `failed: ${e.message}`;
      log(`${r.name} failed: ${e.message}`);
    }
  }
  return { results, skipped, versions, durable };
}

async function largeDb() {
  if (args['large-db']) return { file: args['large-db'], generated: false };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-large-'));
  const file = path.join(dir, 'large.db');
  const argv = [path.join(args.build, 'src/api/gen_db'), '--db', `sqlite:${file}`,
                '--sessions', '2000', '--printers', '10'];
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`gen_db failed: ${r.stderr.trim()}`);
  return { file, generated: true, argv };
}

// The smoke run leaves out the cases whose fixed fixtures alone take
// seconds (a 1 M-session sort, a 100 k-event setup): they share their code
// with cases that do run.
const smokeFilters = {
  ledger_bench: '-BM_(SortSessions|UsageByDeviceDay)',
  store_bench: '-BM_HasDuplicate',
};

// store_bench keeps its own ledger: --store-db (generated once, 1 M
// sessions) or, without it, a small one in a temporary folder.
async function googleBenchmarks(large) {
  const tmp = args['store-db'] ? null
    : fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-store-'));
  const env = { PM_BENCH_DB: `sqlite:${large}`,
                PM_STORE_BENCH_DB: args['store-db'] ?? path.join(tmp, 'store_bench.db'),
                ...(tmp ? { PM_STORE_BENCH_SESSIONS: '2000' } : {}) };
  const out = [];
  for (const program of gbench.programs(args.build)) {
    log(`running ${path.basename(program)}`);
    const filter = smoke ? smokeFilters[path.basename(program)] : undefined;
    out.push(await gbench.runProgram(program, { minTime: settings.minTime, env, filter }));
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  return out;
}

// Replaces the section of --out that starts with `head` (or adds it before
// "## printmeter alone"): for the runs measured alone (--only).
function replaceSection(head, section) {
  let doc = fs.readFileSync(args.out, 'utf8');
  const at = doc.indexOf(head);
  if (at >= 0) {
    const end = doc.indexOf('\n## ', at + head.length);
    doc = doc.slice(0, at) + section + '\n' + (end >= 0 ? doc.slice(end) : '');
  } else {
    const before = doc.indexOf('## printmeter alone');
    doc = before >= 0 ? doc.slice(0, before) + section + '\n\n' + doc.slice(before)
      : doc + '\n' + section + '\n';
  }
  fs.writeFileSync(args.out, doc);
}

// The hand-written findings (bench/findings.md) as they are now, in place
// of the ones --out holds: a run measured alone may be what they quote.
function refreshFindings() {
  const file = path.join(root, 'bench/findings.md');
  if (!fs.existsSync(file)) return;
  const text = fs.readFileSync(file, 'utf8').trim();
  const head = text.slice(0, text.indexOf('\n'));
  replaceSection(head, text);
}

function measuredAlone(what, started, loadStart) {
  return `Measured on its own on ${started.toISOString().replace(/\.\d+Z$/, 'Z')} ` +
    `(\`node bench/run.mjs --only ${what}\`), load average ${loadStart} at the start, ` +
    `${loadAverage()} at the end; the machine as above.`;
}

// --only forward: the forwarding runs alone, their section of --out
// replaced (or added before "## printmeter alone").
async function forwardOnly() {
  const started = new Date();
  const loadStart = loadAverage();
  const runs = await measureForward(path.resolve(args.printmeter), settings.forward, log);
  const when = measuredAlone('forward', started, loadStart);
  replaceSection('## Forwarding: ', forwarding({ forward: runs, settings }, when).join('\n'));
  for (const r of runs) fs.rmSync(r.dir, { recursive: true, force: true });
  refreshFindings();
  log(`wrote the forwarding section of ${args.out}`);
}

// --only postgres: printmeter on PostgreSQL beside the bare INSERT loop,
// alone, its section of --out replaced.
async function postgresOnly() {
  const started = new Date();
  const loadStart = loadAverage();
  const pg = await measurePostgres(path.resolve(args.printmeter), args.build,
                                   { ...settings, fixtures: fixtures(args.fixtures), tag }, log);
  const when = measuredAlone('postgres', started, loadStart);
  replaceSection('## PostgreSQL: ', postgres({ postgres: pg, settings }, when).join('\n'));
  fs.rmSync(pg.dir, { recursive: true, force: true });
  refreshFindings();
  log(`wrote the PostgreSQL section of ${args.out}`);
}

// --only late: the late-event runs alone, their section of --out replaced.
async function lateOnly() {
  const started = new Date();
  const loadStart = loadAverage();
  const late = await measureLate(path.resolve(args.printmeter), { ...settings.late, tag }, log);
  const when = measuredAlone('late', started, loadStart);
  replaceSection('## Late events', lateEvents({ late, settings }, when).join('\n'));
  for (const r of late) fs.rmSync(r.dir, { recursive: true, force: true });
  refreshFindings();
  log(`wrote the late-event section of ${args.out}`);
}

async function main() {
  if (args.only === 'findings') return refreshFindings();
  if (args.only === 'late') return lateOnly();
  if (args.only === 'forward') return forwardOnly();
  if (args.only === 'postgres') return postgresOnly();
  const started = new Date();
  const loadStart = loadAverage();
  const fx = fixtures(args.fixtures);
  for (const f of Object.values(fx)) {
    if (!fs.existsSync(f)) throw new Error(`fixture ${f} is missing (--fixtures DIR)`);
  }
  const tools = { wrk: await versionOf(['wrk', '--version']),
                  SQLite: await versionOf(['sqlite3', '--version']) };
  const ing = await ingest(fx);
  const pm = ing.results.find((r) => r.name === 'printmeter');
  const disk = await measureDisk(args.build, {
    seconds: settings.seconds, recordBytes: fs.statSync(fx.json).size,
    rate: pm.kinds.json.one.rps }, log);
  const late = await measureLate(path.resolve(args.printmeter),
                                 { ...settings.late, tag }, log);
  const pg = await measurePostgres(path.resolve(args.printmeter), args.build,
                                         { ...settings, fixtures: fx, tag }, log);
  const forward = await measureForward(path.resolve(args.printmeter),
                                       settings.forward, log);
  log('printmeter rebuild');
  const rb = await rebuilds(path.resolve(args.printmeter), pm.db);
  const large = await largeDb();
  log(`start on the large ledger ${large.file}`);
  const copy = copyDatabase(large.file);
  const st = await startup(path.resolve(args.printmeter), copy, settings.startups);
  fs.rmSync(path.dirname(copy), { recursive: true, force: true });
  const gb = await googleBenchmarks(large.file);
  const report = {
    smoke, started, finished: new Date(), loadStart, loadEnd: loadAverage(),
    machine: machine(), tools, settings, ingest: ing, disk, late, postgres: pg, forward, rebuild: rb, startup: st,
    large, gbench: gb, printmeter: path.resolve(args.printmeter),
    wrkExample: (kind, c) => wrkArgv({ port: 'PORT', connections: c,
      seconds: settings.seconds, kind, fixture: fx[kind], tag: 'TAG' }),
    findings: path.join(root, 'bench/findings.md'),
  };
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, write(report));
  log(`wrote ${args.out}`);
  for (const r of [...ing.results, ...late, pg, ...forward]) fs.rmSync(r.dir, { recursive: true, force: true });
  if (large.generated) fs.rmSync(path.dirname(large.file), { recursive: true, force: true });
  if (smoke) process.exit(check(report) ? 0 : 1);
}

main().catch((e) => { console.error(`bench: ${e.message}`); process.exit(1); });
