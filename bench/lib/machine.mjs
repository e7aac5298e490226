// The machine a run measured: CPU, cores, memory, kernel, load, and the
// versions of the programs that drive the load.
import fs from 'node:fs';
import os from 'node:os';
import { run } from './proc.mjs';

export function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  const memKb = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  let distro = '';
  try {
    distro = fs.readFileSync('/etc/os-release', 'utf8')
      .match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? '';
  } catch { /* unknown */ }
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.cpus()[0]?.model,
    cores: os.cpus().length,
    memory: `${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()} ${os.machine()}`,
    distro,
  };
}

// The 1, 5 and 15 minute load averages, as `uptime` prints them.
export function loadAverage() {
  return os.loadavg().map((x) => x.toFixed(2)).join(', ');
}

// The version line of a program, or why there is none.
export async function versionOf(argv) {
  const r = await run(argv);
  const text = `${r.stdout}\n${r.stderr}`.trim().split('\n')[0];
  return r.code === -1 ? 'not installed' : text;
}
