// docs/benchmarks.md: the machine, the programs and their versions, the
// figures against their goals, the exact commands, the Google Benchmark
// summary, and the hand-written findings (bench/findings.md).
import fs from 'node:fs';
import { bytes, count, goals, ingestTable, memoryTable, met, ms, ratio, table } from './report.mjs';

function header(r) {
  const m = r.machine;
  return [
    '# Benchmarks',
    '',
    `Written by \`make bench\` (\`scripts/bench.sh\`, \`bench/run.mjs\`) on ` +
    `${r.started.toISOString().replace(/\.\d+Z$/, 'Z')}` +
    (r.smoke ? ' — **a smoke run with tiny sizes: the figures mean nothing**' : '') +
    '. Do not edit by hand; run `make bench` again.',
    '',
    '## Machine',
    '',
    table(['', ''], [
      ['CPU', m.cpu], ['cores', String(m.cores)], ['memory', m.memory],
      ['kernel', m.kernel], ['system', m.distro],
      ['load average at the start (1, 5, 15 min)', r.loadStart],
      ['load average at the end', r.loadEnd],
      ['run took', `${Math.round((r.finished - r.started) / 1000)} s`],
    ]),
    '',
    'The machine has two cores and may be shared: wrk, the receiver and ' +
    'anything else running (compilers, other tests) compete for them. A load ' +
    'average well above 2 at the start or the end means the figures are ' +
    'noisy, the throughput ones most.',
  ];
}

function programs(r) {
  const i = r.ingest;
  const rows = Object.keys(i.versions).map((n) => [n, i.versions[n], i.durable[n]]);
  for (const [n, why] of Object.entries(i.skipped)) rows.push([n, `skipped: ${why}`, '']);
  return [
    '## What was measured',
    '',
    table(['receiver', 'version', 'durable?'], rows),
    '',
    `Load: ${r.tools.wrk}; the SQLite command line is ${r.tools.SQLite}. ` +
    `printmeter binary: \`${r.printmeter}\`.`,
    '',
    'Every request is a real plugin request with its own printer and ' +
    '`currentTime` (`bench/ingest.lua`), so nothing is a duplicate (for ' +
    'printmeter the heaviest case: every request registers a printer and ' +
    'opens its session): JSON ' +
    'bodies from `seed/01-octoprint-print-started.json` and multipart bodies ' +
    '(the plugin\'s default) from ' +
    '`plugin/17_multipart_default_no_snapshot_print_started.http`. Each ' +
    `receiver gets a fresh folder and database; each run lasts ${r.settings.seconds} s ` +
    `(after a ${r.settings.warmupSeconds} s warm-up per encoding). Bytes ` +
    'written are the `write_bytes` of `/proc/PID/io` (the process and its ' +
    'children) over the one-connection run, divided by its requests, read ' +
    `${r.settings.settleMs} ms after the run so trailing writes count. Memory ` +
    'is `/proc/PID/status`, sampled every ~50 ms under load. The projection ' +
    'lag is `lag_s` of printmeter\'s `GET /readyz` (the age of the oldest ' +
    'answered webhook not yet folded into the ledger), read every ~25 ms on a ' +
    'keep-alive connection of its own while wrk runs the 32 connections; its ' +
    'percentiles are over those reads. Latencies are ' +
    'wrk\'s (closed loop: a connection sends its next request when the answer ' +
    'came). wrk corrects its percentiles for coordinated omission: for every ' +
    'answer slower than twice the mean interval it adds samples for the ' +
    'requests a client sending at a steady rate would have had waiting ' +
    'meanwhile, so at one connection a 25 ms stall among 0.7 ms answers ' +
    'counts some thirty times. The one-connection runs therefore also time ' +
    'each answer in the script (from the request\'s creation to its ' +
    'response, no sample added): the "each answer" rows. An OctoPrint ' +
    'sends an event now and then, not at a steady rate, so what one of its ' +
    'events waits is that figure; the goal is still judged on wrk\'s.',
  ];
}

function ingest(r) {
  const { results, skipped } = r.ingest;
  return [
    '## Ingest: JSON bodies', '', ingestTable('json', results, skipped), '',
    ...disk(r), '',
    '## Ingest: multipart bodies (the plugin\'s default)', '',
    ingestTable('multipart', results, skipped), '',
    '## Memory', '', memoryTable(results, skipped),
  ];
}

