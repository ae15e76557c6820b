// tsvisor test: run a test suite contained (the host read-only, writes kept
// in memory, /tmp private, loopback-only network, secrets hidden, limits)
// and report what it touched (docs/testrun.md). The status is the suite's.
import fs from 'node:fs';
import path from 'node:path';
import { type FlagSpec, UsageError, parseFlags, wrongArguments } from '../flags.js';
import type { Command } from '../main.js';
import { DO_FLAGS } from './do.js';

const doFlag = (name: string): FlagSpec => DO_FLAGS.find((f) => f.name === name)!;

const FLAGS: readonly FlagSpec[] = [
  { name: 'network', type: 'string', choices: ['none', 'loopback', 'host'], help: "loopback: a network of the sandbox's own with only loopback (default; a local server on 127.0.0.1 works); none: no interface; host: the host's network" },
  { name: 'allow-write', type: 'list', help: 'a host path written through (a read-write bind mount; repeatable), e.g. coverage/' },
  { name: 'tmp', type: 'string', choices: ['private', 'host'], help: "private: an empty /tmp of the sandbox's own (default); host: the host's /tmp, its writes in memory (the default when the working directory or an --allow-write path lies in /tmp)" },
  { name: 'hide', type: 'list', help: 'hide a path too: reads give ENOENT and are reported (repeatable)' },
  { name: 'show', type: 'list', help: 'show a path hidden by default (repeatable; the list: docs/testrun.md "Hidden by default")' },
  { name: 'timeout', type: 'string', help: 'wall time, e.g. 90s, 10m, 2h (default 1h; 0: none); past it the sandbox is killed and the status is 124' },
  { name: 'report', type: 'string', help: 'write report.json, report.html and report.md to DIR (made if missing)' },
  { name: 'export-writes', type: 'string', help: "write the changes kept in memory below the working directory to FILE: FILE.patch (git apply, patch -p1) or FILE.tar (an OCI layer: .wh. whiteouts)" },
  { name: 'fail-on', type: 'list', help: 'comma-separated: writes-outside-allowed, network, secrets, denials, leaked-processes (or all); a passing suite then exits with 120 when one occurred' },
  { name: 'syscalls', type: 'bool', help: 'a syscall summary from the coverage layer (default: on where it can run, as root; --no-syscalls: off)' },
  { name: 'quiet', type: 'bool', help: 'no summary on stderr' },
  doFlag('memory'),
  doFlag('pids'),
  doFlag('overlay-size'),
  doFlag('env'),
];

const REPORT_FILES = ['report.json', 'report.html', 'report.md'] as const;

export const testCommand: Command = {
  summary: 'run a test suite in a sandbox (host read-only, writes in memory, no network out, secrets hidden) and report what it touched',
  usage: 'test [flags] -- COMMAND [ARGS...]',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, FLAGS, true);
    if (rest.length === 0) throw wrongArguments();
    const [{ runTest, TestRunError, parseDuration }, { parseFailOn, FailOnError }] = await Promise.all([import('../../testrun/run.js'), import('../../testrun/fail-on.js')]);
    const failOn = (flags['fail-on'] as string[] | undefined) ?? [];
    try {
      parseFailOn(failOn);
    } catch (e) {
      if (e instanceof FailOnError) throw new UsageError(e.message);
      throw e;
    }
    let timeoutMs: number | undefined;
    if (flags.timeout !== undefined) {
      const t = parseDuration(flags.timeout as string);
      if (t === null) throw new UsageError(`--timeout ${flags.timeout}: expected a duration such as 90s, 10m or 2h (0: none)`);
      timeoutMs = t;
    }
    const env: Record<string, string> = {};
    for (const e of (flags.env as string[] | undefined) ?? []) {
      const i = e.indexOf('=');
      if (i <= 0) throw new UsageError(`--env ${e}: expected KEY=VALUE`);
      env[e.slice(0, i)] = e.slice(i + 1);
    }
    // The report's directory is made, and each file opened, before the run: a bad name costs nothing.
    const dir = flags.report as string | undefined;
    const fds = new Map<(typeof REPORT_FILES)[number], number>();
    if (dir !== undefined) {
      if (dir === '') throw new UsageError('--report needs a directory');
      fs.mkdirSync(dir, { recursive: true });
      for (const f of REPORT_FILES) fds.set(f, fs.openSync(path.join(dir, f), 'w'));
    }
    let result;
    try {
      result = await runTest(
        {
          command: rest,
          env,
          ...(flags.network !== undefined ? { network: flags.network as 'none' | 'loopback' | 'host' } : {}),
          allowWrite: (flags['allow-write'] as string[] | undefined) ?? [],
          hide: (flags.hide as string[] | undefined) ?? [],
          show: (flags.show as string[] | undefined) ?? [],
          ...(flags.tmp !== undefined ? { tmp: flags.tmp as 'private' | 'host' } : {}),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          ...(flags.memory !== undefined ? { memory: flags.memory as string } : {}),
          ...(flags.pids !== undefined ? { pids: flags.pids as string } : {}),
          ...(flags['overlay-size'] !== undefined ? { overlaySize: flags['overlay-size'] as string } : {}),
          failOn,
          ...(flags['export-writes'] !== undefined ? { exportWrites: flags['export-writes'] as string } : {}),
          ...(flags.syscalls !== undefined ? { syscalls: flags.syscalls as boolean } : {}),
        },
        globals,
      );
    } catch (e) {
      if (e instanceof TestRunError) throw new UsageError(e.message);
      throw e;
    }
    const { report } = result;
    const [{ formatSummary, formatAnnotations }, { renderMarkdown }, { renderHtml }] = await Promise.all([
      import('../../testrun/summary.js'),
      import('../../testrun/markdown.js'),
      import('../../testrun/html.js'),
    ]);
    for (const [f, fd] of fds) {
      fs.writeFileSync(fd, f === 'report.json' ? `${JSON.stringify(report, null, 2)}\n` : f === 'report.html' ? renderHtml(report) : renderMarkdown(report));
      fs.closeSync(fd);
    }
    if (!flags.quiet) fs.writeSync(2, formatSummary(report));
    const x = report.writes.exported;
    if (x) {
      fs.writeSync(2, `tsvisor test: ${x.changes} change${x.changes === 1 ? '' : 's'} exported to ${x.file} (${x.format})${x.outside ? `; ${x.outside} outside the working directory not exported` : ''}\n`);
      for (const l of x.left.slice(0, 10)) fs.writeSync(2, `  not in the ${x.format}: ${l.path}: ${l.why}\n`);
      if (x.left.length > 10) fs.writeSync(2, `  ... ${x.left.length - 10} more in report.json\n`);
    }
    if (process.env.GITHUB_ACTIONS === 'true') fs.writeSync(1, formatAnnotations(report));
    return result.status;
  },
};
