// Syscall coverage for OCI containers: with the global flag --coverage-dir
// (a runtime's `runtimeArgs` in Docker's daemon.json), each container's
// sandbox process collects what `tsvisor coverage` collects (src/coverage/)
// and writes the report, as JSON, to DIR/<container id>.json when the
// container's init has exited. The directory is the operator's choice, made
// on the runtime's command line; nothing in the container's spec (which its
// user writes) can name it. With the global --strace (and --strace-syscalls)
// the collector prints every call of the container's processes, passthrough
// ones too, to the sandbox's log (--log, else --debug-log), as
// `tsvisor coverage --strace` does; the Sentry's own strace is then off.
import fs from 'node:fs';
import path from 'node:path';
import type { FlagValues } from '../cli/flags.js';
import type { Collector } from '../coverage/collector.js';
import type { Logger } from '../log.js';
import type { GuestEvents } from '../sentry/spec.js';
import { RuntimeError } from './runtime.js';

export interface ContainerCoverage {
  events: GuestEvents;
  /** Whether every call is printed (--strace): the Sentry's own strace is then off and the log logs at info level. */
  readonly traces: boolean;
  /** each guest process before it runs (the Sentry's spec.onGuestProcess); `log` gets --strace's lines */
  onGuestProcess(hostPid: number, log: Logger): void;
  /** Writes the report of the container whose init exited with `status`; returns the file, or throws. */
  write(status: number): string;
}

/**
 * Sets coverage up for container `id` when --coverage-dir asks for it:
 * the directory is made if missing and must be writable, and the eBPF maps
 * are created now, so that a mistake fails the create, not the container's end.
 */
export async function containerCoverage(globals: FlagValues, id: string, command: string[]): Promise<ContainerCoverage | undefined> {
  const given = globals['coverage-dir'] as string | undefined;
  if (given === undefined) return undefined;
  if (given === '') throw new RuntimeError('--coverage-dir needs a directory');
  const dir = path.resolve(given);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RuntimeError(`--coverage-dir ${given}: ${code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : code ?? (e as Error).message}`);
  }
  const [{ Collector, CoverageError, LAUNCHER_EXE }, { buildReport }, { checkSyscallNames, version }, { lostRecords }] = await Promise.all([
    import('../coverage/collector.js'),
    import('../coverage/report.js'),
    import('../cli/main.js'),
    import('../coverage/strace-records.js'),
  ]);
  const tsvisorVersion = await version();
  const straceNames = globals['strace-syscalls'] as string | undefined;
  const strace = globals.strace ? { filter: straceNames === undefined ? null : await checkSyscallNames(straceNames) } : undefined;
  let collector: Collector;
  let straceLog: Logger | undefined;
  try {
    collector = new Collector(strace);
  } catch (e) {
    if (e instanceof CoverageError) throw new RuntimeError(`--coverage-dir: ${e.message}`);
    throw e;
  }
  let first = true;
  return {
    events: collector,
    traces: collector.traces,
    onGuestProcess(hostPid, log) {
      if (first) {
        first = false;
        straceLog = log;
        collector.onGuestProcess(hostPid, log);
        return;
      }
      // An exec'd process (docker exec): forked in the container by a
      // launcher that joined it, so the launcher's code runs until its exec.
      collector.processes.set(hostPid, { tgid: hostPid, pid: sandboxPid(hostPid), parent: null, exes: [LAUNCHER_EXE] });
    },
    write(status) {
      const { rows, full, strace: traced } = collector.finish();
      if (traced?.lost) straceLog?.warn(lostRecords(traced.lost));
      const report = buildReport(command, status, rows, collector.processes, full, tsvisorVersion);
      const file = path.join(dir, `${id}.json`);
      // Complete or absent: a reader polling for the file never sees half of it.
      // Created exclusively (O_EXCL follows no link): the directory may be one others can write to.
      const tmp = path.join(dir, `.${id}.json.${process.pid}`);
      try {
        fs.writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
        fs.renameSync(tmp, file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') fs.rmSync(tmp, { force: true });
        throw new RuntimeError(`coverage report ${file}: ${code ?? (e as Error).message}`);
      }
      return file;
    },
  };
}

/** A host process's pid in its own (innermost) pid namespace, -1 if it is gone. */
function sandboxPid(hostPid: number): number {
  try {
    const nspid = /\nNSpid:\s*([\d\s]+)\n/.exec(fs.readFileSync(`/proc/${hostPid}/status`, 'latin1'))?.[1];
    return Number(nspid?.trim().split(/\s+/).pop() ?? -1);
  } catch {
    return -1;
  }
}
