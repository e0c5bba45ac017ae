// bench/pouch/push.js - the PouchDB figure of bench case 3: a tablet's
// local PouchDB holds the records of a gen_cards.py file (loaded first, not
// timed, as minqing's tablet imports offline before it syncs), then
// replicates them to express-pouchdb (server.js, a separate process, as
// minqing-server is) over loopback.  The replication is timed, with
// PouchDB's default batch settings.  Prints one JSON object.
//
//   node push.js DATA.jsonl WORKDIR
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');
const PouchDB = require('pouchdb');

async function load(db, file) {
  const rl = readline.createInterface({ input: fs.createReadStream(file) });
  let batch = [];
  let n = 0;
  for await (const line of rl) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    batch.push({ _id: r.id, type: r.type, fields: r.fields });
    if (batch.length === 2000) {
      await db.bulkDocs(batch);
      n += batch.length;
      batch = [];
    }
  }
  if (batch.length) {
    await db.bulkDocs(batch);
    n += batch.length;
  }
  return n;
}

function startServer(dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'server.js'), dir],
                        { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error('server exited with ' + code)));
  });
}

async function main() {
  const [file, work] = process.argv.slice(2);
  if (!file || !work) {
    console.error('usage: node push.js DATA.jsonl WORKDIR');
    process.exit(2);
  }
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'srv'), { recursive: true });
  const local = new PouchDB(path.join(work, 'tablet'));
  const docs = await load(local, file);
  const { child, port } = await startServer(path.join(work, 'srv'));
  const remote = new PouchDB('http://127.0.0.1:' + port + '/township');
  await remote.info();
  const t0 = process.hrtime.bigint();
  const res = await PouchDB.replicate(local, remote);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const info = await remote.info();
  child.kill('SIGTERM');
  console.log(JSON.stringify({ seconds, docs, written: res.docs_written,
                               remote_docs: info.doc_count, ok: res.ok }));
  await local.close();
}

main().catch((e) => {
  console.error('push.js: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
