// Runs one test command in one of the three ways the instrument compares:
//
//   native   as root on the host, in fresh mount/UTS/IPC/network namespaces
//            (loopback up), so tests that set the host name, make IPC objects,
//            mount or configure interfaces cannot disturb the machine; each
//            run has a pids cgroup of its own, so nothing it forks survives it;
//   native-caps  the same, with the capability bounding set tsvisor gives
//            its guests: a test that passes natively but not here needs a
//            privilege tsvisor does not grant;
//   tsvisor  `tsvisor do` (the host root read-only under an in-memory overlay,
//            loopback only);
//   runsc    `runsc --network=none do` (the same view under gVisor).
//
// stdout and stderr are one stream, read line by line. A run is killed when
// its deadline passes; callers move the deadline (gtest: per test case).
//
// In every mode the test runs as the child of a shell: a sandbox's first
// process is the init of its pid namespace, and a test that is init (or
// whose parent is) does not see Linux's ordinary process semantics (LTP's
// library takes getppid() == 1 for "the test's main process died").

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

export const MODES = ['native', 'native-caps', 'tsvisor', 'runsc'];

const CGROUP_ROOT = '/sys/fs/cgroup/pids/tsvisor-conformance';
let serial = 0;

// $1: the run's cgroup; the rest: the command.
const NATIVE_SH =
  'echo $$ > "$1/cgroup.procs" && shift && ' +
  'exec unshare --mount --uts --ipc --net --propagation private -- ' +
  `sh -c 'ip link set lo up && exec "$@"' sh "$@" 2>&1`;

/**
 * @param {object} o
 * @param {'native'|'native-caps'|'tsvisor'|'runsc'} o.mode
 * @param {string[]} o.argv
 * @param {string} o.cwd      scratch directory, also the test's TMPDIR
 * @param {Record<string,string>} o.env
 * @param {{tsvisor: string, runsc: string, caps?: string[]}} o.tools  caps: names for setpriv
 * @param {{at: number}} o.deadline   epoch ms; may be moved while running
 * @param {(line: string) => void} [o.onLine]
 */
export function launch({ mode, argv: testArgv, cwd, env, tools, deadline, onLine }) {
  const argv = ['/bin/sh', '-c', '"$@"; exit $?', 'sh', ...testArgv];
  let cmd;
  let cgroup;
  if (mode === 'native' || mode === 'native-caps') {
    cgroup = join(CGROUP_ROOT, `${process.pid}-${serial++}`);
    mkdirSync(cgroup, { recursive: true });
    // Root's capabilities after exec are its bounding set.
    const drop = mode === 'native-caps' ? ['setpriv', `--bounding-set=-all,${tools.caps.map((c) => `+${c}`).join(',')}`, '--'] : [];
    cmd = ['sh', '-c', NATIVE_SH, 'sh', cgroup, ...drop, ...argv];
  } else if (mode === 'tsvisor') {
    cmd = ['sh', '-c', 'exec "$@" 2>&1', 'sh', tools.tsvisor, 'do', '--cwd', cwd, '--', ...argv];
  } else if (mode === 'runsc') {
    cmd = ['sh', '-c', 'exec "$@" 2>&1', 'sh', tools.runsc, '--network=none', 'do', '--quiet', '--cwd', cwd, '--', ...argv];
  } else {
    throw new Error(`unknown mode ${mode}`);
  }

  const started = Date.now();
  const child = spawn(cmd[0], cmd.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const head = [];
  const tail = [];
  let partial = '';
  const line = (l) => {
    if (head.length < 40) head.push(l);
    else {
      tail.push(l);
      if (tail.length > 80) tail.shift();
    }
    onLine?.(l);
  };
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    // A line without an end (a test printing megabytes) is cut.
    if (partial.length > 65536) {
      line(partial.slice(0, 4096) + ' …');
      partial = '';
    }
    for (const p of parts) line(p);
  });

  let timedOut = false;
  const killAll = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    if (cgroup) killCgroup(cgroup);
  };
  const timer = setInterval(() => {
    if (Date.now() > deadline.at && !timedOut) {
      timedOut = true;
      killAll();
    }
  }, 500);

  return new Promise((resolve) => {
    let status;
    let graceTimer;
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(graceTimer);
      if (partial) line(partial);
      if (cgroup) {
        killCgroup(cgroup);
        try {
          rmdirSync(cgroup);
        } catch {}
      }
      resolve({ ...status, timedOut, ms: Date.now() - started, head, tail });
    };
    child.on('exit', (code, signal) => {
      status = { code, signal };
      if (closed) return finish();
      // Whatever the test left running (still holding the pipe) goes with it.
      if (cgroup) killCgroup(cgroup);
      graceTimer = setTimeout(() => {
        child.stdout.destroy();
        finish();
      }, 5000);
    });
    child.stdout.on('close', () => {
      closed = true;
      if (status) finish();
    });
    child.on('error', (err) => {
      status = { code: null, signal: null, error: String(err) };
      finish();
    });
  });
}

function killCgroup(dir) {
  for (let i = 0; i < 50; i++) {
    let pids;
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return;
    }
    if (pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {}
    }
    // Busy-wait a moment: the kernel reaps asynchronously.
    const until = Date.now() + 20;
    while (Date.now() < until);
  }
}