// The disk alone (lib/disk.mjs) beside printmeter's one connection.
function disk(r) {
  const d = r.disk;
  if (!d) return [];
  const one = r.ingest.results.find((x) => x.name === 'printmeter')?.kinds.json.one;
  const row = (label, x) => [label, count(x.rps), ms(x.p50_ms), ms(x.p99_ms), ms(x.p999_ms),
                             ms(x.max_ms), bytes(x.write_bytes_per)];
  return [
    '### The disk alone, at printmeter\'s one-connection rate', '',
    'What this machine\'s disk itself takes for one durable append: ' +
    `\`bench/disk_append.cc\` appends records of ${count(d.recordBytes)} bytes (the JSON ` +
    'body) to a file made once with zeros, as printmeter\'s append journal does ' +
    '(`O_DIRECT` writes of the 512-byte sectors a record covers, then `fdatasync`), ' +
    'with nothing else running: first back to back, then one every ' +
    `${count(d.everyUs)} µs, the rate printmeter's one connection reached above, so ` +
    'that the disk idles between appends as it does under printmeter. Each append ' +
    'is timed from its start to the end of its flush.' +
    (d.paced.direct ? '' : ' The file system refused `O_DIRECT`: ordinary writes were used.'),
    '',
    table(['', 'appends/s', 'p50', 'p99', 'p99.9', 'max', 'written per append'], [
      row('back to back', d.backToBack),
      row(`one every ${count(d.everyUs)} µs`, d.paced),
      ...(one ? [['printmeter, 1 connection, each answer (JSON, above)', count(one.rps),
                  ms(one.each_p50_ms), ms(one.each_p99_ms), ms(one.each_p999_ms), '—',
                  bytes(one.bytesPerRequest)]] : []),
    ]),
  ];
}

// The forwarding runs (lib/forward.mjs); `when`, for a section measured on
// its own (run.mjs --only forward), says when and under what load.
export function forwarding(r, when = '') {
  const runs = r.forward, f = r.settings.forward;
  if (!runs?.length) return [];
  const cells = (fn) => runs.map((x) => fn(x));
  const rows = [
    ['answers / errors', ...cells((x) => `${count(x.requests)} / ${x.errors}`)],
    ['answers per second', ...cells((x) => count(x.rps))],
    ['answer p50', ...cells((x) => ms(x.p50))],
    ['answer p99', ...cells((x) => ms(x.p99))],
    ['answer max', ...cells((x) => ms(x.max))],
    ['requests the target received during the run',
     ...cells((x) => (x.forwarded === null ? '—' : count(x.forwarded)))],
    ['events delivered per second to the target',
     ...cells((x) => (x.forwarded === null ? '—' : count(x.forwarded / x.seconds)))],
    ['connections the target accepted',
     ...cells((x) => (x.connections == null ? '—' : count(x.connections)))],
    ['target state, backlog at the end',
     ...cells((x) => (x.state === null ? '—' : `${x.state}, ${count(x.backlog)} events`))],
  ];
  return [
    '## Forwarding: the printers\' answers while a target is down', '',
    ...(when ? [when, ''] : []),
    `${f.clients} printers (http_load, one kept-alive connection each, the next ` +
    `request when the answer came) post JSON webhooks for ${f.seconds} s to a ` +
    'fresh printmeter, three times: without a `[[forward]]` target, with one ' +
    'that answers 200 at once, and with one that accepts the connection and ' +
    'never answers (each attempt then waits for the 10 s timeout, and the ' +
    'target backs off). Forwarding runs on its own thread behind the log, so ' +
    'a target that never answers should hold up no answer; one that answers ' +
    'is sent the events while they come, and its deliveries (and the target ' +
    'itself, on the same two cores) take their share of the CPU from the ' +
    'answers. The target\'s rate is what ' +
    'one target is delivered while the printers post (one kept-alive ' +
    'connection per target, a request at a time).',
    '',
    table(['', ...cells((x) => x.label)], rows),
  ];
}

