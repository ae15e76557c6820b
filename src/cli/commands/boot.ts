// tsvisor boot (internal): the sandbox process of an OCI container. `create`
// starts it detached; it runs the Sentry and the Gofer, sets the container
// up with its first process held before exec, reports "ok" (or the error)
// on fd 3, then serves the control socket (start, kill, ps) until the
// container's init exits. Its exit status is the container's: it is the
// process in --pid-file, which containerd's shim and conmon wait for.
import fs from 'node:fs';
import { MFD_CLOEXEC, O_RDONLY } from '../../abi/linux.js';
import { spawnGofer } from '../../gofer/client.js';
import { enterSandboxCgroups } from '../../oci/cgroups.js';
import { type ControlReply, type ExecProcess, serveControl } from '../../oci/control.js';
import { native } from '../../platform/native.js';
import type { Kernel } from '../../sentry/kernel.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { allocateTerminal } from '../../oci/terminal.js';
import { type Hook, loadConfig, toSandboxSpec } from '../../oci/spec.js';
import { StateStore, ociState, processStartTime } from '../../oci/state.js';
import { goferExports, sameNamespace } from '../../sentry/spec.js';
import { type Command } from '../main.js';
import { type FlagSpec, UsageError, parseFlags } from '../flags.js';

const BOOT_FLAGS: readonly FlagSpec[] = [
  { name: 'bundle', type: 'string', help: 'bundle directory' },
  { name: 'ready-fd', type: 'string', help: 'fd to report readiness on' },
  { name: 'console-socket', type: 'string', help: 'unix socket to send the terminal master to' },
];

export const bootCommand: Command = {
  summary: 'the sandbox process of a container (internal)',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, BOOT_FLAGS, false);
    const id = rest[0];
    const bundle = flags.bundle as string | undefined;
    if (!id || !bundle) throw new UsageError('usage: tsvisor boot --bundle DIR ID');
    const readyFd = Number((flags['ready-fd'] as string | undefined) ?? 3);
    const store = new StateStore(stateRoot(globals));
    const report = (msg: string) => {
      try {
        fs.writeSync(readyFd, `${msg}\n`);
        fs.closeSync(readyFd);
      } catch {
        /* create went away */
      }
    };

    let kernel;
    try {
      const config = loadConfig(bundle);
      // No network namespace in the spec means the host's, as with runc;
      // --network=host (a runsc flag) forces it.
      const ownNetwork = config.namespaces.some((n) => n.type === 'network') && globals.network !== 'host';
      const netSysctls = Object.keys(config.sysctl).filter((k) => k.startsWith('net.'));
      const specNetns = config.namespaces.find((n) => n.type === 'network');
      if (netSysctls.length && (!specNetns || (specNetns.path && sameNamespace(specNetns.path, '/proc/self/ns/net')))) {
        throw new RuntimeError(`linux.sysctl: sysctl "${netSysctls[0]}" not allowed in the host network namespace`);
      }
      const spec = toSandboxSpec(config, {
        overlay: Boolean(globals.overlay),
        network: ownNetwork ? 'none' : 'host',
        stdio: [0, 1, 2],
        strace: Boolean(globals.strace),
      });
      if (ownNetwork) spec.netnsPath = config.netnsPath;
      spec.oomScoreAdj = config.process.oomScoreAdj;
      // Before the Gofer and the guests start: they inherit the cgroups (and the OOM exemption).
      const sandboxCgroups = enterSandboxCgroups(store.load(id).cgroups, config.resources, config.process.oomScoreAdj);
      if (sandboxCgroups.guestOomScoreAdj !== undefined) spec.oomScoreAdj = sandboxCgroups.guestOomScoreAdj;
      const gofer = spawnGofer(goferExports(spec));
      if (config.process.terminal) {
        const consoleSocket = flags['console-socket'] as string | undefined;
        if (!consoleSocket) throw new RuntimeError('process.terminal is set: --console-socket is needed');
        const slave = allocateTerminal(gofer.client, consoleSocket, config.process.consoleSize);
        spec.stdio = [slave.fd, slave.fd, slave.fd];
        spec.ctty = true;
        spec.console = slave.pts;
      }
      const [{ Kernel, SandboxError }, { createLogger }, { compileOciSeccomp }] = await Promise.all([
        import('../../sentry/kernel.js'),
        import('../../log.js'),
        import('../../bpf/oci-seccomp.js'),
      ]);
      // Compiled here, not in toSandboxSpec: the syscall table it needs loads with the Sentry.
      if (config.seccomp) spec.seccompProfile = compileOciSeccomp(config.seccomp);
      const debugLog = globals['debug-log'] as string | undefined;
      const log = createLogger({
        file: (globals.log as string | undefined) ?? debugLog ?? '/dev/null',
        format: (globals['log-format'] as 'text' | 'json' | undefined) ?? 'text',
        debug: Boolean(globals.debug) || debugLog !== undefined,
        strace: spec.strace,
      });
      for (const w of sandboxCgroups.warnings) log.warn(w);
      spec.onGuestProcess = (pid) => {
        for (const w of sandboxCgroups.addGuest(pid)) log.warn({ pid }, w);
      };
      if (!ownNetwork && netSysctls.length) {
        // --network=host overrides the spec's network: its net.* sysctls would change the host's.
        log.warn({ sysctls: netSysctls }, 'network sysctls ignored: --network=host shares the host network namespace');
        for (const k of netSysctls) delete spec.sysctl![k];
      }
      kernel = new Kernel(spec, log);
      try {
        kernel.start(gofer, { deferExec: true });
      } catch (e) {
        if (e instanceof SandboxError) throw new RuntimeError(e.message);
        throw e;
      }
      const k = kernel;
      const controlSocket = `${store.dir(id)}/control.sock`;
      const lock = store.lock(id);
      try {
        const state = store.load(id);
        state.status = 'created';
        state.sentryPid = process.pid;
        state.sentryStartTime = processStartTime(process.pid) ?? 0;
        state.pid = process.pid;
        state.initPid = k.initPid;
        state.controlSocket = controlSocket;
        state.cgroups = sandboxCgroups.cgroups?.paths;
        store.save(state);
      } finally {
        lock.release();
      }
      const start = async (): Promise<ControlReply> => {
        await runHooksInside(k, 'startContainer', config.hooks.startContainer, ociState(store.load(id)));
        k.go();
        const l = store.lock(id);
        try {
          const s = store.load(id);
          s.status = 'running';
          store.save(s);
        } finally {
          l.release();
        }
        return { ok: true };
      };
      await serveControl(controlSocket, (req, send) => {
        switch (req.op) {
          case 'start':
            return start();
          case 'kill':
            if (req.all) k.signalAll(req.signal);
            else k.signal(req.signal);
            return { ok: true };
          case 'ps':
            return { ok: true, pids: k.hostPids() };
          case 'exec':
            return execIn(k, req, send);
        }
        return { ok: false, error: 'unknown request' };
      });
      report('ok');
    } catch (e) {
      report(`error ${e instanceof Error ? e.message : String(e)}`);
      kernel?.kill();
      return 1;
    }

    const exit = await kernel.done;
    try {
      const lock = store.lock(id);
      try {
        const s = store.load(id);
        s.status = 'stopped';
        s.exitStatus = exit.status;
        store.save(s);
      } finally {
        lock.release();
      }
    } catch {
      /* deleted meanwhile (delete --force) */
    }
    return exit.status;
  },
};

