// tsvisor coverage: run a command in a sandbox, as `tsvisor do` does, and
// report every system call it made (passthrough, emulated and denied ones),
// with its results, per process and per executable (src/coverage/).
import fs from 'node:fs';
import { type FlagSpec, UsageError, parseFlags, wrongArguments } from '../flags.js';
import { type Command, fatal, version } from '../main.js';
import { DO_FLAGS, runInSandbox } from './do.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'json', type: 'string', help: 'also write the report as JSON to FILE (schema: docs/coverage-schema.md)' },
  { name: 'quiet', type: 'bool', help: 'no terminal summary' },
  ...DO_FLAGS,
];

export const coverageCommand: Command = {
  summary: 'run a command in a sandbox and report every system call it made (as tsvisor do; needs root for eBPF)',
  usage: 'coverage [flags] -- COMMAND [ARGS...]   (to compare two reports: coverage diff --help)',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, FLAGS, true);
    if (rest.length === 0) throw wrongArguments();
    const json = flags.json as string | undefined;
    if (json === '') throw new UsageError('--json needs a file name');
    // Opened before the run, so a bad name costs nothing.
    let jsonFd = -1;
    if (json !== undefined) {
      try {
        jsonFd = fs.openSync(json, 'w');
      } catch (e) {
        fatal(`--json ${json}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const [{ Collector, CoverageError }, { buildReport, formatReport }] = await Promise.all([
      import('../../coverage/collector.js'),
      import('../../coverage/report.js'),
    ]);
    let collector;
    try {
      collector = new Collector();
    } catch (e) {
      if (e instanceof CoverageError) fatal(e.message);
      throw e;
    }
    let status: number;
    try {
      status = await runInSandbox(globals, flags, rest, collector);
    } catch (e) {
      if (e instanceof CoverageError) fatal(e.message);
      throw e;
    }
    const { rows, full } = collector.finish();
    const report = buildReport(rest, status, rows, collector.processes, full, await version());
    if (!flags.quiet) fs.writeSync(2, formatReport(report));
    if (jsonFd >= 0) {
      try {
        fs.writeFileSync(jsonFd, `${JSON.stringify(report, null, 2)}\n`);
        fs.closeSync(jsonFd);
      } catch (e) {
        fatal(`--json ${json}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    return status;
  },
};
