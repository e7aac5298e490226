// docs/benchmarks.md: the machine, the programs and their versions, the
// figures against their goals, the exact commands, the Google Benchmark
// summary, and the hand-written findings (bench/findings.md).
import fs from 'node:fs';
import { count, goals, ingestTable, memoryTable, met, ms, table } from './report.mjs';

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
    'came).',
  ];
}

function ingest(r) {
  const { results, skipped } = r.ingest;
  return [
    '## Ingest: JSON bodies', '', ingestTable('json', results, skipped), '',
    '## Ingest: multipart bodies (the plugin\'s default)', '',
    ingestTable('multipart', results, skipped), '',
    '## Memory', '', memoryTable(results, skipped),
  ];
}

function printmeterOnly(r) {
  const rb = r.rebuild, st = r.startup;
  return [
    '## printmeter alone', '',
    table(['figure', 'printmeter', 'goal', 'met'], [
      [`\`printmeter rebuild\` on the ingest runs' database (${count(rb.events)} events)`,
       `${count(rb.eventsPerSecond)} events/s (${ms(rb.ms)})`, goals.rebuild.text,
       met(rb.eventsPerSecond, goals.rebuild)],
      [`start to the first \`/healthz\` 200, ${r.large.generated ? 'a small generated' : 'the 1 M-session'} ledger ` +
       `(median of ${st.ms.length}; warm page cache)`,
       `${ms(st.median)} (max ${ms(st.max)})`, goals.startupMs.text,
       met(st.median, goals.startupMs)],
    ]),
    '', `Rebuild said: \`${rb.summary}\``,
  ];
}

function commands(r) {
  const lines = ['## Commands', '', '```sh'];
  for (const x of r.ingest.results) lines.push(`# ${x.name}`, x.argv.join(' '));
  lines.push('# load (PORT: each receiver\'s; TAG: unique per run)');
  for (const kind of ['json', 'multipart']) {
    for (const c of [1, r.settings.connections]) lines.push(r.wrkExample(kind, c).join(' '));
  }
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
  return [header(r), programs(r), ingest(r), printmeterOnly(r), findings(r),
          googleBenchmarks(r), commands(r)]
    .map((section) => section.join('\n')).join('\n\n') + '\n';
}
