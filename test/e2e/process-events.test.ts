// The Sentry's process events (src/sentry/spec.ts ProcessEvents) against the
// real thing: the process tree of a shell script with each process's argv
// and exit, as strace sees the same script run natively; argv exactly as the
// kernel hands it to the program; peak memory against the native VmHWM;
// processes left running when the command ends, and tsvisor's own init.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AccessEvent, runWithEvents } from './access-run.js';
import { rmrf, runNative, runSandbox, sh, tempDir } from './harness.js';

/** A process as both sides describe it: the argv it last ran (its parent's if it never exec'd), how it ended, its children. */
interface ProcNode {
  argv: string[];
  end: string;
  children: ProcNode[];
}

/** A tree as a string, children sorted, for comparing trees whose pids differ. */
function canonical(n: ProcNode): string {
  return `${JSON.stringify([n.argv, n.end])}{${n.children.map(canonical).sort().join(',')}}`;
}

const SIGNALS = os.constants.signals as Record<string, number>;

/** The process tree of `argv` run natively, from strace -f (clones, execs, exits). */
function nativeTree(argv: string[]): ProcNode {
  const dir = tempDir('strace');
  const out = path.join(dir, 'trace');
  try {
    const r = spawnSync('strace', ['-f', '-q', '-xx', '-s', '4096', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', out, '--', ...argv], { encoding: 'latin1' });
    if (r.error) throw r.error;
    const lines = fs.readFileSync(out, 'latin1').split('\n');
    const nodes = new Map<number, ProcNode>();
    const pendingArgv = new Map<number, string[]>();
    const execd = new Set<number>();
    let root: ProcNode | undefined;
    const node = (pid: number): ProcNode => {
      let n = nodes.get(pid);
      if (!n) {
        nodes.set(pid, (n = { argv: [], end: '', children: [] }));
        root ??= n;
      }
      return n;
    };
    const hex = (s: string) => Buffer.from(s.replace(/\\x/g, ''), 'hex').toString('utf8');
    for (const line of lines) {
      const m = /^(\d+) +(.*)$/.exec(line);
      if (!m) continue;
      const pid = Number(m[1]);
      const rest = m[2]!;
      const self = node(pid);
      let x: RegExpExecArray | null;
      if ((x = /^\+\+\+ exited with (\d+) \+\+\+$/.exec(rest))) self.end = x[1]!;
      else if ((x = /^\+\+\+ killed by (SIG\w+)/.exec(rest))) self.end = `signal ${SIGNALS[x[1]!]}`;
      else if ((x = /^execve\("[^"]*", \[(.*?)\]/.exec(rest))) pendingArgv.set(pid, [...x[1]!.matchAll(/"((?:\\x[0-9a-f]{2})*)"/g)].map((s) => hex(s[1]!)));
      if (/execve.*\)\s+= 0$/.test(rest) && pendingArgv.has(pid)) {
        self.argv = pendingArgv.get(pid)!;
        execd.add(pid);
      }
      if ((x = /\b(?:clone3?|v?fork)\b.*\)\s+= (\d+)$/.exec(rest))) {
        const child = node(Number(x[1]));
        // its exec may be traced before the clone's return
        if (!execd.has(Number(x[1]))) child.argv = self.argv;
        self.children.push(child);
      }
    }
    return root!;
  } finally {
    rmrf(dir);
  }
}

/** The tree the Sentry's events describe, from process `rootPid`. */
function sandboxTree(events: AccessEvent[], rootPid: number): ProcNode {
  const nodes = new Map<number, ProcNode>();
  for (const e of events) {
    const [pid] = e.args as [number];
    if (e.kind === 'start') {
      const parent = nodes.get(e.args[1]);
      const n: ProcNode = { argv: parent?.argv ?? [], end: '', children: [] };
      nodes.set(pid, n);
      parent?.children.push(n);
    } else if (e.kind === 'exec') nodes.get(pid)!.argv = e.args[2];
    else if (e.kind === 'exit') {
      const x = e.args[1] as { code?: number; signal?: number };
      nodes.get(pid)!.end = x.signal ? `signal ${x.signal}` : String(x.code);
    }
  }
  return nodes.get(rootPid)!;
}

const of = (events: AccessEvent[], kind: string, pid?: number) => events.filter((e) => e.kind === kind && (pid === undefined || e.args[0] === pid));
const index = (events: AccessEvent[], kind: string, pid: number) => events.findIndex((e) => e.kind === kind && e.args[0] === pid);

describe('process events', () => {
  it('give the process tree of a shell script with argv and exit statuses (codes and signals) as strace sees it natively', () => {
    const scripts = [
      "echo a | (cat >/dev/null; exit 5) | sh -c 'read x; kill -TERM $$'; sh -c 'exit 9'; sh -c 'kill -USR1 $$'; /bin/true one two; exit 4",
      "(exit 3) & sh -c 'kill -KILL $$' & wait; ls /nonexistent 2>/dev/null | wc -l >/dev/null; no-such-command-x 2>/dev/null; /bin/echo 'a  b' '' >/dev/null",
      'for i in 1 2 3; do sh -c "exit $i"; done; exec /bin/sh -c "exit 7"',
    ];
    for (const script of scripts) {
      const argv = sh(script);
      const native = nativeTree(argv);
      const r = runWithEvents(argv);
      expect(r.status, r.stderr).toBe(Number(native.end));
      // pid 2 is the command (tsvisor's init, pid 1, runs it)
      const tree = sandboxTree(r.events, 2);
      expect(canonical(tree)).toBe(canonical(native));
      expect(tree.children.length).toBeGreaterThan(1);
    }
  });

  it("mark tsvisor's init and make the command its child; with --no-init the command is pid 1", () => {
    const r = runWithEvents(sh('exit 6'));
    expect(r.status).toBe(6);
    expect(of(r.events, 'start', 1)).toEqual([{ kind: 'start', args: [1, 0, expect.any(Number), true] }]);
    expect(of(r.events, 'exec', 1)).toEqual([]);
    expect(of(r.events, 'start', 2)[0]!.args.slice(0, 2)).toEqual([2, 1]);
    expect(of(r.events, 'exec', 2)[0]!.args.slice(1)).toEqual(['/usr/bin/dash', ['/bin/sh', '-c', 'exit 6']]);
    expect(of(r.events, 'exit', 2)[0]!.args[1]).toEqual({ status: 6, code: 6 });
    expect(of(r.events, 'exit', 1)[0]!.args[1]).toEqual({ status: 6, code: 6 });
    const n = runWithEvents(sh('exit 6'), { flags: ['--no-init'] });
    expect(n.status).toBe(6);
    expect(of(n.events, 'start', 1)[0]!.args[3]).toBe(false);
    expect(of(n.events, 'exec', 1)[0]!.args[2]).toEqual(['/bin/sh', '-c', 'exit 6']);
    expect(of(n.events, 'start', 2)).toEqual([]);
  });

  for (const init of [true, false]) {
    it(`list the processes left running when the command ended, before tsvisor kills them (${init ? 'with' : 'without'} tsvisor's init)`, () => {
      const t0 = Date.now();
      // Two daemons (one in a process group of its own), started and running their program before the command exits 3.
      const script = 'sleep 1000 & a=$!; setsid sleep 999 & b=$!; until [ "$(cat /proc/$a/comm)" = sleep ] && [ "$(cat /proc/$b/comm)" = sleep ]; do :; done 2>/dev/null; exit 3';
      const r = runWithEvents(sh(script), { flags: init ? [] : ['--no-init'] });
      expect(r.status, r.stderr).toBe(3);
      expect(Date.now() - t0).toBeLessThan(30000);
      const daemons = r.events.filter((e) => e.kind === 'exec' && e.args[2][0] === 'sleep').map((e) => e.args[0] as number);
      expect(daemons).toHaveLength(2);
      const told = of(r.events, 'command-exit');
      expect(told).toHaveLength(1);
      expect([...told[0]!.args[0]].sort()).toEqual([...daemons].sort());
      const toldAt = r.events.indexOf(told[0]!);
      const command = init ? 2 : 1;
      expect(index(r.events, 'exit', command)).toBeLessThan(init ? toldAt : Infinity);
      for (const pid of daemons) {
        const i = index(r.events, 'exit', pid);
        expect(i).toBeGreaterThan(toldAt);
        expect(r.events[i]!.args[1]).toEqual({ status: 137, signal: 9 });
        expect(r.events[i]!.args[2]).toBeGreaterThan(0);
      }
      // pid 1's exit comes last
      const last = r.events.at(-1)!;
      expect([last.kind, ...last.args.slice(0, 2)]).toEqual(['exit', 1, { status: 3, code: 3 }]);
    });
  }

  it('end the command when pid 1 exits, not when a thread of it execs (its other threads, the leader too, then exit)', () => {
    // pid 1 starts a daemon, then a thread that is not the leader execs a shell that exits 3.
    const py = [
      'import os, subprocess, threading, time',
      "d = subprocess.Popen(['/bin/sleep', '1000'])",
      "while open('/proc/%d/comm' % d.pid).read() != 'sleep\\n': time.sleep(0.01)",
      "threading.Thread(target=lambda: os.execv('/bin/sh', ['sh', '-c', 'exit 3'])).start()",
      'time.sleep(1000)',
    ].join('\n');
    const r = runWithEvents(['/usr/bin/python3', '-c', py], { flags: ['--no-init'] });
    expect(r.status, r.stderr).toBe(3);
    const daemon = r.events.find((e) => e.kind === 'exec' && e.args[1] === '/usr/bin/sleep')!.args[0];
    const shell = r.events.findIndex((e) => e.kind === 'exec' && e.args[0] === 1 && e.args[1] === '/usr/bin/dash');
    expect(r.events[shell]!.args[2]).toEqual(['sh', '-c', 'exit 3']);
    const told = of(r.events, 'command-exit');
    expect(told.map((e) => e.args[0])).toEqual([[daemon]]);
    expect(r.events.indexOf(told[0]!)).toBeGreaterThan(shell);
  });

  it('give argv exactly as the program got it', () => {
    const args = ['/bin/echo', 'a b', '', 'ünïcode ✓', 'x\ny', '--', '-n', ...Array.from({ length: 500 }, (_, i) => `arg${i}`)];
    const r = runWithEvents(args);
    expect(r.status).toBe(0);
    expect(of(r.events, 'exec', 2)[0]!.args.slice(1)).toEqual(['/usr/bin/echo', args]);
    // argv[0] chosen by the caller
    const a = runWithEvents(['/bin/bash', '-c', 'exec -a my-name /bin/true x y']);
    expect(of(a.events, 'exec', 2).map((e) => e.args.slice(1))).toEqual([
      ['/usr/bin/bash', ['/bin/bash', '-c', 'exec -a my-name /bin/true x y']],
      ['/usr/bin/true', ['my-name', 'x', 'y']],
    ]);
  });

  it('leave non-ASCII argv, environment and working directory of the command as they are natively', () => {
    const dir = tempDir('ünï');
    try {
      const cwd = path.join(dir, 'dïr ✓');
      fs.mkdirSync(cwd);
      const argv = sh('printf "%s|" "$@" "$X" "$(pwd)"; ls -d "$PWD"');
      const run = [...argv, 'sh', 'ü', 'a ✓'];
      const env = { PATH: '/usr/bin:/bin', X: 'ënv ✓' };
      const native = runNative(run, { cwd, env });
      // the harness reads output as latin1: bytes
      expect(Buffer.from(native.stdout, 'latin1').toString('utf8')).toBe(`ü|a ✓|ënv ✓|${cwd}|${cwd}\n`);
      const r = runSandbox(run, { cwd, env });
      expect({ stdout: r.stdout, stderr: r.stderr, status: r.status }).toEqual({ stdout: native.stdout, stderr: native.stderr, status: native.status });
    } finally {
      rmrf(dir);
    }
  });

  it("give a script's argv as the kernel builds it from its #! line, as the script sees it natively", () => {
    const dir = tempDir('shebang');
    try {
      const script = path.join(dir, 'print-argv');
      fs.writeFileSync(script, '#!/bin/sh -e\ntr "\\0" "\\n" < /proc/$$/cmdline\n', { mode: 0o755 });
      const argv = [script, 'one', 'two words'];
      const native = runNative(argv);
      expect(native.status).toBe(0);
      const expected = native.stdout.replace(/\n$/, '').split('\n');
      expect(expected).toEqual(['/bin/sh', '-e', script, 'one', 'two words']);
      const r = runWithEvents(argv);
      expect(r.stdout).toBe(native.stdout);
      expect(of(r.events, 'exec', 2)[0]!.args.slice(1)).toEqual(['/usr/bin/dash', expected]);
    } finally {
      rmrf(dir);
    }
  });

  describe('peak memory', () => {
    // Each allocates and touches 100 MB, then prints its VmHWM in kB: python3 (one thread), node (threads that exit_group kills).
    const programs: [string, string[]][] = [
      ['/usr/bin/python3', ['-c', "b = b'x' * (100 << 20); import re; print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))"]],
      [process.execPath, ['-e', "const b = Buffer.alloc(100 << 20, 1); console.log(/VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1])"]],
    ];
    for (const [program, args] of programs) {
      it(`is the VmHWM the same program reaches natively (${path.basename(program)}, 100 MB allocated)`, () => {
        const native = runNative([program, ...args]);
        expect(native.status, native.stderr).toBe(0);
        const nativeBytes = Number(native.stdout) * 1024;
        expect(nativeBytes).toBeGreaterThan(100 << 20);
        const r = runWithEvents(['/bin/sh', '-c', '"$@"; /bin/true', 'sh', program, ...args]);
        expect(r.status, r.stderr).toBe(0);
        // processes, not threads: init, the shell, the program, true
        expect(of(r.events, 'start')).toHaveLength(4);
        const pid = r.events.find((e) => e.kind === 'exec' && e.args[2][0] === program)!.args[0];
        const peak = of(r.events, 'exit', pid)[0]!.args[2] as number;
        expect(Math.abs(peak - nativeBytes) / nativeBytes).toBeLessThan(0.1);
        // each process its own: `true`'s peak is its own few MB, not the program's nor the shell's
        const truePid = r.events.find((e) => e.kind === 'exec' && e.args[1] === '/usr/bin/true')!.args[0];
        const small = of(r.events, 'exit', truePid)[0]!.args[2] as number;
        expect(small).toBeGreaterThan(0);
        expect(small).toBeLessThan(16 << 20);
      });
    }
  });
});
