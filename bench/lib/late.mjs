// Late events (issue 10): one printer's burst of late events beside another
// printer's steady, in-order webhooks. Runs, each on a fresh printmeter and
// SQLite file: printer B alone; printer A's events in order (the baseline);
// printer A's events late, in bursts of each size of o.events. http_load
// (bench/http_load.cc) sends the load and measures the answers; /readyz is
// read beside it for the projection lag. After each run the ledger is
// checked against `printmeter rebuild` of the same log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lagFigures, readLag, startSamplers } from './ingest.mjs';
import { rebuild } from './printmeter.mjs';
import { run, sleep, stop } from './proc.mjs';
import * as receivers from './receivers.mjs';

// The runs: [key, what the report calls it, http_load's --order, printer
// A's events (0: printer B alone)]. o.events: the sizes of the late bursts,
// the baseline is as large as the largest.
export function phases(o) {
  const most = Math.max(...o.events);
  return [
    ['alone', 'printer B alone', 'in-order', 0],
    ['inOrder', `A: ${most.toLocaleString('en-US')} in order (baseline)`, 'in-order', most],
    ...o.events.map((n) => [`late${n}`, `A: ${n.toLocaleString('en-US')} late`, 'late', n]),
  ];
}

function parseLine(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('LATE '));
  if (!line) return null;
  return Object.fromEntries(line.slice(5).trim().split(' ').map((kv) => {
    const [k, v] = kv.split('=');
    return [k, Number.isFinite(Number(v)) && v !== '' ? Number(v) : v];
  }));
}

// The http_load command line of one run.
export function loadArgv(o, { port, order, events, tag }) {
  return [o.httpLoad, '--port', String(port), '--order', order,
          '--clients', String(events ? o.clients : 0),
          '--requests', String(events), '--rate', String(o.rate),
          '--seconds', String(events ? o.capSeconds : o.aloneSeconds),
          '--tag', String(tag)];
}

// Waits until /readyz says the ledger holds every logged event; returns
// how long that took (ms), or null after `timeoutMs`.
async function caughtUp(port, timeoutMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const lag = await readLag(port);
    if (lag && lag.events === 0) return Date.now() - t0;
    await sleep(10);
  }
  return null;
}

// The sessions `printmeter sessions` lists, without what depends on the
// moment of asking (an open session's duration, print time, ongoing pause
// and cost), ordered by id.
async function ledger(binary, db, device) {
  const argv = [binary, 'sessions', '--db', `sqlite:${db}`, '--format', 'json',
                '--limit', '200000', ...(device ? ['--device', device] : [])];
  const r = await run(argv, { cwd: path.dirname(db) });
  if (r.code !== 0) throw new Error(`printmeter sessions failed: ${r.stderr.trim()}`);
  const page = JSON.parse(r.stdout);
  const sessions = page.sessions ?? page.items ?? page;
  return sessions.map((s) => {
    if (s.ended_at !== null) return s;
    const { duration_s, print_s, paused_s, cost, ...fixed } = s;
    return fixed;
  }).sort((a, b) => a.id - b.id);
}

// The ledger as the server left it, then after `printmeter rebuild`.
async function checkLedger(binary, db, aDevice) {
  const read = async () => ({ a: aDevice ? await ledger(binary, db, aDevice) : [],
                              all: await ledger(binary, db) });
  const served = await read();
  const rb = await rebuild(binary, db);
  const rebuilt = await read();
  const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
  return {
    aSessions: served.a.map((s) => ({ id: s.id, status: s.status,
                                      events: s.event_count })),
    aEqual: same(served.a, rebuilt.a),
    allSessions: served.all.length,
    allEqual: same(served.all, rebuilt.all),
    rebuildSummary: rb.summary,
  };
}

async function onePhase(binary, o, [key, label, order, events], tag) {
  const withA = events > 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pm-bench-late-${key}-`));
  const srv = await receivers.printmeter(binary).start(dir);
  const argv = loadArgv(o, { port: srv.port, order, events, tag });
  let load, catchUpMs;
  try {
    const stopSamplers = startSamplers(srv.child.pid, srv.port, true);
    const r = await run(argv);
    const samples = await stopSamplers();
    load = parseLine(r.stdout);
    if (r.code !== 0 || !load) {
      throw new Error(`http_load failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    }
    Object.assign(load, lagFigures(samples.lag));
    catchUpMs = await caughtUp(srv.port, 120000);
  } finally {
    await stop(srv.child);
  }
  const check = await checkLedger(binary, srv.db, withA ? load.a_device : null);
  return { key, label, order, withA, events, argv, dir, catchUpMs, ...load, check };
}

// o: { httpLoad, clients, events: [sizes], rate, capSeconds, aloneSeconds,
//      tag() }
export async function measureLate(binary, o, log) {
  const out = [];
  for (const phase of phases(o)) {
    log(`late events: ${phase[1]}`);
    out.push(await onePhase(binary, o, phase, o.tag()));
  }
  return out;
}
