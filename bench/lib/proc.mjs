// Processes under measurement: start, wait for HTTP, read /proc, stop.
// Every figure read here covers a process and all of its children (nginx's
// workers), so each receiver is measured whole.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A free loopback port, as the kernel hands one out.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts `argv` with its output in `logFile`. Returns the child; `exited`
// is set once it ends so callers can say it died instead of hanging.
export function start(argv, { logFile, env, cwd } = {}) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', out, out], env: { ...process.env, ...env }, cwd,
  });
  fs.closeSync(out);
  child.exited = null;
  child.on('exit', (code, signal) => { child.exited = { code, signal }; });
  return child;
}

// Stops a child with SIGTERM (then SIGKILL after 5 s) and waits for it.
export async function stop(child) {
  if (!child || child.exited) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

// One HTTP exchange on loopback: { status, body }, or { status: 0, error }.
export async function http(port, path, { method = 'GET', body, headers } = {}) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`,
                          { method, body, headers });
    return { status: r.status, body: await r.text() };
  } catch (e) {
    return { status: 0, error: e.cause?.code ?? e.message };
  }
}

// Polls until `probe()` is true; fails naming `what` after `timeoutMs` or
// when `child` exits first (its log says why). A child that is not ready in
// time is stopped before the failure is returned.
export async function waitFor(what, probe, { child, timeoutMs = 30000,
                                             everyMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child?.exited) {
      throw new Error(`${what}: the process exited (${JSON.stringify(child.exited)})`);
    }
    if (await probe()) return;
    await sleep(everyMs);
  }
  await stop(child);
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

// The pid and all its descendants.
export function processTree(pid) {
  const parents = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(name), ppid);
    } catch { /* gone meanwhile */ }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; ++i) {
    for (const [p, pp] of parents) if (pp === tree[i]) tree.push(p);
  }
  return tree;
}

function readField(file, re) {
  try {
    const m = fs.readFileSync(file, 'utf8').match(re);
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

// Bytes the tree has caused to be written to storage (write_bytes).
export function writeBytes(pid) {
  return processTree(pid).reduce(
    (sum, p) => sum + readField(`/proc/${p}/io`, /^write_bytes:\s+(\d+)/m), 0);
}

// Resident memory of the tree in bytes: { rss, hwm } (VmRSS, VmHWM summed).
export function memory(pid) {
  let rss = 0, hwm = 0;
  for (const p of processTree(pid)) {
    rss += readField(`/proc/${p}/status`, /^VmRSS:\s+(\d+) kB/m) * 1024;
    hwm += readField(`/proc/${p}/status`, /^VmHWM:\s+(\d+) kB/m) * 1024;
  }
  return { rss, hwm };
}

// Runs argv to completion: { code, stdout, stderr, ms }.
export function run(argv, { env, cwd, input } = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...env }, cwd,
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: e.message, ms: 0 }));
    child.on('close', (code) => resolve({
      code, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6,
    }));
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
  });
}

// The key=value figures of the line a bench program prints that starts with
// `prefix` (bench/ingest.lua's, bench/bench_line.h's), or null.
export function figuresOf(stdout, prefix = 'BENCH') {
  const line = stdout.split('\n').find((l) => l.startsWith(`${prefix} `));
  if (!line) return null;
  return Object.fromEntries(line.slice(prefix.length).trim().split(' ')
    .map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
}

// The 100·q-th percentile of numbers (nearest rank); null when empty.
export function percentile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