export function lateEvents(r, when = '') {
  const runs = r.late, l = r.settings.late;
  const cells = (f) => runs.map((x) => f(x));
  const a = (x, f) => (x.withA ? f(x) : '—');
  const yes = (b) => (b ? 'yes' : '**no**');
  const aLedger = (x) => {
    const s = x.check.aSessions;
    const what = s.map((y) => `${y.status}, ${count(y.events)} events`).join('; ');
    return `${s.length} session(s): ${what}; the same after rebuild: ${yes(x.check.aEqual)}`;
  };
  const rows = [
    ['printer A: progress events acknowledged / errors',
     ...cells((x) => a(x, (y) => `${count(y.a_acknowledged)} / ${y.a_errors}`))],
    ['printer A: acknowledged per second', ...cells((x) => a(x, (y) => count(y.a_per_s)))],
    ['printer A: the burst took', ...cells((x) => a(x, (y) => `${y.a_seconds.toFixed(1)} s`))],
    ['printer B: answers / errors', ...cells((x) => `${count(x.b_requests)} / ${x.b_errors}`)],
    ['printer B: answer p50', ...cells((x) => ms(x.b_p50_ms))],
    ['printer B: answer p99', ...cells((x) => ms(x.b_p99_ms))],
    ['printer B: answer max', ...cells((x) => ms(x.b_max_ms))],
    ['projection lag: p50 / p99 / max of `lag_s`',
     ...cells((x) => `${ms(x.lagMsP50)} / ${ms(x.lagMsP99)} / ${ms(x.lagMsMax)}`)],
    ['projection lag: most events behind', ...cells((x) => count(x.lagEventsMax))],
    ['ledger caught up after the last answer',
     ...cells((x) => (x.catchUpMs === null ? 'not within 120 s' : ms(x.catchUpMs)))],
    ['printer A\'s ledger after the run', ...cells((x) => a(x, aLedger))],
    ['whole ledger equal to `printmeter rebuild` of its log',
     ...cells((x) => `${yes(x.check.allEqual)} (${count(x.check.allSessions)} sessions)`)],
  ];
  return [
    '## Late events', '',
    `Printer A opens one long print, then ${l.clients} connections send ` +
    `${l.events.map(count).join(' or ')} progress events of it as fast as ` +
    'they are answered; ' +
    'in the late run every event carries a printer time (`currentTime`) ' +
    'earlier than every event sent before it (so each is late, and the ' +
    'print is re-folded from its start), in the baseline a later one. ' +
    `Meanwhile printer B sends an in-order print (started, progress, paused, ` +
    `resumed, progress, done, again) at ${l.rate} requests/s on a connection ` +
    'of its own until A is done; its latency counts from the moment each ' +
    'request was due, so an answer that came late also delays the next. ' +
    `B alone ran ${l.aloneSeconds} s. Each run had a fresh \`printmeter serve\` ` +
    'and SQLite file; `/readyz` was read every ~25 ms for the lag. After ' +
    'each run the server was stopped and `printmeter sessions` compared ' +
    'before and after `printmeter rebuild` (an open session\'s ' +
    'duration, print time and cost left out: they grow with the clock).',
    ...(when ? ['', when] : []),
    '',
    table(['figure', ...runs.map((x) => x.label)], rows),
  ];
}

function printmeterOnly(r) {
  const rb = r.rebuild, st = r.startup;
  return [
    '## printmeter alone', '',
    table(['figure', 'printmeter', 'goal', 'met'], [
      [`\`printmeter rebuild\` on the ingest runs' database (${count(rb.events)} events), ` +
       'its ledger as the server left it (compared with the fold, only differences written)',
       `${count(rb.eventsPerSecond)} events/s (${ms(rb.ms)})`, goals.rebuild.text,
       met(rb.eventsPerSecond, goals.rebuild)],
      ...(rb.whole ? [[
        'the same with the ledger emptied first (written whole, as after a copied log)',
        `${count(rb.whole.eventsPerSecond)} events/s (${ms(rb.whole.ms)})`, goals.rebuild.text,
        met(rb.whole.eventsPerSecond, goals.rebuild)]] : []),
      [`start to the first \`/healthz\` 200, ${r.large.generated ? 'a small generated' : 'the 1 M-session'} ledger ` +
       `(median of ${st.ms.length}; warm page cache)`,
       `${ms(st.median)} (max ${ms(st.max)})`, goals.startupMs.text,
       met(st.median, goals.startupMs)],
    ]),
    '', `Rebuild said: \`${rb.summary}\``,
    ...(rb.whole ? ['', `and on the emptied ledger: \`${rb.whole.summary}\``] : []),
  ];
}

