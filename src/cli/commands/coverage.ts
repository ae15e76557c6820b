// tsvisor coverage: run a command in a sandbox, as `tsvisor do` does, and
// report every system call it made (passthrough, emulated and denied ones),
// with its results, per process and per executable (src/coverage/).
import fs from 'node:fs';
import { type FlagSpec, UsageError, parseFlags, wrongArguments } from '../flags.js';
import { type Command, checkSyscallNames, fatal, version } from '../main.js';
import { DO_FLAGS, runInSandbox } from './do.js';
import type { Report } from '../../coverage/schema.js';
import type { ProfileRuntime } from '../../coverage/seccomp-profile.js';
import type { LinuxSeccomp } from '../../oci/spec.js';

const PROFILE_RUNTIMES: readonly ProfileRuntime[] = ['runc', 'tsvisor', 'none'];

const OUTPUTS = ['json', 'html', 'markdown', 'seccomp-profile'] as const;

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * The profile --audit names: a seccomp profile (Docker's format too, its
 * conditional entries applied for `caps`), or a config.json's linux.seccomp.
 * Returns the profile and how to name it in the audit.
 */
async function readProfile(file: string, caps: string[] | undefined): Promise<{ profile: LinuxSeccomp; where: string }> {
  const [{ SpecError, parseSeccompProfile }, { DOCKER_DEFAULT_CAPS, applyDockerConditions, hasDockerConditions }] = await Promise.all([
    import('../../oci/spec.js'),
    import('../../coverage/docker-profile.js'),
  ]);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fatal(`--audit ${file}: ${e instanceof SyntaxError ? `not JSON: ${e.message}` : errorCode(e)}`);
  }
  const fromConfig = (raw as { linux?: { seccomp?: unknown } } | null)?.linux?.seccomp;
  let where = fromConfig ? `${file} linux.seccomp` : file;
  if (!fromConfig && hasDockerConditions(raw)) {
    raw = applyDockerConditions(raw, caps ?? DOCKER_DEFAULT_CAPS);
    where += ` (its conditional entries applied as Docker does, for ${caps ? `capabilities ${caps.join(',') || 'none'}` : 'Docker\'s default capabilities'})`;
  }
  try {
    return { profile: parseSeccompProfile(fromConfig ?? raw, `--audit ${file}${fromConfig ? ' linux.seccomp' : ''}`), where };
  } catch (e) {
    if (e instanceof SpecError) fatal(e.message);
    throw e;
  }
}

const FLAGS: readonly FlagSpec[] = [
  { name: 'json', type: 'string', help: 'also write the report as JSON to FILE (schema: docs/coverage-schema.md)' },
  { name: 'html', type: 'string', help: 'also write the report as one self-contained HTML page to FILE (charts, verdicts, every table)' },
  { name: 'markdown', type: 'string', help: 'also write the report as Markdown for a pull-request comment to FILE' },
  { name: 'seccomp-profile', type: 'string', help: 'also write an OCI seccomp profile allowing exactly the calls made (and their argument classes) to FILE, for docker --security-opt seccomp=FILE or runc' },
  { name: 'seccomp-runtime', type: 'string', choices: PROFILE_RUNTIMES, help: 'the runtime the profile is for: its own calls between loading the profile and executing the program are added (runc, also under Docker; tsvisor: only the exec; none) [runc]' },
  { name: 'audit', type: 'string', help: 'check every call made against the seccomp profile in FILE (a profile, or an OCI config.json with linux.seccomp) and report those it would have refused; nothing is refused' },
  { name: 'audit-caps', type: 'string', help: 'for a Docker-format --audit profile: the container\'s capabilities its per-capability entries are applied for, comma-separated (default: Docker\'s default set)' },
  { name: 'quiet', type: 'bool', help: 'no terminal summary' },
  { name: 'strace', type: 'bool', help: 'log every call of every guest thread as it happens (passthrough ones too), one line each with decoded arguments, fd paths and the result (as the global --strace)' },
  { name: 'strace-syscalls', type: 'string', help: 'with --strace: only these calls, comma-separated names (e.g. openat,read,close)' },
  ...DO_FLAGS,
];

