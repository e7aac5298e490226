// The receiver a hobbyist would write: node:http and better-sqlite3, one
// synchronous INSERT per webhook into a WAL database with synchronous=FULL,
// answered once the row is committed. A peer for printmeter's benchmark
// (scripts/bench.sh), not part of printmeter.
//
//   node sqlite_receiver.mjs --port PORT --db FILE
//
// Prints "listening PORT" on stdout when ready. Stops on SIGTERM.
import http from 'node:http';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { values } = parseArgs({
  options: { port: { type: 'string' }, db: { type: 'string' } },
});
if (!values.port || !values.db) {
  console.error('usage: node sqlite_receiver.mjs --port PORT --db FILE');
  process.exit(2);
}

const db = new Database(values.db);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  content_type TEXT,
  body BLOB NOT NULL)`);
const insert = db.prepare(
  'INSERT INTO requests (received_at, content_type, body) VALUES (?, ?, ?)');

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || !req.url.startsWith('/webhook')) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const info = insert.run(Date.now(), req.headers['content-type'] ?? null,
                            Buffer.concat(chunks));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ stored: true, id: Number(info.lastInsertRowid) }));
  });
});

server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`listening ${values.port}`);
});
process.on('SIGTERM', () => server.close(() => { db.close(); process.exit(0); }));
