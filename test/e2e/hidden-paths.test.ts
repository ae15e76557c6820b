// Hidden paths (SandboxSpec.hidden, tsvisor test --hide and its default
// secrets): with the overlay they start as whiteouts of their own kind, so no
// route reaches them (names relative to the cwd or a dirfd, "..", symlinks
// into them, /proc's magic links, O_PATH, the stat family, xattrs, listings,
// renames away), each lookup is one `hidden` denial, and the guest may make
// the name anew and see its own. Nothing reaches the host.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRNO } from '../../src/abi/errno.js';
import { SYSCALLS } from '../../src/syscalls/table.js';
import { runObserved } from './access-run.js';
import { SandboxError } from '../../src/sentry/errors.js';
import type { SandboxSpec } from '../../src/sentry/spec.js';
import { reachableByBind } from '../../src/sentry/vfs/mounts.js';
import { busyboxRoot, rmrf, treeSnapshot } from './harness.js';
import { hostScratch } from './robust-helpers.js';

const SECRET = 'SECRET-KEY-MATERIAL';

// Each attempt prints "name: result", the result an errno name or what it read.
const ATTEMPTS = String.raw`
import errno, os, socket, subprocess, sys
home = sys.argv[1]
os.chdir(home)
def attempt(name, f):
    try:
        r = f()
        print(f"{name}: {r!r}")
    except OSError as e:
        print(f"{name}: {errno.errorcode[e.errno]}")
def read(p, **kw):
    fd = os.open(p, os.O_RDONLY, **kw)
    try: return os.read(fd, 100).decode()
    finally: os.close(fd)
parent = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
attempt("absolute", lambda: read(home + "/.ssh/id_rsa"))
attempt("relative", lambda: read(".ssh/id_rsa"))
attempt("dotdot", lambda: read("sub/../.ssh/id_rsa"))
attempt("dotdot-deep", lambda: read(home + "/sub/../sub/../.ssh/./id_rsa"))
attempt("trailing-slash", lambda: os.listdir(".ssh/"))
attempt("symlink-to-dir", lambda: read("link/id_rsa"))
attempt("symlink-to-file", lambda: read("filelink"))
attempt("symlink-chain", lambda: read("chain/id_rsa"))
attempt("dirfd", lambda: read(".ssh/id_rsa", dir_fd=parent))
attempt("o-path", lambda: os.close(os.open(".ssh", os.O_PATH)))
attempt("proc-root", lambda: read("/proc/self/root" + home + "/.ssh/id_rsa"))
attempt("proc-cwd", lambda: read("/proc/self/cwd/.ssh/id_rsa"))
attempt("proc-fd", lambda: read(f"/proc/self/fd/{parent}/.ssh/id_rsa"))
attempt("stat", lambda: os.stat(".ssh").st_mode)
attempt("lstat", lambda: os.lstat(".ssh/id_rsa").st_mode)
attempt("access", lambda: os.access(".ssh", os.F_OK) or "no")
attempt("listxattr", lambda: os.listxattr(".ssh"))
attempt("readlink", lambda: os.readlink(".ssh"))
attempt("chdir", lambda: os.chdir(".ssh") or os.chdir(home))
attempt("listed", lambda: sorted(n for n in os.listdir(".") if n in (".ssh", "credentials")) + sorted(os.listdir(".aws")))
attempt("scandir", lambda: [e.name for e in os.scandir(".") if e.name == ".ssh"])
attempt("file-hidden", lambda: read(".aws/credentials"))
attempt("symlink-hidden", lambda: read("keylink"))
attempt("its-target", lambda: read("vault/key"))
attempt("rename-away", lambda: os.rename(".ssh", "stolen"))
attempt("unlink", lambda: os.unlink(".aws/credentials"))
attempt("rmdir", lambda: os.rmdir(".ssh"))
attempt("hardlink", lambda: os.link(".aws/credentials", "copy"))
attempt("chmod", lambda: os.chmod(".ssh/id_rsa", 0o644))
attempt("utime", lambda: os.utime(".ssh/id_rsa"))
attempt("truncate", lambda: os.truncate(".aws/credentials", 0))
attempt("statvfs", lambda: os.statvfs(".ssh").f_bsize > 0)
attempt("exec", lambda: subprocess.run([home + "/.ssh/id_rsa"]).returncode)
attempt("create-inside", lambda: os.close(os.open(".ssh/new", os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
attempt("unix-connect", lambda: socket.socket(socket.AF_UNIX).connect(".ssh/agent.sock"))
attempt("unix-sendto", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", ".ssh/agent.sock"))
open("mine", "w").write("guest's own")
attempt("rename-onto", lambda: os.rename("mine", ".aws/credentials") or read(".aws/credentials"))
attempt("mkdir-anew", lambda: os.mkdir(".ssh") or sorted(os.listdir(".ssh")))
attempt("own-file", lambda: open(".ssh/id_rsa", "w").write("new") and read(".ssh/id_rsa"))
`;

