// Builds the collection for the CLIs, which require JavaScript: compiles src/ to
// dist/ and copies what tsc leaves behind (collection.json, schemas, templates).
// `npm run build:schematics`; `npm ci` runs it through the `prepare` script.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const src = path.join(__dirname, 'src');
const dist = path.join(__dirname, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(__dirname, 'tsconfig.json')], {
    stdio: 'inherit',
  });
} catch (err) {
  // tsc has printed its diagnostics.
  process.exit(err.status ?? 1);
}
fs.cpSync(src, dist, {
  recursive: true,
  // Directories are walked; of the files, only those tsc does not compile are copied.
  filter: (from) => fs.statSync(from).isDirectory() || !from.endsWith('.ts'),
});
