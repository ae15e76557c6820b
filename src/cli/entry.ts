// tsvisor's command-line entry point (bin/tsvisor runs its bundle): runs
// main() on the process's arguments. Kept apart from main.ts so that the
// commands' modules can be imported (the runSandboxed API, test harnesses)
// without running a command. The code caches come first: every module after
// them is compiled with its cache.
import '../code-cache.js';
import { fatal, main } from './main.js';

// The event loop ran dry with the command unfinished: nothing is left that
// could finish it (a sandbox whose every event source closed). Never let
// Node's exit status 0 stand for that.
process.on('beforeExit', () => fatal('internal error: the command stopped waiting before it finished'));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => fatal(e instanceof Error ? (e.stack ?? e.message) : String(e)),
);
