// printmeter-only figures: `printmeter rebuild` on the database the ingest
// runs filled, and the time from start to the first /healthz 200 on a large
// ledger. Both run the binary exactly as a person would.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, http, percentile, run, start, stop, waitFor } from './proc.mjs';

// Runs `printmeter rebuild` on `db` (no server may hold it) and reads the
// number of events from its summary line.
export async function rebuild(binary, db) {
  const argv = [binary, 'rebuild', '--db', `sqlite:${db}`];
  const r = await run(argv, { cwd: path.dirname(db) });
  const events = Number(r.stdout.match(/from (\d+) event\(s\)/)?.[1]);
  if (r.code !== 0 || !Number.isFinite(events)) {
    throw new Error(`printmeter rebuild failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return { argv, events, ms: r.ms, eventsPerSecond: events / (r.ms / 1000),
           summary: r.stdout.trim().split('\n').join('; ') };
}

// `printmeter rebuild` twice on `db`: as the ledger stands (the live one,
// which a rebuild compares with what it folds and writes only where they
// differ), then with the ledger emptied first (sessions, links, printer
// states deleted with the sqlite3 shell, as after a copied log), which a
// rebuild writes whole.
export async function rebuilds(binary, db) {
  const compared = await rebuild(binary, db);
  const empty = await run(['sqlite3', db, 'DELETE FROM sessions; DELETE FROM event_sessions; ' +
                           'DELETE FROM device_states;']);
  if (empty.code !== 0) throw new Error(`emptying the ledger failed: ${empty.stderr.trim()}`);
  const whole = await rebuild(binary, db);
  return { ...compared, whole };
}

// Copies a SQLite database (and its WAL) into a new temporary folder, so a
// server started on it cannot change the original.
export function copyDatabase(source) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-startup-'));
  const target = path.join(dir, path.basename(source));
  fs.copyFileSync(source, target);
  for (const suffix of ['-wal']) {
    if (fs.existsSync(source + suffix)) fs.copyFileSync(source + suffix, target + suffix);
  }
  return target;
}

// Starts `printmeter serve` on `db` `times` times; each time measures from
// the spawn to the first 200 from /healthz, polling every millisecond.
export async function startup(binary, db, times) {
  const ms = [];
  let argv;
  for (let i = 0; i < times; ++i) {
    const port = await freePort();
    argv = [binary, 'serve', '--auth', 'open', '--listen', `127.0.0.1:${port}`,
            '--db', `sqlite:${db}`];
    const t0 = process.hrtime.bigint();
    const child = start(argv, { logFile: `${db}.serve.log`, cwd: path.dirname(db) });
    try {
      await waitFor('printmeter serve on the large ledger', async () =>
        (await http(port, '/healthz')).status === 200,
        { child, everyMs: 1, timeoutMs: 120000 });
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } finally {
      await stop(child);
    }
  }
  return { argv, ms, median: percentile(ms, 0.5), max: Math.max(...ms) };
}