/**
 * exec: the new process gets the stdio of the `tsvisor exec` process that
 * asked (copied with pidfd_getfd: the fifos, pipes or files its client
 * gave it). Replies when it started, and resolves when it ended.
 */
async function execIn(k: Kernel, req: { pid: number; process: ExecProcess; consoleSocket?: string }, send: (r: ControlReply) => void): Promise<ControlReply> {
  const p = req.process;
  let stdio: number[];
  if (p.terminal) {
    if (!req.consoleSocket) throw new RuntimeError('a terminal needs --console-socket');
    const { fd } = allocateTerminal(k.gofer, req.consoleSocket, p.consoleSize);
    stdio = [fd, native.dup(fd), native.dup(fd)];
  } else {
    const pidfd = native.pidfdOpen(req.pid, 0);
    if (pidfd < 0) throw new RuntimeError(`the exec command (pid ${req.pid}) went away`);
    stdio = [0, 1, 2].map((n) => native.pidfdGetfd(pidfd, n));
    native.close(pidfd);
  }
  let started;
  try {
    if (stdio.some((fd) => fd < 0)) throw new RuntimeError('the exec command has no stdin, stdout or stderr');
    started = k.execProcess({
      args: p.args,
      env: p.env,
      cwd: p.cwd,
      uid: p.uid,
      gid: p.gid,
      groups: p.additionalGids,
      umask: p.umask ?? 0o022,
      caps: p.capabilities,
      stdio: stdio as [number, number, number],
      ctty: p.terminal,
      seccompProfile: k.spec.seccompProfile,
    });
  } finally {
    for (const fd of stdio) if (fd >= 0) native.close(fd);
  }
  send({ ok: true, pid: started.pid });
  const exit = await started.done;
  return { ok: true, status: exit.status };
}

/**
 * startContainer hooks run in the container, where runc runs them (in its
 * namespaces, after the pivot, so the path is the container's): as sandbox
 * processes, root with the container's capabilities, the state on stdin.
 * The first failure stops the sequence. (runc 1.1 runs createContainer hooks
 * before the pivot, where paths are the host's; create does so on the host.)
 */
async function runHooksInside(k: Kernel, kind: string, hooks: readonly Hook[], state: object): Promise<void> {
  for (const h of hooks) {
    const input = native.memfdCreate(`${kind}-hook-state`, MFD_CLOEXEC);
    const output = native.memfdCreate(`${kind}-hook-output`, MFD_CLOEXEC);
    if (input < 0 || output < 0) throw new RuntimeError(`${kind} hook ${h.path}: cannot make its stdio`);
    let stdin = -1;
    try {
      fs.writeSync(input, JSON.stringify(state));
      stdin = native.reopen(input, O_RDONLY);
      if (stdin < 0) throw new RuntimeError(`${kind} hook ${h.path}: cannot make its stdin`);
      const started = k.execProcess({
        // The launcher execs argv[0]: the hook's own argv[0] gives way to its path.
        args: [h.path, ...(h.args ?? [h.path]).slice(1)],
        env: h.env ?? [],
        cwd: '/',
        uid: 0,
        gid: 0,
        groups: [],
        umask: 0o022,
        caps: k.spec.caps,
        stdio: [stdin, output, output],
      });
      const timer = h.timeout ? setTimeout(() => process.kill(started.pid, 'SIGKILL'), h.timeout * 1000) : undefined;
      const exit = await started.done;
      clearTimeout(timer);
      if (exit.status !== 0) {
        const text = fs.readFileSync(`/proc/self/fd/${output}`, 'utf8').trim();
        const why = exit.signal ? `killed by signal ${exit.signal}` : `exit status ${exit.status}`;
        throw new RuntimeError(`${kind} hook ${h.path} failed: ${why}${text ? `: ${text}` : ''}`);
      }
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`${kind} hook ${h.path}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      for (const fd of [input, output, stdin]) if (fd >= 0) native.close(fd);
    }
  }
}
