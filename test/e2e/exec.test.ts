// execve: binaries that exist only in the Sentry's memory, "#!" scripts,
// PATH search and exec failures, compared with Linux.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { runNative, runSandbox, sh } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const execkill = cProgram('execkill');
const execshare = cProgram('execshare');

const HELLO = '#include <stdio.h>\nint main(int c, char **v) { printf("hello %d %s\\n", c, v[c - 1]); return 3; }\n';

describe('exec', () => {
  it('compiles with gcc under --overlay and runs the binary that exists only in memory', () => {
    const name = `/tmp/tsvisor-hello-${process.pid}`;
    const script = `printf '${HELLO.replace(/\\/g, '\\\\').replace(/%/g, '%%').replace(/\n/g, '\\n')}' > ${name}.c && gcc -O2 ${name}.c -o ${name} && ${name} a b; echo "status $?"; ls -l ${name} | cut -c1-10`;
    const r = runSandbox(sh(script), { doFlags: ['--overlay'], timeoutMs: 120000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello 3 b\nstatus 3\n-rwxr-xr-x\n');
    expect(r.status).toBe(0);
    // Nothing reached the host.
    expect(fs.existsSync(name)).toBe(false);
    expect(fs.existsSync(`${name}.c`)).toBe(false);
  });

  it('runs a #!/bin/sh script written to /tmp, by path and through PATH', () => {
    const script = [
      'printf "#!/bin/sh\\necho \\"script \\$0 \\$# \\$1\\"\\nexit 4\\n" > /tmp/s.sh',
      'chmod +x /tmp/s.sh',
      '/tmp/s.sh one two; echo "status $?"',
      'PATH=/tmp:$PATH s.sh three; echo "status $?"',
      'printf "#!/usr/bin/env python3\\nimport sys; print(sys.argv)\\n" > /tmp/p.py && chmod +x /tmp/p.py && /tmp/p.py x',
      'printf "#!/bin/sh -e\\necho opt \\$-\\n" > /tmp/o.sh && chmod +x /tmp/o.sh && /tmp/o.sh | grep -c e',
      'printf "echo no shebang \\$0\\n" > /tmp/n.sh && chmod +x /tmp/n.sh && /tmp/n.sh',
    ].join('\n');
    const dir = fs.mkdtempSync('/tmp/tsvisor-exec-');
    try {
      const s = script.split('/tmp/').join(`${dir}/`).replace('PATH=/tmp:', `PATH=${dir}:`);
      const n = runNative(sh(s));
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      const v = runSandbox(sh(s), { doFlags: ['--overlay'] });
      expect(n.status).toBe(0);
      expect(v.stderr).toBe(n.stderr);
      expect(v.stdout).toBe(n.stdout);
      expect(v.stdout).toContain(`script ${dir}/s.sh 2 one`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails like Linux: missing file, no permission, a directory, bad format, interpreter loops', () => {
    const script = [
      '/nonexistent; echo $?',
      'printf "data" > /tmp/tsv-x; chmod 644 /tmp/tsv-x; /tmp/tsv-x; echo $?',
      '/tmp; echo $?',
      'printf "\\177ELFjunk" > /tmp/tsv-elf; chmod 755 /tmp/tsv-elf; /tmp/tsv-elf; echo $?',
      'printf "#!/tmp/tsv-loop\\n" > /tmp/tsv-loop; chmod 755 /tmp/tsv-loop; /tmp/tsv-loop; echo $?',
      'python3 -c "import os; os.execv(\\"/etc/hostname\\", [\\"x\\"])" 2>&1 | tail -1',
    ].join('\n');
    const n = runNative(sh(script));
    // Natively the files land on the host; clean before the sandbox runs in its overlay.
    for (const f of ['/tmp/tsv-x', '/tmp/tsv-elf', '/tmp/tsv-loop']) fs.rmSync(f, { force: true });
    const v = runSandbox(sh(script));
    expect(v.stdout).toBe(n.stdout);
    expect(v.stderr.replace(/\/bin\/sh: \d+:/g, 'sh:')).toBe(n.stderr.replace(/\/bin\/sh: \d+:/g, 'sh:'));
  });

  it('reports a missing command with status 127 and a clear message', () => {
    const r = runSandbox(['no-such-command-xyz']);
    expect(r.status).toBe(127);
    expect(r.stderr).toMatch(/no-such-command-xyz.*not found/);
  });

  it('fork and exec many times (vfork, posix_spawn, shells)', () => {
    const script = 'for i in $(seq 200); do /bin/true; done; python3 -c "import subprocess; print(sum(subprocess.run([\\"true\\"]).returncode for _ in range(50)))"; echo done';
    const r = runSandbox(sh(script));
    expect(r.stdout).toBe('0\ndone\n');
    expect(r.status).toBe(0);
  });

  it('a process SIGKILLed at its exec (its close-on-exec pipe seen closed) just dies, 2000 times over: no warning', () => {
    const argv = [execkill.path, '2000'];
    expectSameRun(runNative(argv), runSandbox(argv, { timeoutMs: 120000 }));
  });

  // The copy each run makes of the program (half the execs run it) lands in
  // the scratch directory natively, and in the overlay under tsvisor.
  it.each([
    ['procs', '8 CLONE_FILES children of one process exec two files at once, 150 rounds: every exec runs (one fd slot given twice got them killed)'],
    ['thread', 'a thread and a CLONE_FILES child of its process exec two files at once, 150 rounds: every exec runs'],
    ['leftover', 'a CLONE_FILES child\'s exec leaves no fd in the table it shared: the next open gets the same fd as before'],
  ])('fd table shared: %s: %s', (mode) => {
    const dir = execshare.scratch();
    fs.copyFileSync(execshare.path, `${dir}/execshare`);
    fs.chmodSync(`${dir}/execshare`, 0o755);
    const argv = [`${dir}/execshare`, mode, '150'];
    expectSameRun(runNative(argv), runSandbox(argv, { timeoutMs: 120000 }));
  });
});