const EXPECTED = [
  'absolute: ENOENT',
  'relative: ENOENT',
  'dotdot: ENOENT',
  'dotdot-deep: ENOENT',
  'trailing-slash: ENOENT',
  'symlink-to-dir: ENOENT',
  'symlink-to-file: ENOENT',
  'symlink-chain: ENOENT',
  'dirfd: ENOENT',
  'o-path: ENOENT',
  'proc-root: ENOENT',
  'proc-cwd: ENOENT',
  'proc-fd: ENOENT',
  'stat: ENOENT',
  'lstat: ENOENT',
  "access: 'no'",
  'listxattr: ENOENT',
  'readlink: ENOENT',
  'chdir: ENOENT',
  "listed: ['config']",
  'scandir: []',
  'file-hidden: ENOENT',
  'symlink-hidden: ENOENT',
  'its-target: ENOENT',
  'rename-away: ENOENT',
  'unlink: ENOENT',
  'rmdir: ENOENT',
  'hardlink: ENOENT',
  'chmod: ENOENT',
  'utime: ENOENT',
  'truncate: ENOENT',
  'statvfs: ENOENT',
  'exec: ENOENT',
  'create-inside: ENOENT',
  'unix-connect: ENOENT',
  'unix-sendto: ENOENT',
  `rename-onto: "guest's own"`,
  'mkdir-anew: []',
  "own-file: 'new'",
];

