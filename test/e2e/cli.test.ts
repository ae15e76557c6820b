// The command line a newcomer meets: every command answers --help with its
// flags, and every ordinary mistake is a one-line error (exit status 2 for
// usage), never a Node stack trace.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TSVISOR, rmrf, tempDir } from './harness.js';

function tsv(args: string[]) {
  const r = spawnSync(TSVISOR, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STACK = /\n\s+at /;

/** The commands, as the CLI itself lists them when given an unknown one. */
function commands(): string[] {
  const r = tsv(['no-such-command']);
  expect(r.status).toBe(2);
  const m = /\(commands: ([^)]*)\)/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return m![1]!.split(', ');
}

const UNSUPPORTED = new Set(['checkpoint', 'restore']);

describe('every command', () => {
  const all = commands();

  it('lists the commands users expect', () => {
    for (const c of ['do', 'syscalls', 'create', 'start', 'run', 'exec', 'state', 'kill', 'delete', 'list', 'ps', 'spec']) expect(all).toContain(c);
  });

  it.each(all)('%s --help and -h: its usage and flags on stdout, status 0', (cmd) => {
    for (const flag of ['--help', '-h']) {
      const r = tsv([cmd, flag]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.startsWith(`usage: tsvisor [global flags] ${cmd}`), r.stdout).toBe(true);
      expect(r.stderr).toBe('');
    }
    expect(tsv(['help', cmd]).stdout).toBe(tsv([cmd, '--help']).stdout);
  });

  it.each(all)('%s --no-such-flag: one line naming the flag, the usage, status 2', (cmd) => {
    const r = tsv([cmd, '--no-such-flag', 'x']);
    expect(r.stderr).not.toMatch(STACK);
    if (UNSUPPORTED.has(cmd)) {
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`tsvisor: ${cmd} is not supported by tsvisor\n`);
      return;
    }
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('tsvisor: unknown flag: --no-such-flag');
    expect(lines.at(-1)).toMatch(new RegExp(`^usage: tsvisor \\[global flags\\] ${cmd}`));
  });
});

describe('ordinary mistakes', () => {
  const dir = tempDir('cli');
  afterAll(() => rmrf(dir));

  it('tsvisor --help, -h and help: the overview on stdout, status 0; no command: the overview on stderr, status 2', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = tsv(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: tsvisor \[global flags\] COMMAND/);
      expect(r.stdout).toContain('--debug-log');
    }
    const r = tsv([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tsvisor: a command is needed\nusage: tsvisor/);
  });

  it.each([
    { what: 'a global flag after the command', args: ['do', '--debug', '--', 'true'], first: 'tsvisor: unknown flag: --debug', hint: '--debug is a global flag: put it before the command (tsvisor --debug do ...)' },
    { what: "--root before do (the state directory, not the sandbox's root)", args: ['--root', '/tmp', 'do', '--', 'true'], first: 'tsvisor: --root before "do" names the OCI state directory', hint: 'tsvisor do --root /tmp -- COMMAND' },
    { what: '--coverage-dir before do (a container flag)', args: ['--coverage-dir', '/tmp', 'do', '--', 'true'], first: 'tsvisor: --coverage-dir is for containers (create, run)', hint: 'tsvisor coverage --json FILE -- COMMAND' },
    { what: '--env without a name', args: ['do', '--env', '=bar', '--', 'true'], first: 'tsvisor: --env =bar: expected KEY=VALUE' },
    { what: '--log in a missing directory', args: ['--log', '/nonexistent-dir/x.log', 'do', '--', 'true'], first: 'tsvisor: --log /nonexistent-dir/x.log: cannot write there: its directory does not exist' },
    { what: '--debug-log naming a directory without the slash', args: ['--debug-log', '/tmp', 'do', '--', 'true'], first: "tsvisor: --debug-log /tmp: cannot write there: a directory (end it with '/'" },
    { what: 'a bad --log-format', args: ['--log-format', 'xml', 'list'], first: 'tsvisor: flag --log-format: "xml" is not one of text, json' },
    { what: 'a value missing', args: ['do', '--root'], first: 'tsvisor: flag --root needs a value' },
    { what: 'a command missing after do', args: ['do'], first: 'tsvisor: wrong number of arguments' },
    { what: 'too many arguments', args: ['state', 'a', 'b'], first: 'tsvisor: wrong number of arguments' },
    { what: 'a bad size', args: ['do', '--memory', 'lots', '--', 'true'], first: 'tsvisor: --memory lots: expected a size such as 512m or 2g' },
  ])('$what: a clear message, status 2, no stack trace', ({ args, first, hint }) => {
    const r = tsv(args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr.startsWith(first), r.stderr).toBe(true);
    if (hint) expect(r.stderr).toContain(hint);
  });

  it.each([
    { what: 'spec --bundle of a missing directory', args: ['spec', '--bundle', '/nonexistent-bundle'] },
    { what: 'spec --bundle of a file', args: ['spec', '--bundle', '/etc/hostname/nonexistent-bundle'] },
  ])('$what: a one-line error naming the path, status 1, no stack trace', ({ args }) => {
    const r = tsv(args);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/nonexistent-');
  });

  it('do --root of a missing directory: a one-line error', () => {
    const r = tsv(['do', '--root', '/nonexistent-root', '--', 'true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toBe('tsvisor: --root /nonexistent-root: no such directory\n');
  });

  it("--debug-log DIR/ (as runsc takes it): a file per command in DIR, made if missing", () => {
    const logs = path.join(dir, 'logs', 'deeper') + '/';
    const r = tsv(['--debug-log', logs, 'do', '--', 'true']);
    expect(r.status, r.stderr).toBe(0);
    const files = fs.readdirSync(logs);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^tsvisor\.log\.\d{8}T\d{6}\.\d+\.do\.txt$/);
  });

  it('%COMMAND% in a log file name is the command', () => {
    const r = tsv(['--log', path.join(dir, 'x.%COMMAND%.log'), 'list']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, 'x.list.log'))).toBe(true);
  });

  it('arguments after -- belong to the guest, --help included', () => {
    const r = tsv(['do', '--', '/bin/sh', '-c', 'echo "$@"', 'sh', '--help', '-h']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('--help -h\n');
  });
});
