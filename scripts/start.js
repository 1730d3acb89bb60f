#!/usr/bin/env node
// `npm start`: the BFF (HTTP + relay + CDC subscriber) and the billing service its
// invoices domain calls, as two processes with one lifetime. Ctrl-C (or SIGTERM)
// stops both gracefully; if either exits, the other is stopped too.
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const apps = [
  { name: 'billing', entry: 'dist/apps/billing/src/main.js' },
  { name: 'bff', entry: 'dist/apps/bff/src/main.js' },
];

let stopping = false;
const children = apps.map(({ name, entry }) => {
  const child = spawn(process.execPath, [path.join(root, entry)], { cwd: root, stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${signal ?? code}); stopping the others\n`);
      stop(code || 1);
    }
  });
  return child;
});

function stop(exitCode) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  let pending = children.filter((c) => c.exitCode === null).length;
  if (pending === 0) process.exit(exitCode);
  for (const child of children) child.once('exit', () => --pending === 0 && process.exit(exitCode));
  setTimeout(() => process.exit(exitCode), 10_000).unref();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
