// bench/pouch/server.js - express-pouchdb on 127.0.0.1, its databases in
// DIR (LevelDB, PouchDB's default in Node).  Prints "port N" once listening.
//
//   node server.js DIR
'use strict';
const path = require('path');
const express = require('express');
const PouchDB = require('pouchdb');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node server.js DIR');
  process.exit(2);
}
const Local = PouchDB.defaults({ prefix: path.join(dir, '') });
const app = express();
app.use('/', require('express-pouchdb')(Local, { mode: 'minimumForPouchDB', logPath: path.join(dir, 'log.txt') }));
const srv = app.listen(0, '127.0.0.1', () => {
  console.log('port ' + srv.address().port);
});
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
