// The disk alone (bench/disk_append.cc): a durable append of the JSON
// body's size, as printmeter's append journal makes it, back to back and
// then one every 1/R s, R being the requests/s printmeter's one connection
// reached in the same run: the floor under printmeter's one-connection
// latency on this machine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { figuresOf, run } from './proc.mjs';

async function appendLoop(binary, dir, args) {
  const argv = [binary, '--dir', dir, ...args];
  const r = await run(argv);
  const figures = figuresOf(r.stdout);
  if (r.code !== 0 || !figures) throw new Error(`disk_append failed: ${r.stderr.trim()}`);
  return { ...figures, argv: argv.map((a) => (a === dir ? 'DIR' : a)) };
}

// o: { seconds, recordBytes, rate (printmeter's one-connection requests/s) }
export async function measureDisk(build, o, log) {
  const binary = path.join(build, 'src/store/disk_append');
  // Beside the receivers' databases: the same file system.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-disk-'));
  try {
    const count = Math.max(100, Math.round(o.rate * o.seconds));
    const everyUs = Math.max(1, Math.round(1e6 / o.rate));
    log(`the disk alone: ${count} durable appends back to back, then one every ${everyUs} µs`);
    const backToBack = await appendLoop(binary, dir, ['--record-bytes', String(o.recordBytes),
                                                      '--count', String(count)]);
    const paced = await appendLoop(binary, dir, ['--record-bytes', String(o.recordBytes),
                                                 '--count', String(count),
                                                 '--every-us', String(everyUs)]);
    return { recordBytes: o.recordBytes, everyUs, backToBack, paced };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