describe('hidden paths', () => {
  let home = '';
  let script = '';
  beforeAll(() => {
    const dir = hostScratch('hidden');
    home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
    fs.mkdirSync(path.join(home, '.aws'));
    fs.mkdirSync(path.join(home, 'sub'));
    fs.writeFileSync(path.join(home, '.ssh/id_rsa'), SECRET);
    fs.writeFileSync(path.join(home, '.aws/credentials'), SECRET);
    fs.writeFileSync(path.join(home, '.aws/config'), 'region');
    fs.symlinkSync('.ssh', path.join(home, 'link'));
    fs.symlinkSync(`${home}/.ssh/id_rsa`, path.join(home, 'filelink'));
    fs.symlinkSync('link', path.join(home, 'chain'));
    fs.mkdirSync(path.join(home, 'vault'));
    fs.writeFileSync(path.join(home, 'vault/key'), SECRET);
    fs.symlinkSync('vault/key', path.join(home, 'keylink'));
    script = path.join(dir, 'attempts.py');
    fs.writeFileSync(script, ATTEMPTS);
  });
  afterAll(() => {
    if (home) rmrf(path.dirname(home));
  });

  it('are reachable by no route, each lookup one hidden denial, and the guest may make the name anew', () => {
    const before = treeSnapshot(home);
    // A hidden symlink hides what it points to as well.
    const hidden = [`${home}/.ssh`, `${home}/.aws/credentials`, `${home}/keylink`];
    const hiddenPaths = [...hidden, `${home}/vault/key`];
    const s = runObserved(['python3', script, home], { hide: hidden, cwd: home, writes: true });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).not.toContain(SECRET);
    expect(s.stdout.trim().split('\n')).toEqual(EXPECTED);
    // The host is untouched.
    expect(treeSnapshot(home)).toEqual(before);

    const denials = s.denials.filter((d) => d.rule === 'hidden');
    for (const d of denials) {
      expect(hiddenPaths, d.what).toContain(d.path);
      expect(d.errno, d.what).toBe(ERRNO.ENOENT);
    }
    // One denial per call: each of a path call names a failed FileAccess of the same process, and no call has two.
    const pathCalls = new Set(SYSCALLS.filter((e) => e.access).map((e) => e.name));
    const failed = s.files.filter((f) => f.errno === ERRNO.ENOENT).map((f) => `${f.pid} ${f.call} ${f.path}`);
    const named = denials.filter((d) => pathCalls.has(d.what.split(' ')[0]!)).map((d) => `${d.pid} ${d.what}`);
    for (const n of named) expect(failed, n).toContain(n);
    expect(named.length).toBeLessThanOrEqual(failed.length);
    // Each route that met the hidden path, named as the call named it.
    const h = home;
    const whats = [...new Set(denials.map((d) => d.what))];
    const byFd = whats.filter((w) => /^openat \/proc\/self\/fd\/\d+\/\.ssh\/id_rsa$/.test(w));
    expect(byFd.length).toBe(1);
    expect(whats.filter((w) => !byFd.includes(w)).sort()).toEqual(
      [
        `openat ${h}/.ssh/id_rsa`,
        `openat ${h}/.ssh`,
        `openat ${h}/link/id_rsa`,
        `openat ${h}/filelink`,
        `openat ${h}/chain/id_rsa`,
        `openat /proc/self/root${h}/.ssh/id_rsa`,
        'openat /proc/self/cwd/.ssh/id_rsa',
        `newfstatat ${h}/.ssh`,
        `newfstatat ${h}/.ssh/id_rsa`,
        `access ${h}/.ssh`,
        `listxattr ${h}/.ssh`,
        `readlink ${h}/.ssh`,
        `chdir ${h}/.ssh`,
        `openat ${h}/.aws/credentials`,
        `openat ${h}/keylink`,
        `openat ${h}/vault/key`,
        `rename ${h}/.ssh`,
        `unlink ${h}/.aws/credentials`,
        `rmdir ${h}/.ssh`,
        `link ${h}/.aws/credentials`,
        `chmod ${h}/.ssh/id_rsa`,
        `utimensat ${h}/.ssh/id_rsa`,
        `truncate ${h}/.aws/credentials`,
        `statfs ${h}/.ssh`,
        `execve ${h}/.ssh/id_rsa`,
        `openat ${h}/.ssh/new`,
        `connect ${h}/.ssh/agent.sock`,
        `sendto ${h}/.ssh/agent.sock`,
      ].sort(),
    );
    // The overlay's changes show what the guest made at hidden paths as new, and no hidden path as deleted.
    const below = (p: string) => hiddenPaths.some((h) => p === h || p.startsWith(`${h}/`));
    const atHidden = s.changes!.filter((c) => below(c.path)).map((c) => `${c.kind} ${c.path}`);
    expect(atHidden.sort()).toEqual([`created ${home}/.aws/credentials`, `created ${home}/.ssh`, `created ${home}/.ssh/id_rsa`]);
    // Nothing hidden is reported once the guest made the name its own.
    const own = s.files.find((f) => f.op === 'create' && f.call === 'mkdir' && f.path === `${home}/.ssh`);
    expect(own?.errno).toBe(0);
  });

  it('hide what every one of those routes reaches when not hidden', () => {
    const s = runObserved(['python3', script, home], { cwd: home });
    expect(s.status, s.stderr).toBe(0);
    const got = new Map(s.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    for (const name of ['absolute', 'relative', 'dotdot', 'dotdot-deep', 'symlink-to-dir', 'symlink-to-file', 'symlink-chain', 'dirfd', 'proc-root', 'proc-cwd', 'proc-fd', 'file-hidden', 'symlink-hidden', 'its-target']) {
      expect(got.get(name), name).toBe(`'${SECRET}'`);
    }
    expect(got.get('listed')).toBe("['.ssh', 'config', 'credentials']");
    expect(s.denials).toEqual([]);
  });

  it('may name paths the host lacks (nothing to hide)', () => {
    const s = runObserved(['/bin/sh', '-c', 'cat /nonexistent-dir/.netrc; echo $?'], { hide: ['/nonexistent-dir/.netrc', `${home}/.docker/config.json`] });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toBe('1\n');
    expect(s.denials).toEqual([]);
  });

  it('are refused where a bind mount would show them', () => {
    const spec = (source: string) => ({ rootfs: '/', mounts: [{ type: 'bind' as const, source, destination: '/mnt/b' }] }) as unknown as SandboxSpec;
    expect(() => reachableByBind(spec(home), `${home}/.ssh`)).toThrow(`cannot hide ${home}/.ssh: the bind mount of ${home} at /mnt/b shows it`);
    expect(() => reachableByBind(spec(`${home}/.ssh/sub`), `${home}/.ssh`)).toThrow(SandboxError);
    expect(() => reachableByBind(spec(`${home}/.ssh`), `${home}/.ssh`)).toThrow(SandboxError);
    expect(() => reachableByBind(spec(`${home}/sub`), `${home}/.ssh`)).not.toThrow();
    expect(() => reachableByBind(spec(`${home}/.ss`), `${home}/.ssh`)).not.toThrow();
  });

  it('are refused with a clear error without the overlay, and must be absolute', () => {
    const root = busyboxRoot();
    const noOverlay = runObserved(['/bin/true'], { hide: ['/etc'], doFlags: ['--root', root, '--no-overlay'] });
    expect(noOverlay.status).not.toBe(0);
    expect(noOverlay.stderr).toContain('cannot hide /etc: hidden paths need the overlay');
    const relative = runObserved(['/bin/true'], { hide: ['etc'] });
    expect(relative.status).not.toBe(0);
    expect(relative.stderr).toContain('hidden path etc is not absolute');
  });
});
