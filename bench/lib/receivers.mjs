// The receivers under measurement: printmeter and its peers. Each one runs
// on its own free loopback port with everything it writes in its own
// temporary folder, and says what it is (name, version, command).
import fs from 'node:fs';
import path from 'node:path';
import { freePort, http, run, start, waitFor } from './proc.mjs';

const peersDir = path.resolve(path.dirname(new URL(import.meta.url).pathname),
                              '..', 'peers');

async function onPath(program) {
  return (await run(['sh', '-c', `command -v ${program}`])).code === 0;
}

function packageVersion(name) {
  const file = path.join(peersDir, 'node_modules', name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

// A receiver is ready when a webhook to it is answered with a 2xx.
async function webhookAnswers(port) {
  const r = await http(port, '/webhook', {
    method: 'POST', body: '{"deviceIdentifier":"ready-probe","topic":"probe"}',
    headers: { 'Content-Type': 'application/json' },
  });
  return r.status >= 200 && r.status < 300;
}

// extraToml: more of the config file (a [[forward]] table), after the
// limits.
export function printmeter(binary, { extraToml = '' } = {}) {
  return {
    name: 'printmeter',
    durable: 'yes: the request appended to its journal file (O_DIRECT, fdatasync) ' +
    'before the answer; moved into its SQLite log (WAL, synchronous=FULL) and ' +
    'folded into sessions behind it',
    available: async () => fs.existsSync(binary) || `${binary} does not exist`,
    version: async () => {
      const v = await run([binary, '--version']);
      return (v.stdout || v.stderr).trim() || 'unknown';
    },
    async start(dir) {
      const port = await freePort();
      // Every request of the load is a printer never seen before: lift the
      // self-registration limits, which would otherwise (rightly) refuse
      // the 61st new printer of the hour.
      fs.writeFileSync(`${dir}/printmeter.toml`,
                       'max_devices = 0\nregistrations_per_hour = 0\n' + extraToml);
      const argv = [binary, 'serve', '--auth', 'open', '--listen',
                    `127.0.0.1:${port}`, '--db', `sqlite:${dir}/printmeter.db`,
                    '--config', `${dir}/printmeter.toml`];
      const child = start(argv, { logFile: `${dir}/printmeter.log`, cwd: dir });
      await waitFor('printmeter serve', async () =>
        (await http(port, '/healthz')).status === 200, { child });
      return { child, port, argv, db: `${dir}/printmeter.db` };
    },
  };
}

export const nginx = {
  name: 'nginx',
  durable: 'nothing stored (return 204, access log off): the HTTP ceiling',
  available: async () => (await onPath('nginx')) ||
    'nginx is not installed (Debian nginx-light)',
  version: async () => (await run(['nginx', '-v'])).stderr.trim()
      .replace(/^nginx version: /, ''),
  async start(dir) {
    const port = await freePort();
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      fs.mkdirSync(`${dir}/${d}`, { recursive: true });
    }
    fs.writeFileSync(`${dir}/nginx.conf`, `daemon off;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / { return 204; }
  }
}
`);
    const argv = ['nginx', '-p', `${dir}/`, '-e', `${dir}/error.log`,
                  '-c', `${dir}/nginx.conf`];
    const child = start(argv, { logFile: `${dir}/nginx.out` });
    await waitFor('nginx', () => webhookAnswers(port), { child });
    return { child, port, argv };
  },
};

export const nodeRed = {
  name: 'Node-RED',
  durable: 'no: the file node appends without fsync',
  available: async () =>
    fs.existsSync(path.join(peersDir, 'node_modules/node-red/red.js')) ||
    'node-red is not installed in bench/peers (npm ci there)',
  version: async () => `node-red ${packageVersion('node-red')}, node ${process.version}`,
  async start(dir) {
    const port = await freePort();
    // Node ids are opaque to Node-RED, but one equal to a type name ("file")
    // is taken for a config-node reference: use id-like strings.
    const [tab, httpIn, file, httpOut] = ['f1', 'f2', 'f3', 'f4']
      .map((n) => `bench00000000${n}`);
    fs.writeFileSync(`${dir}/flows.json`, JSON.stringify([
      { id: tab, type: 'tab', label: 'webhook' },
      { id: httpIn, type: 'http in', z: tab, url: '/webhook', method: 'post',
        upload: false, swaggerDoc: '', wires: [[file]] },
      { id: file, type: 'file', z: tab, filename: `${dir}/webhooks.log`,
        filenameType: 'str', appendNewline: true, createDir: false,
        overwriteFile: 'false', encoding: 'none', wires: [[httpOut]] },
      { id: httpOut, type: 'http response', z: tab, statusCode: '',
        headers: {}, wires: [] },
    ], null, 1));
    fs.writeFileSync(`${dir}/settings.js`, `module.exports = {
  uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json',
  credentialSecret: false,
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  diagnostics: { enabled: false, ui: false },
  runtimeState: { enabled: false, ui: false },
  telemetry: { enabled: false },
  editorTheme: { tours: false, projects: { enabled: false } },
};
`);
    const argv = ['node', path.join(peersDir, 'node_modules/node-red/red.js'),
                  '--userDir', dir, '--settings', `${dir}/settings.js`,
                  `${dir}/flows.json`];
    const child = start(argv, { logFile: `${dir}/node-red.log`, cwd: dir });
    await waitFor('Node-RED', () => webhookAnswers(port),
                  { child, timeoutMs: 60000, everyMs: 100 });
    return { child, port, argv };
  },
};

export const sqliteReceiver = {
  name: 'node+better-sqlite3',
  durable: 'yes: SQLite WAL, synchronous=FULL, one commit per request',
  available: async () =>
    fs.existsSync(path.join(peersDir, 'node_modules/better-sqlite3')) ||
    'better-sqlite3 is not installed in bench/peers (npm ci there)',
  version: async () => {
    const v = await run(['node', '-e',
      "const D=require('better-sqlite3');" +
      "console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"],
      { cwd: peersDir });
    return `better-sqlite3 ${packageVersion('better-sqlite3')} (SQLite ` +
           `${v.stdout.trim()}), node ${process.version}`;
  },
  async start(dir) {
    const port = await freePort();
    const argv = ['node', path.join(peersDir, 'sqlite_receiver.mjs'),
                  '--port', String(port), '--db', `${dir}/receiver.db`];
    const child = start(argv, { logFile: `${dir}/receiver.log`, cwd: peersDir });
    await waitFor('node+better-sqlite3', () => webhookAnswers(port),
                  { child });
    return { child, port, argv };
  },
};