export function postgres(r, when = '') {
  const pg = r.postgres;
  const b = pg.bare, one = pg.single, two = pg.pair, c = r.settings.connections;
  const runs = [b, one, two];
  const row = (what, f) => [what, ...runs.map(f), '—', '—'];
  const latencies = (x, lo, hi) => `${ms(x[lo])} / ${ms(x[hi])}`;
  const ratioRow = (what, pick) => {
    const x1 = pick(one) / pick(b), x2 = pick(two) / pick(b);
    return [what, '1×', ratio(x1), ratio(x2), goals.vsBareInsert.text,
            `${met(x1, goals.vsBareInsert)} / ${met(x2, goals.vsBareInsert)}`];
  };
  const lag = (x) => `${ms(x.lagMsP50)} / ${ms(x.lagMsP99)} / ${ms(x.lagMsMax)}`;
  return [
    '## PostgreSQL: one and two instances beside a bare INSERT loop', '',
    `A PostgreSQL ${pg.version} server of the run's own (initdb in a temporary ` +
    'folder, fsync on, synchronous_commit on). The bare loop (`bench/pg_insert.cc`) ' +
    `inserts the JSON fixture's body (${count(pg.rowBytes)} bytes) with its own printer ` +
    'and time in every row, as printmeter\'s load has them (so PostgreSQL compresses ' +
    'it as it does printmeter\'s), into a ' +
    'table shaped like the log, one committed transaction per row, from as many ' +
    'connections as the load has: the ceiling of this database on this machine ' +
    'for a durable write. printmeter gets the same JSON load as above (every request ' +
    'a new printer); with two instances on one database a wrk runs on each at ' +
    `once, 1 + 1 and ${c / 2} + ${c / 2} connections (requests summed, latencies ` +
    'the worse of the two), and the lag is read from the first instance.' +
    (when ? ` ${when}` : ''),
    '',
    table(['figure', 'bare libpq INSERT', 'printmeter, 1 instance',
           'printmeter, 2 instances', 'goal', 'met (1 / 2)'], [
      row('1 connection (each): requests/s', (x) => count(x.one.rps)),
      row('1 connection (each): p50 / p99', (x) => latencies(x.one, 'p50_ms', 'p99_ms')),
      row(`${c} connections in all: requests/s`, (x) => count(x.many.rps)),
      row(`${c} connections: p99 / p99.9`, (x) => latencies(x.many, 'p99_ms', 'p999_ms')),
      row('errors / non-2xx', (x) => `${x.one.errors + x.many.errors} / ` +
          `${x.one.non2xx + x.many.non2xx}`),
      ratioRow('printmeter ÷ bare INSERT, requests/s at 1 connection', (x) => x.one.rps),
      ratioRow(`printmeter ÷ bare INSERT, requests/s at ${c}`, (x) => x.many.rps),
      [`projection lag at ${c}: p50 / p99 / max of \`lag_s\``, '—', lag(one.many),
       lag(two.many), '—', '—'],
    ]),
  ];
}

function commands(r) {
  const lines = ['## Commands', '', '```sh'];
  for (const x of r.ingest.results) lines.push(`# ${x.name}`, x.argv.join(' '));
  lines.push('# load (PORT: each receiver\'s; TAG: unique per run)');
  for (const kind of ['json', 'multipart']) {
    for (const c of [1, r.settings.connections]) lines.push(r.wrkExample(kind, c).join(' '));
  }
  if (r.disk) {
    lines.push('# the disk alone (DIR: a temporary folder beside the receivers\' databases)');
    lines.push(r.disk.backToBack.argv.join(' '), r.disk.paced.argv.join(' '));
  }
  lines.push('# late events (PORT: each run\'s printmeter; TAG: unique per run)');
  for (const x of r.late) {
    lines.push(x.argv.map((a, i) => (x.argv[i - 1] === '--port' ? 'PORT'
      : x.argv[i - 1] === '--tag' ? 'TAG' : a)).join(' '));
  }
  lines.push('# PostgreSQL (URL: a fresh database of the run\'s own server)');
  lines.push(r.postgres.bare.one.argv.join(' '), r.postgres.bare.many.argv.join(' '));
  lines.push(r.postgres.single.argv.map((a, i, v) => (v[i - 1] === '--db' ? 'URL' : a)).join(' '));
  lines.push('# printmeter alone', r.rebuild.argv.join(' '), r.startup.argv.join(' '));
  if (r.large.argv) lines.push(r.large.argv.join(' '));
  for (const g of r.gbench) lines.push(g.argv.join(' '));
  lines.push('```');
  return lines;
}

function googleBenchmarks(r) {
  const out = ['## Micro-benchmarks (Google Benchmark)', '',
               `Each case ran for at least ${r.settings.minTime} s; the read ` +
               `benchmarks on \`${r.large.generated ? 'a small generated ledger' : r.large.file}\`.`];
  for (const g of r.gbench) {
    out.push('', `### ${g.program}`, '',
             table(['case', 'time', 'rate'], g.rows.map((x) => [`\`${x.name}\``, x.time, x.rate || '—'])));
  }
  return out;
}

function findings(r) {
  if (!fs.existsSync(r.findings)) return [];
  return ['', fs.readFileSync(r.findings, 'utf8').trim()];
}

export function write(r) {
  return [header(r), programs(r), ingest(r), lateEvents(r), postgres(r), forwarding(r), printmeterOnly(r), findings(r),
          googleBenchmarks(r), commands(r)]
    .map((section) => section.join('\n')).join('\n\n') + '\n';
}
