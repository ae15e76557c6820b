// The sandbox's own kernel identity and the /proc files programs read first.
import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { SANDBOX_RELEASE, runNative, runSandbox, sh } from './harness.js';

describe('identity and /proc', () => {
  it("uname shows tsvisor's kernel (the host's major.minor, not its build), --kernel-release another", () => {
    const r = runSandbox(['uname', '-r']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${SANDBOX_RELEASE}\n`);
    expect(r.stdout.trim()).not.toBe(os.release());
    const a = runSandbox(['uname', '-a']);
    expect(a.stdout).toBe(`Linux ${os.hostname()} ${SANDBOX_RELEASE} #1 SMP PREEMPT tsvisor x86_64 GNU/Linux\n`);
    const proc = runSandbox(sh('cat /proc/sys/kernel/osrelease /proc/version'));
    expect(proc.stdout.startsWith(`${SANDBOX_RELEASE}\nLinux version ${SANDBOX_RELEASE}`)).toBe(true);
    const py = runSandbox(['python3', '-c', 'import os, platform; print(os.uname().release, platform.release())']);
    expect(py.stdout).toBe(`${SANDBOX_RELEASE} ${SANDBOX_RELEASE}\n`);
    const set = runSandbox(sh('uname -r; cat /proc/sys/kernel/osrelease'), { globals: ['--kernel-release', '7.0.1-custom'] });
    expect(set.stdout).toBe('7.0.1-custom\n7.0.1-custom\n');
    const bad = runSandbox(['true'], { globals: ['--kernel-release', 'has space'] });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^tsvisor: --kernel-release .*printable/);
  });

  it('/proc/self/exe names the running program', () => {
    const r = runSandbox(sh('readlink /proc/self/exe; readlink /proc/$$/exe; ls -l /proc/self/exe | sed "s/.*-> //"'));
    expect(r.stdout).toBe('/usr/bin/readlink\n/usr/bin/dash\n/usr/bin/ls\n');
    const py = runSandbox(['python3', '-c', 'import sys, os; print(os.readlink("/proc/self/exe"), sys.executable)']);
    expect(py.stdout).toBe('/usr/bin/python3.11 /usr/bin/python3\n');
    // Opening the link opens the executable.
    const cmp = runSandbox(sh('cmp /proc/self/exe /usr/bin/cmp && echo same'));
    expect(cmp.stdout).toBe('same\n');
  });

  it('/proc/self/fd lists and follows the open fds', () => {
    const script = 'exec 3</etc/hostname 4>/tmp/tsv-fd; ls /proc/self/fd | sort -n | tr "\\n" " "; echo; readlink /proc/$$/fd/3 /proc/$$/fd/4; cat /proc/$$/fd/3; ls -l /dev/fd/ | grep -c -- "->"';
    const r = runSandbox(sh(script));
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('0 1 2 3 4 5 ');
    expect(lines[1]).toBe('/etc/hostname');
    expect(lines[2]).toBe('/tmp/tsv-fd');
    expect(lines[3]).toBe(os.hostname());
    // Pipes and process substitution go through /proc/self/fd too.
    const p = runSandbox(['bash', '-c', 'diff <(echo a) <(echo a) && echo same; readlink /proc/self/fd/0 </dev/null; echo x | readlink /proc/self/fd/0 | cut -c1-6']);
    expect(p.stdout).toBe('same\n/dev/null\npipe:[\n');
  });

  it('/proc/cpuinfo, meminfo, uptime, loadavg, mounts read as programs expect', () => {
    const r = runSandbox(sh('grep -c ^processor /proc/cpuinfo; grep -c MemTotal /proc/meminfo; cat /proc/uptime | wc -w; cat /proc/loadavg | wc -w; nproc; grep -c " / " /proc/mounts; free -m | head -1 | wc -w'));
    const n = runNative(sh('grep -c ^processor /proc/cpuinfo'));
    expect(r.stdout).toBe(`${n.stdout}1\n2\n5\n${os.cpus().length}\n1\n6\n`);
    const py = runSandbox(['python3', '-c', 'import os, multiprocessing; print(os.cpu_count(), multiprocessing.cpu_count())']);
    expect(py.stdout).toBe(`${os.cpus().length} ${os.cpus().length}\n`);
  });

  it('the sandbox sees its own process tree only: tsvisor\'s init as pid 1, the command as its child', () => {
    const r = runSandbox(sh('echo $$; ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "; echo; ps -eo pid,ppid,comm | head -5; tr "\\0" " " < /proc/1/cmdline; echo'));
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('2');
    // init, this shell, and the ls/grep/sort/tr of the pipeline.
    expect(lines[1]!.trim().split(' ').slice(0, 2).map(Number)).toEqual([1, 2]);
    expect(lines[1]!.trim().split(' ').every((p) => Number(p) < 100)).toBe(true);
    expect(r.stdout).toMatch(/\n\s+1\s+0 init\n\s+2\s+1 sh\n/);
    // Nothing of the launcher that became init shows (its host path, its options).
    expect(r.stdout).toMatch(/\ninit \n$/);
    expect(r.stdout).not.toMatch(/tsvisor|launcher|Release/);
  });

  it('--no-init: the command itself is pid 1', () => {
    const r = runSandbox(sh('echo $$; ps -eo pid,comm | head -3'), { doFlags: ['--no-init'] });
    expect(r.stdout).toMatch(/^1\n/);
    expect(r.stdout).toMatch(/\n\s+1 sh\n/);
  });
});
