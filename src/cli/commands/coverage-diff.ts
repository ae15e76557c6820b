// tsvisor coverage diff OLD.json NEW.json: what changed between two coverage
// reports; exit status 1 when the new run uses something the old one did not
// that gVisor or tsvisor does not fully support (src/coverage/diff.ts).
import fs from 'node:fs';
import { diffReports, formatDiff } from '../../coverage/diff.js';
import { type Report, validateReport } from '../../coverage/schema.js';
import { type FlagSpec, UsageError, parseFlags, wrongArguments } from '../flags.js';
import type { Command } from '../main.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'threshold', type: 'string', help: 'a count changed beyond noise: by more than this percentage of the larger count (default 10)...' },
  { name: 'min-calls', type: 'string', help: '...and by more than this many calls (default 3)' },
  { name: 'allow-partial', type: 'bool', help: 'fail only on new calls that gVisor or tsvisor does not support at all, not on partially supported ones' },
  { name: 'json', type: 'bool', help: 'print the difference as JSON' },
];

function number(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--${flag} ${JSON.stringify(v)}: a non-negative number`);
  return Number(v);
}

function load(file: string): Report {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`${file}: not JSON`);
  }
  const problems = validateReport(v);
  if (problems.length) throw new UsageError(`${file}: not a coverage report (docs/coverage-schema.md): ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; ${problems.length - 3} more` : ''}`);
  return v as Report;
}

export const coverageDiffCommand: Command = {
  summary: 'compare two coverage reports (tsvisor coverage --json): calls and argument classes added or gone, counts changed beyond noise, new calls gVisor does not fully support; exit status 1 when the new run uses something the old one did not that gVisor or tsvisor does not fully support',
  usage: 'coverage diff [flags] OLD.json NEW.json',
  async run(_globals, argv) {
    const { flags, rest } = parseFlags(argv, FLAGS, false);
    if (rest.length !== 2) throw wrongArguments();
    const opts = {
      relative: number('threshold', flags.threshold as string | undefined, 10) / 100,
      absolute: number('min-calls', flags['min-calls'] as string | undefined, 3),
      allowPartial: flags['allow-partial'] === true,
    };
    const d = diffReports(load(rest[0]!), load(rest[1]!), opts);
    fs.writeSync(1, flags.json ? `${JSON.stringify(d, null, 2)}\n` : formatDiff(d));
    return d.gate.length ? 1 : 0;
  },
};
