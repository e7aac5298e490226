// Ingest load on one receiver: wrk with bench/ingest.lua, one connection
// then 32, JSON then multipart bodies, with the bytes written, the memory and
// (for a printmeter that has a projection) the projection lag read beside.
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { figuresOf, memory, percentile, run, sleep, stop, writeBytes } from './proc.mjs';

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

// The wrk command line for one run. With one connection the script also
// times each answer itself ("each", see ingest.lua): wrk's own percentiles
// add coordinated-omission samples.
export function wrkArgv({ port, connections, seconds, kind, fixture, tag }) {
  const threads = Math.min(connections, 2);
  return ['wrk', '-t', String(threads), '-c', String(connections),
          '-d', `${seconds}s`, '--timeout', '10s', '-s', luaScript,
          `http://127.0.0.1:${port}/webhook`, '--', kind, fixture, String(tag),
          ...(connections === 1 ? ['each'] : [])];
}

// Runs wrk and reads the BENCH (and BENCH-EACH) lines its done() prints.
export async function runWrk(options) {
  const argv = wrkArgv(options);
  const r = await run(argv);
  const figures = figuresOf(r.stdout, 'BENCH');
  if (r.code !== 0 || !figures) {
    throw new Error(`wrk failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return { ...figures, ...figuresOf(r.stdout, 'BENCH-EACH'), argv };
}

// The projection lag a printmeter build reports on /readyz
// ({"lag_events":N,"lag_s":X}: the events not yet in the ledger and the age
// of the oldest of them), or null when it reports none. `agent` keeps the
// sampler on one connection of its own, apart from the load's.
export async function readLag(port, agent) {
  const r = await getText(port, '/readyz', agent);
  try {
    const body = JSON.parse(r.body);
    if (typeof body.lag_events !== 'number' || typeof body.lag_s !== 'number') {
      return null;
    }
    return { events: body.lag_events, seconds: body.lag_s, answerMs: r.ms };
  } catch { return null; }
}

function getText(port, target, agent) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = nodeHttp.get({ host: '127.0.0.1', port, path: target, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({
        status: res.statusCode, body,
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
      }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
  });
}

// Calls `sample()` about every `everyMs` until the returned stop() is awaited.
function every(everyMs, sample) {
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      await sample();
      await sleep(Math.max(0, everyMs - (Date.now() - t0)));
    }
  })();
  return async () => { running = false; await loop; };
}

// Resident memory every ~50 ms and, when `withLag`, /readyz every ~25 ms on
// a keep-alive connection of its own; stop() returns the samples.
export function startSamplers(pid, port, withLag) {
  const samples = { rss: [], lag: [] };
  const stopMemory = every(50, () => { samples.rss.push(memory(pid).rss); });
  const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
  const stopLag = withLag ? every(25, async () => {
    const lag = await readLag(port, agent);
    if (lag) samples.lag.push({ t: Date.now(), ...lag });
  }) : async () => {};
  return async () => {
    await Promise.all([stopMemory(), stopLag()]);
    agent.destroy();
    return samples;
  };
}

// The lag figures of one run: lag_s at p50/p99/max (in ms), the most
// events behind, and how often /readyz was actually read.
export function lagFigures(lag) {
  if (lag.length === 0) return { lagSamples: 0 };
  const ms = lag.map((x) => x.seconds * 1000);
  const spanMs = lag.at(-1).t - lag[0].t;
  return {
    lagSamples: lag.length,
    lagEveryMs: lag.length > 1 ? spanMs / (lag.length - 1) : null,
    lagMsP50: percentile(ms, 0.5),
    lagMsP99: percentile(ms, 0.99),
    lagMsMax: Math.max(...ms),
    lagEventsMax: Math.max(...lag.map((x) => x.events)),
    readyzMsP99: percentile(lag.map((x) => x.answerMs), 0.99),
  };
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
  const stopSamplers = startSamplers(srv.child.pid, srv.port, withLag);
  const w = await runWrk({ port: srv.port, connections: o.connections,
                           seconds: o.seconds, kind, fixture: o.fixtures[kind],
                           tag: o.tag() });
  const s = await stopSamplers();
  return {
    ...w,
    rssMax: s.rss.length ? Math.max(...s.rss) : null,
    ...lagFigures(s.lag),
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
