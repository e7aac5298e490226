// Writes the figures of one run as Markdown: every figure beside its peers
// and its goal, and whether the goal is met.
const KiB = 1024, MiB = 1024 * 1024;

export const goals = {
  bytesPerRequest: { max: 8 * KiB, text: '≤ 8 KiB' },
  oneP99: { max: 1, text: '≤ 1 ms' },
  manyP999: { max: 5, text: '≤ 5 ms' },
  vsNginx: { min: 0.5, text: '≥ 0.5×' },
  vsNodeRed: { min: 15, text: '≥ 15×' },
  vsSqlite: { min: 10, text: '≥ 10×' },
  lagMs: { max: 250, text: '≤ 250 ms' },
  idleRss: { max: 8 * MiB, text: '≤ 8 MiB' },
  loadRss: { max: 32 * MiB, text: '≤ 32 MiB' },
  rebuild: { min: 200000, text: '≥ 200 k events/s' },
  startupMs: { below: 100, text: '< 100 ms' },
  vsBareInsert: { min: 0.5, text: '≥ 0.5× (within 2×)' },
};

// 'yes', 'no', or 'n/a' when there is no figure.
export function met(value, goal) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  if (goal.max !== undefined) return value <= goal.max ? 'yes' : '**no**';
  if (goal.min !== undefined) return value >= goal.min ? 'yes' : '**no**';
  return value < goal.below ? 'yes' : '**no**';
}

const fixed = (x, d) => (x === null || x === undefined ? '—' : x.toFixed(d));
export const ms = (x) => (x === null || x === undefined ? '—' : `${fixed(x, x < 10 ? 3 : 1)} ms`);
export const count = (x) => (x === null || x === undefined ? '—'
  : Math.round(x).toLocaleString('en-US'));
export const ratio = (x) => (x === null || x === undefined ? '—' : `${fixed(x, x < 10 ? 2 : 1)}×`);
export function bytes(x) {
  if (x === null || x === undefined) return '—';
  if (x >= MiB) return `${fixed(x / MiB, 1)} MiB`;
  if (x >= KiB) return `${fixed(x / KiB, 1)} KiB`;
  return `${Math.round(x)} B`;
}

export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// Figures of one encoding, printmeter first, each peer beside it.
export function ingestTable(kind, results, skipped) {
  const names = ['printmeter', 'nginx', 'Node-RED', 'node+better-sqlite3'];
  const cell = (name, f) => {
    if (skipped[name]) return `skipped: ${skipped[name]}`;
    const r = results.find((x) => x.name === name)?.kinds[kind];
    return r ? f(r) : '—';
  };
  const pm = results.find((x) => x.name === 'printmeter')?.kinds[kind];
  const rps = (name) => results.find((x) => x.name === name)?.kinds[kind]?.many.rps;
  const vs = (name) => (pm && rps(name) ? pm.many.rps / rps(name) : null);
  const row = (label, f, goal, value) => [label, ...names.map((n) => cell(n, f)),
    goal ? goal.text : '—', goal ? met(value, goal) : '—'];
  const onlyPm = (label, text, goal, value) =>
    [label, text, '', '', '', goal ? goal.text : '—', goal ? met(value, goal) : '—'];
  const lag = (text) => (!pm ? '—'
    : pm.many.lagSamples ? text(pm.many) : 'n/a (this build reports no projection lag)');
  return table(['figure', ...names, 'goal', 'met'], [
    row('bytes written per webhook, 1 connection', (r) => bytes(r.one.bytesPerRequest),
        goals.bytesPerRequest, pm?.one.bytesPerRequest),
    row('1 connection: requests/s', (r) => count(r.one.rps)),
    row('1 connection: p50', (r) => ms(r.one.p50_ms)),
    row('1 connection: p99 (wrk, coordinated omission corrected)', (r) => ms(r.one.p99_ms),
        goals.oneP99, pm?.one.p99_ms),
    row('1 connection: p99 / p99.9 of each answer (no sample added)',
        (r) => `${ms(r.one.each_p99_ms)} / ${ms(r.one.each_p999_ms)}`),
    row('32 connections: requests/s', (r) => count(r.many.rps)),
    row('32 connections: p99', (r) => ms(r.many.p99_ms)),
    row('32 connections: p99.9', (r) => ms(r.many.p999_ms), goals.manyP999,
        pm?.many.p999_ms),
    row('errors / non-2xx answers', (r) =>
      `${r.one.errors + r.many.errors} / ${r.one.non2xx + r.many.non2xx}`),
    onlyPm('printmeter ÷ nginx, requests/s at 32', ratio(vs('nginx')), goals.vsNginx, vs('nginx')),
    onlyPm('printmeter ÷ Node-RED', ratio(vs('Node-RED')), goals.vsNodeRed, vs('Node-RED')),
    onlyPm('printmeter ÷ node+better-sqlite3', ratio(vs('node+better-sqlite3')),
           goals.vsSqlite, vs('node+better-sqlite3')),
    onlyPm('projection lag at 32 connections: p99 of `lag_s`',
           lag((m) => ms(m.lagMsP99)), goals.lagMs, pm?.many.lagMsP99),
    onlyPm('projection lag at 32 connections: p50 / max of `lag_s`',
           lag((m) => `${ms(m.lagMsP50)} / ${ms(m.lagMsMax)}`)),
    onlyPm('projection lag at 32 connections: most events behind',
           lag((m) => count(m.lagEventsMax))),
    onlyPm('projection lag: `/readyz` reads during the run',
           lag((m) => `${count(m.lagSamples)}, every ~${fixed(m.lagEveryMs, 0)} ms, ` +
                      `answered in ${ms(m.readyzMsP99)} at p99`)),
  ]);
}

// Resident memory of every receiver: idle, the most under load, the peak.
export function memoryTable(results, skipped) {
  const names = ['printmeter', 'nginx', 'Node-RED', 'node+better-sqlite3'];
  const get = (n, f) => (skipped[n] ? `skipped: ${skipped[n]}`
    : (() => { const r = results.find((x) => x.name === n); return r ? f(r) : '—'; })());
  const loadMax = (r) => Math.max(...Object.values(r.kinds).map((k) => k.many.rssMax ?? 0));
  const pm = results.find((x) => x.name === 'printmeter');
  return table(['figure', ...names, 'goal', 'met'], [
    ['VmRSS idle, after start', ...names.map((n) => get(n, (r) => bytes(r.idleRss))),
     goals.idleRss.text, met(pm?.idleRss, goals.idleRss)],
    ['VmRSS under 32 connections (largest sample)',
     ...names.map((n) => get(n, (r) => bytes(loadMax(r)))), '—', '—'],
    ['VmHWM at the end of the run (the peak, load included)',
     ...names.map((n) => get(n, (r) => bytes(r.hwm))),
     goals.loadRss.text, met(pm?.hwm, goals.loadRss)],
  ]);
}
