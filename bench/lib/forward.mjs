// Forwarding: the printers' answers while a [[forward]] target is up, and
// while it is down (it accepts connections and never answers: the worst
// case, each attempt waits for the target's timeout), beside no target at
// all. Each run has a fresh printmeter and SQLite file; http_load
// (bench/http_load.cc) sends the load and measures the answers; a receiver
// of node:http in this process plays the target and counts what it got.
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { http, run, stop } from './proc.mjs';
import * as receivers from './receivers.mjs';

export const phases = [
  ['none', 'no forward target'],
  ['up', 'a target answering 200'],
  ['down', 'a target that never answers'],
];

// A target on a free loopback port: `up` answers each POST 200, otherwise
// requests are held unanswered until close(). It counts the requests and the
// TCP connections it accepted (one per target when kept alive).
function target(up) {
  const held = [];
  let received = 0, connections = 0;
  const server = nodeHttp.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      ++received;
      if (up) res.end('ok'); else held.push(res);
    });
  });
  server.on('connection', () => { ++connections; });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    received: () => received,
    connections: () => connections,
    close: () => new Promise((done) => {
      for (const res of held) res.destroy();
      server.close(done);
      server.closeAllConnections?.();
    }),
  })));
}

function parseLine(stdout) {
  const m = stdout.match(/requests (\d+)\s+errors (\d+).*?([\d.]+) req\/s\s+p50 ([\d.]+) ms\s+p99 ([\d.]+) ms\s+max ([\d.]+) ms/);
  if (!m) return null;
  const [, requests, errors, rps, p50, p99, max] = m.map(Number);
  return { requests, errors, rps, p50, p99, max };
}

export function loadArgv(o, port) {
  return [o.httpLoad, '--port', String(port), '--clients', String(o.clients),
          '--seconds', String(o.seconds), '--requests', '100000000'];
}

async function onePhase(binary, o, [key, label]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pm-bench-forward-${key}-`));
  const tgt = key === 'none' ? null : await target(key === 'up');
  const extraToml = tgt
    ? `\n[[forward]]\nname = "bench"\nurl = "http://127.0.0.1:${tgt.port}/hook"\n`
    : '';
  const srv = await receivers.printmeter(binary, { extraToml }).start(dir);
  const argv = loadArgv(o, srv.port);
  let load, status = null;
  try {
    const r = await run(argv);
    load = parseLine(r.stdout);
    if (r.code !== 0 || !load) {
      throw new Error(`http_load failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    }
    if (tgt) {
      const s = await http(srv.port, '/api/v1/forwarding');
      status = JSON.parse(s.body).targets[0];
    }
  } finally {
    await stop(srv.child);
    if (tgt) await tgt.close();
  }
  return { key, label, argv, dir, ...load, forwarded: tgt ? tgt.received() : null,
           connections: tgt ? tgt.connections() : null,
           seconds: o.seconds,
           state: status?.state ?? null, backlog: status?.backlog ?? null };
}

// o: { httpLoad, clients, seconds }
export async function measureForward(binary, o, log) {
  const out = [];
  for (const phase of phases) {
    log(`forwarding: ${phase[1]}`);
    out.push(await onePhase(binary, o, phase));
  }
  return out;
}
