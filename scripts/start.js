#!/usr/bin/env node
// The launcher behind every `npm start*` script:
//
//   node scripts/start.js [--no-build] [--production] [app …]      apps: billing, bff, cache-sync
//
// `npm start` (no app): the BFF (HTTP + relay + CDC subscriber) and the billing service its
// invoices domain calls. It first builds what it runs (`nest build bff` / `billing`) unless
// --no-build or CACHEGATE_SKIP_BUILD=1 (dist as it is); --production sets NODE_ENV=production
// and never builds. The apps run as child processes with one lifetime: SIGINT (Ctrl-C), SIGTERM
// or SIGHUP stops the build or every app gracefully and exits 0 once all are gone (SIGKILL
// after 10 s, exit 1); if an app exits by itself, the others are stopped and its code is returned.
//
// package.json runs it with `exec`: npm forwards SIGINT/SIGTERM to its child, and a shell there
// (`sh -c`, which does not exec its last command) would die of SIGTERM, or ignore SIGINT while it
// waits, and leave the apps running.
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// The CDC apps run with a 64 MB young generation (V8's default is 16 MB): draining a bulk change
// allocates hundreds of MB of short-lived strings (outbox rows, envelopes, keys), and fewer scavenges
// cut the BFF's CPU for a 100,000-row drain by about 10% (docs/decisions.md). bench/servers.ts and
// docker-compose.yml start them the same way.
const CDC_NODE_FLAGS = ['--max-semi-space-size=64'];
const APPS = {
  billing: { project: 'billing', entry: 'dist/apps/billing/src/main.js', flags: [] },
  bff: { project: 'bff', entry: 'dist/apps/bff/src/main.js', flags: CDC_NODE_FLAGS },
  'cache-sync': { project: 'bff', entry: 'dist/apps/bff/src/cache-sync.main.js', flags: CDC_NODE_FLAGS },
};
const OPTIONS = ['--no-build', '--production'];
const STOP_TIMEOUT_MS = 10_000;

const args = process.argv.slice(2);
for (const arg of args) {
  if (arg.startsWith('--') ? !OPTIONS.includes(arg) : !(arg in APPS)) {
    process.stderr.write(
      `start.js: unknown ${arg.startsWith('--') ? 'option' : 'app'} ${arg}; ` +
        `usage: node scripts/start.js [${OPTIONS.join('] [')}] [${Object.keys(APPS).join(' | ')} …]\n`,
    );
    process.exit(2);
  }
}
const named = args.filter((a) => !a.startsWith('--'));
const selected = named.length > 0 ? [...new Set(named)] : ['billing', 'bff'];
const production = args.includes('--production');
const build =
  !production && !args.includes('--no-build') && !/^(1|true)$/i.test(process.env.CACHEGATE_SKIP_BUILD ?? '');
const env = production ? { ...process.env, NODE_ENV: 'production' } : process.env;

let stopping = false;
let exitCode = 0;
/** What runs now: a build, then the apps. */
const children = new Set();

function run(argv, onExit) {
  // Each child leads its own process group (detached), so a Ctrl-C in the terminal reaches this
  // launcher and not the apps: they get exactly one SIGTERM from it. A second signal would cut
  // Nest's graceful shutdown short (it stops listening for signals once the first arrives).
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.add(child);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (stopping) {
      if (children.size === 0) process.exit(exitCode);
    } else {
      onExit(code, signal);
    }
  });
  return child;
}

/** The whole group: whatever a child started goes with it. */
function signal(child, name) {
  try {
    process.kill(-child.pid, name);
  } catch {
    // already gone
  }
}

function buildThenStart() {
  const projects = [...new Set(selected.map((app) => APPS[app].project))];
  const nest = require.resolve('@nestjs/cli/bin/nest.js', { paths: [root] });
  const next = () => {
    const project = projects.shift();
    if (project === undefined) return startApps();
    process.stderr.write(`> nest build ${project}\n`);
    run([nest, 'build', project], (code, sig) => {
      if (code !== 0) {
        process.stderr.write(`nest build ${project} failed (${sig ?? code}); not starting\n`);
        process.exit(code || 1);
      }
      next();
    });
  };
  next();
}

function startApps() {
  for (const app of selected) {
    run([...APPS[app].flags, path.join(root, APPS[app].entry)], (code, sig) => {
      const others = children.size > 0 ? '; stopping the others' : '';
      process.stderr.write(`${app} exited (${sig ?? code})${others}\n`);
      stop(code || 1);
    });
  }
}

function stop(code) {
  if (stopping) return; // npm forwards a Ctrl-C that the terminal sent here as well
  stopping = true;
  exitCode = code;
  if (children.size === 0) process.exit(exitCode);
  for (const child of children) signal(child, 'SIGTERM');
  setTimeout(() => {
    process.stderr.write(`still running ${STOP_TIMEOUT_MS} ms after SIGTERM; killing them\n`);
    for (const child of children) signal(child, 'SIGKILL');
    process.exit(1);
  }, STOP_TIMEOUT_MS).unref();
}

for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(name, () => stop(0));

if (build) buildThenStart();
else startApps();
