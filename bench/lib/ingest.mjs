// Ingest load on one receiver: wrk with bench/ingest.lua, one connection
// then 32, JSON then multipart bodies, with the bytes written, the memory and
// (for a printmeter that has a projection) the projection lag read beside.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { http, memory, percentile, run, sleep, stop, writeBytes } from './proc.mjs';

const benchDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const luaScript = path.join(benchDir, 'ingest.lua');

// The request templates: real plugin requests (see shared/fixtures/README.md).
export function fixtures(fixturesDir) {
  return {
    json: path.join(fixturesDir, 'seed/01-octoprint-print-started.json'),
    multipart: path.join(fixturesDir,
                         'plugin/17_multipart_default_no_snapshot_print_started.http'),
  };
}

// The wrk command line for one run.
export function wrkArgv({ port, connections, seconds, kind, fixture, tag }) {
  const threads = Math.min(connections, 2);
  return ['wrk', '-t', String(threads), '-c', String(connections),
          '-d', `${seconds}s`, '--timeout', '10s', '-s', luaScript,
          `http://127.0.0.1:${port}/webhook`, '--', kind, fixture, String(tag)];
}

// Runs wrk and reads the BENCH line its done() prints.
export async function runWrk(options) {
  const argv = wrkArgv(options);
  const r = await run(argv);
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (r.code !== 0 || !line) {
    throw new Error(`wrk failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const figures = Object.fromEntries(line.slice(6).trim().split(' ')
    .map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  return { ...figures, argv };
}

// The projection lag a printmeter build reports, or null when it has none:
// the printmeter_projection_lag_events gauge, and lag seconds from /metrics
// (printmeter_projection_lag_seconds) or /readyz ("lag_seconds" or "lag_s").
export async function readLag(port) {
  const m = await http(port, '/metrics');
  const events = m.body?.match(/^printmeter_projection_lag_events(?:\{[^}]*\})?\s+(\S+)/m);
  if (!events) return null;
  let seconds = m.body.match(/^printmeter_projection_lag_seconds(?:\{[^}]*\})?\s+(\S+)/m)?.[1];
  if (seconds === undefined) {
    const ready = await http(port, '/readyz');
    try {
      const body = JSON.parse(ready.body);
      seconds = body.lag_seconds ?? body.lag_s ?? body.projection?.lag_seconds;
    } catch { /* not JSON: no seconds */ }
  }
  return { events: Number(events[1]),
           seconds: seconds === undefined ? null : Number(seconds) };
}

// Samples memory (and lag when `withLag`) about every `everyMs` until stopped.
function startSampler(pid, port, withLag, everyMs = 50) {
  const samples = { rss: [], lagEvents: [], lagSeconds: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      samples.rss.push(memory(pid).rss);
      if (withLag) {
        const lag = await readLag(port);
        if (lag) {
          samples.lagEvents.push(lag.events);
          if (lag.seconds !== null) samples.lagSeconds.push(lag.seconds);
        }
      }
      await sleep(Math.max(0, everyMs - (Date.now() - t0)));
    }
  })();
  return async () => { running = false; await loop; return samples; };
}

// One connection: latency and bytes written per webhook.
async function oneConnection(srv, kind, o) {
  const before = writeBytes(srv.child.pid);
  const w = await runWrk({ port: srv.port, connections: 1, seconds: o.seconds,
                           kind, fixture: o.fixtures[kind], tag: o.tag() });
  await sleep(o.settleMs);  // let writes that trail the answers land
  const bytes = writeBytes(srv.child.pid) - before;
  return { ...w, bytesPerRequest: w.requests ? bytes / w.requests : null };
}

// 32 connections: throughput and tail latency, memory and lag sampled.
async function manyConnections(srv, kind, o, withLag) {
  const stopSampler = startSampler(srv.child.pid, srv.port, withLag);
  const w = await runWrk({ port: srv.port, connections: o.connections,
                           seconds: o.seconds, kind, fixture: o.fixtures[kind],
                           tag: o.tag() });
  const s = await stopSampler();
  return {
    ...w,
    rssMax: s.rss.length ? Math.max(...s.rss) : null,
    lagSamples: s.lagEvents.length,
    lagEventsP99: percentile(s.lagEvents, 0.99),
    lagSecondsP99: percentile(s.lagSeconds, 0.99),
  };
}

// Measures `receiver` whole; returns its figures and where its files are.
// o: { seconds, connections, settleMs, fixtures, tag(), kinds, keep }
export async function measure(receiver, o) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pm-bench-${receiver.name.replace(/\W+/g, '')}-`));
  const srv = await receiver.start(dir);
  try {
    await sleep(o.settleMs);
    const idle = memory(srv.child.pid);
    const withLag = receiver.name === 'printmeter' && (await readLag(srv.port)) !== null;
    const kinds = {};
    for (const kind of o.kinds) {
      if (o.warmupSeconds) {
        await runWrk({ port: srv.port, connections: 1, seconds: o.warmupSeconds,
                       kind, fixture: o.fixtures[kind], tag: o.tag() });
      }
      const one = await oneConnection(srv, kind, o);
      const many = await manyConnections(srv, kind, o, withLag);
      kinds[kind] = { one, many };
    }
    const end = memory(srv.child.pid);
    return { name: receiver.name, dir, argv: srv.argv, db: srv.db, withLag,
             idleRss: idle.rss, hwm: end.hwm, kinds };
  } finally {
    await stop(srv.child);
  }
}
