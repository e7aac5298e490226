// The smoke run's verdict: every benchmark ran and produced its figures.
// No figure is compared with a goal here (tiny sizes, a shared machine);
// what is checked could only fail if a benchmark broke: a missing or
// non-numeric figure, a request the receiver refused, an empty rebuild.
import { postgresProblems } from './postgres.mjs';

const isNumber = (x) => typeof x === 'number' && Number.isFinite(x);

function ingestProblems(result, problems) {
  for (const [kind, k] of Object.entries(result.kinds)) {
    const where = `${result.name} ${kind}`;
    for (const [run, f] of [['1 connection', k.one], ['32 connections', k.many]]) {
      for (const key of ['requests', 'rps', 'p50_ms', 'p99_ms', 'p999_ms']) {
        if (!isNumber(f[key])) problems.push(`${where} ${run}: no ${key}`);
      }
      if (!(f.requests > 0)) problems.push(`${where} ${run}: no request answered`);
      if (f.errors > 0 || f.non2xx > 0) {
        problems.push(`${where} ${run}: ${f.errors} errors, ${f.non2xx} non-2xx answers`);
      }
    }
    for (const key of ['each_p50_ms', 'each_p99_ms', 'each_p999_ms']) {
      if (!isNumber(k.one[key])) problems.push(`${where} 1 connection: no ${key} (the script's own timing)`);
    }
    if (!isNumber(k.one.bytesPerRequest)) problems.push(`${where}: no bytes per webhook`);
    if (!isNumber(k.many.rssMax) || k.many.rssMax <= 0) {
      problems.push(`${where}: no memory sampled under load`);
    }
    const lagMissing = ['lagMsP50', 'lagMsP99', 'lagMsMax', 'lagEventsMax']
      .filter((key) => !isNumber(k.many[key]));
    if (result.name === 'printmeter' && lagMissing.length) {
      problems.push(`${where} 32 connections: no projection lag (${lagMissing.join(', ')}): ` +
                    '/readyz gave no lag_events and lag_s');
    }
  }
  if (!(result.idleRss > 0) || !(result.hwm > 0)) problems.push(`${result.name}: no memory figures`);
}

// Every late-event run answered everything, and its ledger equals the
// rebuilt one.
function lateProblems(runs, problems) {
  if (!runs?.length) problems.push('late events: nothing measured');
  for (const x of runs ?? []) {
    const where = `late events, ${x.label}`;
    if (!(x.b_requests > 0) || !isNumber(x.b_p99_ms)) problems.push(`${where}: printer B got no answer`);
    if (x.b_errors > 0 || x.a_errors > 0) problems.push(`${where}: ${x.a_errors + x.b_errors} errors`);
    if (x.withA && !(x.a_acknowledged > 0)) problems.push(`${where}: printer A got no answer`);
    if (!isNumber(x.lagMsP99)) problems.push(`${where}: no projection lag`);
    if (x.catchUpMs === null) problems.push(`${where}: the ledger did not catch up`);
    if (x.withA && x.check.aSessions.length !== 1) {
      problems.push(`${where}: printer A has ${x.check.aSessions.length} sessions, not 1`);
    }
    if (x.withA && !x.check.aEqual) problems.push(`${where}: printer A's ledger differs from a rebuild`);
    if (!x.check.allEqual) problems.push(`${where}: the ledger differs from a rebuild`);
  }
}

// Prints what is missing and returns false, or says what ran and returns true.
export function check(report) {
  const problems = [];
  const pm = report.ingest.results.find((r) => r.name === 'printmeter');
  if (!pm) problems.push('printmeter was not measured');
  for (const r of report.ingest.results) ingestProblems(r, problems);
  for (const [what, x] of [['back to back', report.disk?.backToBack], ['paced', report.disk?.paced]]) {
    if (!(x?.requests > 0) || !isNumber(x.p99_ms) || x.errors !== 0) {
      problems.push(`the disk alone, ${what}: no figures`);
    }
  }
  lateProblems(report.late, problems);
  if (report.forward?.length !== 3) problems.push('forwarding: not measured');
  for (const x of report.forward ?? []) {
    if (!(x.requests > 0) || x.errors !== 0) {
      problems.push(`forwarding, ${x.label}: ${x.requests} answers, ${x.errors} errors`);
    }
  }
  if (!(report.rebuild.events > 0) || !isNumber(report.rebuild.eventsPerSecond)) {
    problems.push('printmeter rebuild folded no events');
  }
  if (!(report.rebuild.whole?.events === report.rebuild.events)) {
    problems.push('printmeter rebuild of the emptied ledger did not fold the same events');
  }
  if (!isNumber(report.startup.median)) problems.push('no start-up time');
  postgresProblems(report.postgres, problems);
  if (report.gbench.length === 0) problems.push('no Google Benchmark program was found');
  for (const g of report.gbench) {
    if (g.rows.length === 0) problems.push(`${g.program}: no benchmark case ran`);
  }
  const skipped = Object.entries(report.ingest.skipped);
  for (const [name, why] of skipped) console.log(`bench smoke: ${name} skipped: ${why}`);
  if (problems.length) {
    for (const p of problems) console.log(`bench smoke: FAILED: ${p}`);
    return false;
  }
  console.log(`bench smoke: ${report.ingest.results.map((r) => r.name).join(', ')} measured; ` +
              `late events, PostgreSQL, rebuild, start-up and ${report.gbench.length} Google Benchmark programs ran`);
  return true;
}
