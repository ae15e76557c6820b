#!/usr/bin/env node
// Test harness for the Sentry's access events (src/sentry/spec.ts
// AccessEvents): runs `-- CMD ARGS` as `tsvisor do` would, with an observer
// that writes every event as one JSON line to the file named by --events.
// Flags before `--`: --events FILE, --hide PATH (repeatable), --channel PATH,
// --no-loopback (with --network none), --rss FILE (writes the driver's, so the
// Sentry's, peak RSS in kB there at the end), --writes FILE (the overlay's
// changes after the run, src/testrun/writes.ts, as JSON), --export-writes FILE
// (repeatable: a .patch or .tar of the changes below the sandbox's cwd, with
// --writes's JSON of each export's result), and any of do's flags. Exits with
// the guest's status.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src');
const { runInSandbox } = await import(path.join(dist, 'cli/commands/do.js'));
const { parseFlags } = await import(path.join(dist, 'cli/flags.js'));
const { DO_FLAGS } = await import(path.join(dist, 'cli/commands/do.js'));
const { collectWrites } = await import(path.join(dist, 'testrun/writes.js'));

const argv = process.argv.slice(2);
const own = { events: null, hide: [], channel: undefined, loopback: true, rss: null, writes: null, exports: [] };
const rest = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--') {
    rest.push(...argv.slice(i));
    break;
  }
  if (a === '--events') own.events = argv[++i];
  else if (a === '--hide') own.hide.push(argv[++i]);
  else if (a === '--channel') own.channel = argv[++i];
  else if (a === '--no-loopback') own.loopback = false;
  else if (a === '--rss') own.rss = argv[++i];
  else if (a === '--writes') own.writes = argv[++i];
  else if (a === '--export-writes') own.exports.push(argv[++i]);
  else rest.push(a);
}
if (!own.events) throw new Error('access-driver: --events FILE is required');
const out = fs.openSync(own.events, 'w');
const emit = (kind) => (...args) => fs.writeSync(out, `${JSON.stringify({ kind, args })}\n`);
const access = {
  onFileAccess: emit('file'),
  onNetwork: emit('network'),
  onDenied: emit('denied'),
  onTestMarker: emit('marker'),
  onProcessStart: emit('start'),
  onProcessExec: emit('exec'),
  onProcessExit: emit('exit'),
  onCommandExit: emit('command-exit'),
};
const { flags, rest: cmd } = parseFlags(rest, DO_FLAGS, true);
const afterRun = (kernel) => {
  if (!own.writes) return;
  const writes = collectWrites(kernel);
  const exports = own.exports.map((file) => writes?.export(file, kernel.spec.cwd));
  fs.writeFileSync(own.writes, JSON.stringify({ changes: writes?.changes ?? null, exports }));
};
let status;
try {
  status = await runInSandbox({}, flags, cmd, undefined, { access, hidden: own.hide, testChannel: own.channel, loopback: own.loopback, afterRun });
} catch (e) {
  // A sandbox that could not run (RuntimeError, status 125): reported as tsvisor's main() reports it.
  if (typeof e?.exitStatus !== 'number') throw e;
  fs.writeSync(2, `tsvisor: ${e.message}\n`);
  process.exit(e.exitStatus);
}
fs.closeSync(out);
if (own.rss) fs.writeFileSync(own.rss, String(process.resourceUsage().maxRSS));
process.exit(status);
