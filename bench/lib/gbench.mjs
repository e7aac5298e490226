// The Google Benchmark programs built beside printmeter (decode, ledger,
// store, read): each run with JSON output, summarised as one row per case.
import fs from 'node:fs';
import path from 'node:path';
import { run } from './proc.mjs';

// The *_bench programs under build/src/<part>/, in a stable order.
export function programs(buildDir) {
  const src = path.join(buildDir, 'src');
  if (!fs.existsSync(src)) return [];
  return fs.readdirSync(src).sort().flatMap((part) => {
    const dir = path.join(src, part);
    if (!fs.statSync(dir).isDirectory()) return [];
    return fs.readdirSync(dir).filter((f) => f.endsWith('_bench')).sort()
      .map((f) => path.join(dir, f));
  });
}

// Runs one program; returns { program, argv, rows: [{ name, time, rate }] }.
// Fails with the program's own words when it fails.
export async function runProgram(program, { minTime, env, filter }) {
  const argv = [program, `--benchmark_min_time=${minTime}`,
                '--benchmark_format=json',
                ...(filter ? [`--benchmark_filter=${filter}`] : [])];
  const r = await run(argv, { env });
  if (r.code !== 0) {
    throw new Error(`${path.basename(program)} failed (${r.code}): ` +
                    `${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  const report = JSON.parse(r.stdout);
  const rows = report.benchmarks
    .filter((b) => b.run_type !== 'aggregate' && !b.error_occurred)
    .map((b) => ({
      name: b.name,
      time: `${formatNumber(b.real_time)} ${b.time_unit}`,
      rate: b.items_per_second ? `${formatRate(b.items_per_second)} items/s`
        : b.bytes_per_second ? `${formatRate(b.bytes_per_second)} B/s` : '',
    }));
  const failed = report.benchmarks.filter((b) => b.error_occurred);
  if (failed.length) {
    throw new Error(`${path.basename(program)}: ${failed[0].name}: ${failed[0].error_message}`);
  }
  return { program: path.basename(program), argv, rows };
}

export function formatNumber(x) {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function formatRate(x) {
  if (x >= 1e9) return `${formatNumber(x / 1e9)} G`;
  if (x >= 1e6) return `${formatNumber(x / 1e6)} M`;
  if (x >= 1e3) return `${formatNumber(x / 1e3)} k`;
  return formatNumber(x);
}
