// printmeter on PostgreSQL beside the database's own ceiling, in one run:
// a PostgreSQL 15 server of the run's own (the tests' pg_test_server: initdb
// in a temporary folder, a free loopback port, fsync on), then
//   - the bare libpq INSERT loop (bench/pg_insert.cc) at 1 and 32
//     connections, the JSON fixture's body with its own printer and time in
//     every row;
//   - one `printmeter serve` on a fresh database, wrk at 1 and 32
//     connections (JSON bodies, every request a new printer, as the SQLite
//     runs);
//   - two `printmeter serve` on one fresh database, a wrk on each at once
//     (1 + 1 and 16 + 16 connections), the projection lag read from one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runWrk, lagFigures, startSamplers } from './ingest.mjs';
import { figuresOf, freePort, http, run, sleep, start, stop, waitFor } from './proc.mjs';

async function startCluster(build) {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-pg-'));
  // Run as root, the server runs as `postgres`, which must reach its folder.
  fs.chmodSync(parent, 0o755);
  const dir = path.join(parent, 'cluster');
  const server = path.join(build, 'src/store/pg_test_server');
  const r = await run([server, 'start', dir]);
  if (r.code !== 0) throw new Error(`PostgreSQL did not start: ${r.stderr.trim()}`);
  const url = fs.readFileSync(path.join(dir, 'url'), 'utf8').trim();
  return { dir, url, stop: () => run([server, 'stop', dir]) };
}

// A new database on the cluster; its URL.
async function newDatabase(cluster, name) {
  const r = await run(['psql', cluster.url, '-qc', `CREATE DATABASE ${name}`]);
  if (r.code !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr.trim()}`);
  return cluster.url.replace(/\/[^/]*$/, `/${name}`);
}

async function serveOn(binary, url, dir, name) {
  const port = await freePort();
  const config = path.join(dir, `${name}.toml`);
  fs.writeFileSync(config, 'max_devices = 0\nregistrations_per_hour = 0\n');
  const argv = [binary, 'serve', '--auth', 'open', '--listen', `127.0.0.1:${port}`,
                '--db', url, '--config', config];
  const child = start(argv, { logFile: path.join(dir, `${name}.log`), cwd: dir });
  await waitFor(`printmeter serve on PostgreSQL (${name})`, async () =>
    (await http(port, '/healthz')).status === 200, { child });
  return { child, port, argv };
}

// wrk on each server at once, `connections` each; the figures summed
// (requests, rps) or the worst of them (latencies).
async function wrkOnEach(servers, connections, o) {
  const runs = await Promise.all(servers.map((s) => runWrk({
    port: s.port, connections, seconds: o.seconds, kind: 'json',
    fixture: o.fixtures.json, tag: o.tag() })));
  const sum = (k) => runs.reduce((a, r) => a + r[k], 0);
  const worst = (k) => Math.max(...runs.map((r) => r[k]));
  return { requests: sum('requests'), rps: sum('rps'), errors: sum('errors'),
           non2xx: sum('non2xx'), p50_ms: worst('p50_ms'), p99_ms: worst('p99_ms'),
           p999_ms: worst('p999_ms'), max_ms: worst('max_ms'),
           argv: runs.map((r) => r.argv) };
}

async function instances(binary, cluster, dir, count, o, log) {
  const url = await newDatabase(cluster, `printmeter_${count}_${process.pid}`);
  const servers = [];
  try {
    for (let i = 0; i < count; ++i) {
      servers.push(await serveOn(binary, url, dir, `instance-${count}-${i}`));
    }
    if (o.warmupSeconds) {
      await wrkOnEach(servers, 1, { ...o, seconds: o.warmupSeconds });
    }
    log(`printmeter on PostgreSQL, ${count} instance(s), 1 connection each`);
    const one = await wrkOnEach(servers, 1, o);
    log(`printmeter on PostgreSQL, ${count} instance(s), ${o.connections / count} connections each`);
    const stopSamplers = startSamplers(servers[0].child.pid, servers[0].port, true);
    const many = await wrkOnEach(servers, o.connections / count, o);
    const s = await stopSamplers();
    return { instances: count, argv: servers[0].argv, one,
             many: { ...many, ...lagFigures(s.lag) } };
  } finally {
    for (const s of servers) await stop(s.child);
  }
}

async function bareInsert(build, cluster, connections, o) {
  const url = await newDatabase(cluster, `pg_insert_${connections}_${process.pid}`);
  const argv = [path.join(build, 'src/store/pg_insert'), '--url', url,
                '--connections', String(connections), '--seconds', String(o.seconds),
                '--body', o.fixtures.json];
  const r = await run(argv);
  const figures = figuresOf(r.stdout);
  if (r.code !== 0 || !figures) throw new Error(`pg_insert failed: ${r.stderr.trim()}`);
  return { ...figures, argv: argv.map((a) => (a === url ? 'URL' : a)) };
}

// o: { seconds, warmupSeconds, connections, fixtures, tag() }
export async function measurePostgres(binary, build, o, log) {
  log('starting a PostgreSQL server of the run\'s own');
  const cluster = await startCluster(build);
  const dir = path.dirname(cluster.dir);
  try {
    const version = (await run(['psql', cluster.url, '-Atc', 'SHOW server_version'])).stdout.trim();
    const rowBytes = fs.statSync(o.fixtures.json).size;
    log('bare libpq INSERT loop, 1 connection');
    const bareOne = await bareInsert(build, cluster, 1, o);
    log(`bare libpq INSERT loop, ${o.connections} connections`);
    const bareMany = await bareInsert(build, cluster, o.connections, o);
    const single = await instances(binary, cluster, dir, 1, o, log);
    const pair = await instances(binary, cluster, dir, 2, o, log);
    return { version, rowBytes, bare: { one: bareOne, many: bareMany }, single, pair, dir };
  } finally {
    await cluster.stop();
  }
}

// What the smoke run checks: every figure is there and nothing failed.
export function postgresProblems(pg, problems) {
  if (!pg) {
    problems.push('PostgreSQL: nothing measured');
    return;
  }
  const runs = [['bare insert, 1', pg.bare.one], ['bare insert, many', pg.bare.many],
                ['one instance, 1', pg.single.one], ['one instance, many', pg.single.many],
                ['two instances, 1', pg.pair.one], ['two instances, many', pg.pair.many]];
  for (const [where, f] of runs) {
    if (!(f.requests > 0) || !Number.isFinite(f.p99_ms)) problems.push(`PostgreSQL ${where}: no figures`);
    if (f.errors > 0 || f.non2xx > 0) problems.push(`PostgreSQL ${where}: ${f.errors} errors, ${f.non2xx} non-2xx`);
  }
  if (!Number.isFinite(pg.single.many.lagMsP99)) problems.push('PostgreSQL: no projection lag');
}