export const coverageCommand: Command = {
  summary: 'run a command in a sandbox and report every system call it made (as tsvisor do; needs root for eBPF)',
  usage: 'coverage [flags] -- COMMAND [ARGS...]   (to compare two reports: coverage diff --help)',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, FLAGS, true);
    if (rest.length === 0) throw wrongArguments();
    const straceNames = (flags['strace-syscalls'] ?? globals['strace-syscalls']) as string | undefined;
    const strace = Boolean(flags.strace ?? globals.strace);
    if (straceNames !== undefined && !strace) throw new UsageError('--strace-syscalls goes with --strace');
    const filter = straceNames === undefined ? null : await checkSyscallNames(straceNames);
    // Output files are opened, and the audited profile read, before the run, so a bad name costs nothing.
    const fds = new Map<(typeof OUTPUTS)[number], { file: string; fd: number }>();
    for (const name of OUTPUTS) {
      const file = flags[name] as string | undefined;
      if (file === undefined) continue;
      if (file === '') throw new UsageError(`--${name} needs a file name`);
      try {
        fds.set(name, { file, fd: fs.openSync(file, 'w') });
      } catch (e) {
        fatal(`--${name} ${file}: ${errorCode(e)}`);
      }
    }
    if (flags['seccomp-runtime'] !== undefined && flags['seccomp-profile'] === undefined) throw new UsageError('--seccomp-runtime goes with --seccomp-profile');
    const auditFile = flags.audit as string | undefined;
    if (auditFile === '') throw new UsageError('--audit needs a file name');
    const capsFlag = flags['audit-caps'] as string | undefined;
    if (capsFlag !== undefined && auditFile === undefined) throw new UsageError('--audit-caps goes with --audit');
    const caps = capsFlag?.split(',').map((c) => c.trim().toUpperCase()).filter(Boolean).map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`));
    const audited = auditFile === undefined ? undefined : await readProfile(auditFile, caps);
    const [{ Collector, CoverageError }, { buildReport, formatReport }] = await Promise.all([
      import('../../coverage/collector.js'),
      import('../../coverage/report.js'),
    ]);
    let collector;
    try {
      collector = new Collector(strace ? { filter } : undefined);
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
    const { rows, full, strace: traced } = collector.finish();
    if (traced?.lost) fs.writeSync(2, `tsvisor: ${(await import('../../coverage/strace-records.js')).lostRecords(traced.lost)}\n`);
    const report = buildReport(rest, status, rows, collector.processes, full, await version());
    if (audited) report.audit = (await import('../../coverage/audit.js')).audit(report, audited.profile, audited.where);
    if (!flags.quiet) fs.writeSync(2, formatReport(report));
    if (report.audit) fs.writeSync(2, (await import('../../coverage/audit.js')).formatAudit(report.audit));
    for (const [name, { file, fd }] of fds) {
      try {
        fs.writeFileSync(fd, await render(name, report, (flags['seccomp-runtime'] as ProfileRuntime | undefined) ?? 'runc'));
        fs.closeSync(fd);
      } catch (e) {
        fatal(`--${name} ${file}: ${errorCode(e)}`);
      }
    }
    return status;
  },
};

async function render(name: (typeof OUTPUTS)[number], report: Report, runtime: ProfileRuntime): Promise<string> {
  switch (name) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'html':
      return (await import('../../coverage/html.js')).renderHtml(report);
    case 'markdown':
      return (await import('../../coverage/markdown.js')).renderMarkdown(report);
    case 'seccomp-profile': {
      const { profile, unnamed } = (await import('../../coverage/seccomp-profile.js')).seccompProfile(report, runtime);
      if (unnamed.length) fs.writeSync(2, `tsvisor: --seccomp-profile: ${unnamed.join(', ')} cannot be named in a profile (not Linux x86_64 calls): left to its default action\n`);
      return `${JSON.stringify(profile, null, 2)}\n`;
    }
  }
}
