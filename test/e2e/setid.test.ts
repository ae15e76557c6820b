// Set-user-id and set-group-id files with noNewPrivileges false (Docker's
// default): each case runs the same bundle under `runc run` and `tsvisor
// run` and compares what the program printed (ids, AT_SECURE, dumpable,
// capabilities) and the exit status (docs/design.md, "Set-user-id and
// set-group-id files").
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outcome, RUNTIMES, type Runtime, TSVISOR, busyboxRoot, rmrf, runBundle, specBundle } from './harness.js';
import { compile } from './robust-helpers.js';

let base: string;
let rootfs: string;
let counter = 0;
/** host directories bind-mounted at /w (writable by uid 1000) and /ns (nosuid) */
let work: string;
let nosuidDir: string;

function run(rt: Runtime, args: string[], edit: (c: Record<string, any>) => void): Outcome {
  const dir = specBundle(path.join(base, `b${counter++}`), rootfs, args, (c) => {
    c.process.noNewPrivileges = false;
    c.process.user = { uid: 1000, gid: 1000 };
    c.mounts.push({ destination: '/w', type: 'bind', source: work, options: ['rbind', 'rw'] });
    c.mounts.push({ destination: '/ns', type: 'bind', source: nosuidDir, options: ['rbind', 'ro', 'nosuid'] });
    edit(c);
  });
  return runBundle(rt, base, dir);
}

/** Runs under both runtimes; returns tsvisor's outcome after checking it equals runc's. */
function same(args: string[], edit: (c: Record<string, any>) => void = () => {}, setup: () => void = () => {}): string {
  const out: Record<string, Outcome> = {};
  for (const rt of RUNTIMES) {
    setup();
    out[rt] = run(rt, args, edit);
  }
  expect(out.tsvisor, JSON.stringify(out)).toEqual(out.runc);
  expect(out.tsvisor!.status, JSON.stringify(out.tsvisor)).toBe(0);
  return out.tsvisor!.stdout;
}

/** Places a copy of the test program at `file` (host path) with owner and mode. */
function place(file: string, uid: number, gid: number, mode: number, tag = 'good'): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bin = fs.readFileSync(path.join(base, 'setid'));
  const at = bin.indexOf('TAG:good');
  bin.write(`TAG:${tag}`.slice(0, 8), at, 'latin1');
  fs.writeFileSync(file, bin);
  fs.chownSync(file, uid, gid);
  fs.chmodSync(file, mode);
}

/** Copies host files into `root` at the same paths (symbolic links resolved), with the libraries ldd names for them. */
function copyWithLibs(root: string, files: string[]): void {
  const all = new Set(files);
  for (const f of files) {
    const ldd = spawnSync('ldd', [f], { encoding: 'utf8' }).stdout;
    for (const m of ldd.matchAll(/(\/\S+) \(0x/g)) all.add(m[1]!);
  }
  for (const f of all) {
    const to = path.join(root, f);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.rmSync(to, { force: true });
    fs.copyFileSync(fs.realpathSync(f), to);
    fs.chmodSync(to, fs.statSync(f).mode & 0o7777);
  }
}

/** Docker's default capability set. */
const DOCKER_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'].map((c) => `CAP_${c}`);

const NO_CAPS = 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n';

beforeAll(() => {
  base = fs.mkdtempSync('/var/tmp/tsvisor-setid-');
  compile('setid', base);
  // static and not position-independent: one address for its marker in every copy
  compile('setid-memrace', base, ['-no-pie', '-pthread']);
  compile('setid-touchrace', base, ['-pthread']);
  fs.copyFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../programs/setid.c'), path.join(base, 'setid.c'));
  rootfs = busyboxRoot();
  fs.chmodSync(rootfs, 0o755);
  // util-linux's, which can change ids (busybox's cannot)
  for (const f of [SETPRIV, SETCAP, GETCAP]) if (fs.existsSync(f)) copyWithLibs(rootfs, [f]);
  place(path.join(rootfs, 'suid/root'), 0, 0, 0o4755);
  fs.writeFileSync(path.join(rootfs, '0'), 'not an ELF file\n', { mode: 0o755 });
  place(path.join(rootfs, 'suid/sgid'), 0, 50, 0o2755);
  place(path.join(rootfs, 'suid/sgid-noexec'), 0, 50, 0o2745);
  place(path.join(rootfs, 'suid/user'), 2000, 2000, 0o4755);
  place(path.join(rootfs, 'suid/plain'), 0, 0, 0o755);
  place(path.join(rootfs, 'suid/execonly'), 0, 1000, 0o4710);
  place(path.join(rootfs, 'suid/caps'), 0, 0, 0o755);
  for (const [name, mode] of [['memrace', 0o4755], ['memrace-plain', 0o755]] as const) {
    fs.copyFileSync(path.join(base, 'setid-memrace'), path.join(rootfs, 'suid', name));
    fs.chmodSync(path.join(rootfs, 'suid', name), mode);
  }
  if (fs.existsSync(SETCAP)) execFileSync(SETCAP, ['cap_net_raw,cap_kill+ep', path.join(rootfs, 'suid/caps')]);
  work = path.join(base, 'work');
  fs.mkdirSync(work);
  fs.chownSync(work, 1000, 1000);
  fs.copyFileSync(path.join(base, 'setid-touchrace'), path.join(work, 'touchrace'));
  nosuidDir = path.join(base, 'nosuid');
  place(path.join(nosuidDir, 'root'), 0, 0, 0o4755);
});

const SETPRIV = '/usr/bin/setpriv';
const SETCAP = '/usr/sbin/setcap';
const GETCAP = '/usr/sbin/getcap';
const SUDO = '/usr/bin/sudo';
const SUDOERS_PLUGIN = '/usr/libexec/sudo/sudoers.so';
const PAM_UNIX = '/lib/x86_64-linux-gnu/security/pam_unix.so';
let suRoot: string;

beforeAll(() => {
  suRoot = busyboxRoot();
  fs.chmodSync(suRoot, 0o755);
  if (!fs.existsSync('/bin/su') || !fs.existsSync(PAM_UNIX)) return;
  copyWithLibs(suRoot, ['/bin/su', PAM_UNIX]);
  fs.chmodSync(path.join(suRoot, 'bin/su'), 0o4755);
  fs.writeFileSync(path.join(suRoot, 'etc/shadow'), 'root::19000:0:99999:7:::\nuser:*:19000:0:99999:7:::\n');
  fs.chmodSync(path.join(suRoot, 'etc/shadow'), 0o600);
  fs.mkdirSync(path.join(suRoot, 'etc/pam.d'));
  fs.writeFileSync(path.join(suRoot, 'etc/pam.d/su'), 'auth required pam_unix.so nullok\naccount required pam_unix.so\nsession required pam_unix.so\n');
  if (fs.existsSync(SUDO)) {
    copyWithLibs(suRoot, [SUDO, SUDOERS_PLUGIN]);
    fs.chmodSync(path.join(suRoot, SUDO), 0o4755);
    fs.writeFileSync(path.join(suRoot, 'etc/sudoers'), 'user ALL=(ALL) NOPASSWD: ALL\n');
    fs.chmodSync(path.join(suRoot, 'etc/sudoers'), 0o440);
    fs.writeFileSync(path.join(suRoot, 'etc/pam.d/sudo'), 'account required pam_unix.so\nsession required pam_unix.so\n');
    fs.writeFileSync(path.join(suRoot, 'etc/hosts'), '127.0.0.1 localhost tsvisor\n');
  }
  fs.appendFileSync(path.join(suRoot, 'etc/passwd'), 'user:x:1000:1000::/:/bin/sh\n');
});

afterAll(() => {
  rmrf(suRoot);
});

afterAll(() => {
  rmrf(base);
  rmrf(rootfs);
});

describe('set-id exec with noNewPrivileges false, as runc', () => {
  it('a set-user-id root file run by uid 1000: euid and saved uid 0, every capability in the bounding set, AT_SECURE, not dumpable', () => {
    const out = same(['/suid/root'], (c) => (c.process.capabilities.bounding = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID']));
    expect(out).toBe('TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0\nCapPrm:\t00000000000000a1\nCapEff:\t00000000000000a1\n');
  });

  it('noNewPrivileges true: no rise', () => {
    const out = same(['/suid/root'], (c) => (c.process.noNewPrivileges = true));
    expect(out).toBe(`TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n${NO_CAPS}`);
  });

  it('a nosuid bind mount: no rise', () => {
    const out = same(['/ns/root']);
    expect(out).toBe(`TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n${NO_CAPS}`);
  });

  it('set-group-id with group execute: egid and saved gid rise; without group execute: nothing', () => {
    const out = same(['/bin/sh', '-c', '/suid/sgid; /suid/sgid-noexec']);
    expect(out).toBe(
      `TAG:good uid 1000 1000 1000 gid 1000 50 50 secure 1 dumpable 0\n${NO_CAPS}TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n${NO_CAPS}`,
    );
  });

  it('a set-user-id file of another user, one only its group may execute, a plain one, and through a script', () => {
    fs.writeFileSync(path.join(work, 'script'), '#!/suid/root\n');
    fs.chmodSync(path.join(work, 'script'), 0o755);
    const out = same(['/bin/sh', '-c', '/suid/user; /suid/execonly; /suid/plain; /w/script']);
    expect(out.split('\n').filter((l) => l.startsWith('TAG'))).toEqual([
      'TAG:good uid 1000 2000 2000 gid 1000 1000 1000 secure 1 dumpable 0',
      'TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0',
      'TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1',
      'TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0',
    ]);
  });

  it.skipIf(!fs.existsSync(SETCAP))('no_new_privs set by the process itself (setpriv --nnp) before the exec: no rise, as under runc', () => {
    const out = same(['/bin/sh', '-c', 'setpriv --nnp /suid/root; setpriv --nnp /suid/caps'], (c) => (c.process.capabilities.bounding = DOCKER_CAPS));
    expect(out).toBe(
      `TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n${NO_CAPS}TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 1 dumpable 1\n${NO_CAPS}`,
    );
  });

  it.skipIf(!fs.existsSync(SETCAP))('file capabilities (cap_net_raw,cap_kill+ep) run by uid 1000: raised; the exec refused when the bounding set lacks one; with noNewPrivileges true, only those already permitted, and AT_SECURE', () => {
    const caps = (bounding: string[]) => same(['/bin/sh', '-c', '/suid/caps; echo "status=$?"'], (c) => (c.process.capabilities.bounding = bounding));
    expect(caps(DOCKER_CAPS)).toBe('TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 1 dumpable 0\nCapPrm:\t0000000000002020\nCapEff:\t0000000000002020\nstatus=0\n');
    // A file capability the bounding set lacks, with the effective bit: Linux refuses the exec.
    expect(caps(['CAP_KILL'])).toBe('status=126\n');
    // no_new_privs keeps what the process already had (KILL, of the spec's permitted set).
    const nnp = same(['/suid/caps'], (c) => {
      c.process.capabilities.bounding = DOCKER_CAPS;
      c.process.noNewPrivileges = true;
    });
    expect(nnp).toBe('TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 1 dumpable 1\nCapPrm:\t0000000000000020\nCapEff:\t0000000000000020\n');
  });

  it.skipIf(!fs.existsSync(SETPRIV))('a set-user-id file in a bind mount without nosuid: chmod and chown take effect at the next exec', () => {
    const asUser = '/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups /w/c | head -1 | cut -d" " -f2-9';
    const script = `cp /suid/plain /w/c; chown 2000:2000 /w/c; ${asUser}; chmod 4755 /w/c; ${asUser}; chmod 755 /w/c; ${asUser}; chmod 6755 /w/c; ${asUser}; chown 3000 /w/c; chmod 4755 /w/c; ${asUser}`;
    const out = same(['/bin/sh', '-c', script], (c) => {
      c.process.user = { uid: 0, gid: 0 };
      for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = DOCKER_CAPS;
    });
    expect(out).toBe(['uid 1000 1000 1000 gid 1000 1000 1000', 'uid 1000 2000 2000 gid 1000 1000 1000', 'uid 1000 1000 1000 gid 1000 1000 1000', 'uid 1000 2000 2000 gid 1000 2000 2000', 'uid 1000 3000 3000 gid 1000 1000 1000', ''].join('\n'));
  });

  it('a writer clears the bits: a world-writable set-user-id root file rewritten by uid 1000 runs without a rise', () => {
    const out = same(['/bin/sh', '-c', '/w/ww | head -1; cat /suid/plain > /w/ww; /w/ww | head -1; stat -c %a /w/ww'], undefined, () => place(path.join(work, 'ww'), 0, 0, 0o4777));
    expect(out).toBe('TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0\nTAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n777\n');
  });

  it.skipIf(!fs.existsSync(SETCAP))("under the spec's user namespace, file capabilities root sets on a host file are its own (version 3, the container root's host id), as runc writes them: never a value the host's root would be taken to have set", () => {
    fs.chmodSync(base, 0o711);
    const mapped = path.join(base, 'mapped-caps');
    fs.cpSync(rootfs, mapped, { recursive: true, verbatimSymlinks: true });
    execFileSync('chown', ['-R', '-h', '100000:100000', mapped]);
    const onHost: Record<string, string> = {};
    for (const rt of RUNTIMES) {
      place(path.join(mapped, 'c'), 100000, 100000, 0o755);
      const out = run(rt, ['/bin/sh', '-c', 'setcap cap_net_raw+ep /c'], (c) => {
        c.root = { path: mapped, readonly: false };
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.process.user = { uid: 0, gid: 0 };
        for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = [...DOCKER_CAPS, 'CAP_SYS_ADMIN'];
        c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/w' && m.destination !== '/ns');
      });
      expect(out.status, `${rt}: ${JSON.stringify(out)}`).toBe(0);
      onHost[rt] = execFileSync('python3', ['-c', 'import os,sys; print(os.getxattr(sys.argv[1], "security.capability").hex())', path.join(mapped, 'c')], { encoding: 'latin1' });
    }
    expect(onHost.tsvisor).toBe(onHost.runc);
  });

  it("under the spec's user namespace (Docker's userns-remap): the container's owners rise, a host owner it does not map does not; the store's copies run as runc's files do", () => {
    // A root owned by the mapped ids (container 0 is host 100000), as Docker's userns-remap prepares it.
    fs.chmodSync(base, 0o711);
    const mapped = path.join(base, 'mapped-root');
    fs.cpSync(rootfs, mapped, { recursive: true, verbatimSymlinks: true });
    execFileSync('chown', ['-R', '-h', '100000:100000', mapped]);
    place(path.join(mapped, 'suid/root'), 100000, 100000, 0o4755);
    place(path.join(mapped, 'suid/sgid'), 100000, 100050, 0o2755);
    place(path.join(mapped, 'suid/user'), 102000, 102000, 0o4755);
    place(path.join(mapped, 'suid/hostroot'), 0, 0, 0o4755); // host root: no id of the container's
    const out = same(['/bin/sh', '-c', '/suid/root; /suid/sgid; /suid/user; /suid/hostroot'], (c) => {
      c.root = { path: mapped, readonly: false };
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.process.capabilities.bounding = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID'];
      c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/w' && m.destination !== '/ns');
    });
    expect(out.split('\n').filter((l) => l.startsWith('TAG'))).toEqual([
      'TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0',
      'TAG:good uid 1000 1000 1000 gid 1000 50 50 secure 1 dumpable 0',
      'TAG:good uid 1000 2000 2000 gid 1000 1000 1000 secure 1 dumpable 0',
      'TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1',
    ]);
  });
});

/** Root with Docker's capabilities runs `script`; AS_USER runs a command as uid 1000. */
function asRoot(c: Record<string, any>): void {
  c.process.user = { uid: 0, gid: 0 };
  for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = DOCKER_CAPS;
}
const AS_USER = '/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups';

describe('set-id files the Sentry keeps in memory, as runc', () => {
  const tmpfs = (c: Record<string, any>) => {
    asRoot(c);
    c.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['exec', 'size=4m'] });
    c.mounts.push({ destination: '/n', type: 'tmpfs', source: 'tmpfs', options: ['exec', 'nosuid', 'size=4m'] });
  };

  it.skipIf(!fs.existsSync(SETPRIV))('a set-id file root made in a tmpfs: uid 1000 rises unless the tmpfs is nosuid; a write or truncation by uid 1000 clears the bits', () => {
    const script = [
      `cp /suid/plain /t/x; chmod 4755 /t/x; ${AS_USER} /t/x | head -1`,
      `cp /suid/plain /n/x; chmod 4755 /n/x; ${AS_USER} /n/x | head -1`,
      `cp /suid/plain /t/g; chgrp 50 /t/g; chmod 2755 /t/g; ${AS_USER} /t/g | head -1; stat -c %a /t/g`,
      `chmod 4777 /t/x; ${AS_USER} sh -c 'cat /suid/plain >> /t/x'; stat -c %a /t/x; ${AS_USER} /t/x | head -1`,
      `chmod 4777 /t/x; ${AS_USER} sh -c ': > /t/x'; stat -c %a /t/x`,
      `cp /suid/plain /t/y; chmod 4777 /t/y; ${AS_USER} truncate -s 100000 /t/y; stat -c %a /t/y`,
    ].join('\n');
    expect(same(['/bin/sh', '-c', script], tmpfs)).toBe(
      [
        'TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0',
        'TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1',
        'TAG:good uid 1000 1000 1000 gid 1000 50 50 secure 1 dumpable 0',
        '2755',
        '777',
        'TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1',
        '777',
        '777',
        '',
      ].join('\n'),
    );
  });

  it.skipIf(!fs.existsSync(SETCAP) || !fs.existsSync(SETPRIV))('file capabilities root set in a tmpfs (CAP_SETFCAP): raised for uid 1000; a write removes them', () => {
    // A value that is no capability set: Linux refuses it (EINVAL) and keeps the one the file has.
    const bad = path.join(base, 'badcap.c');
    fs.writeFileSync(bad, '#include <errno.h>\n#include <stdio.h>\n#include <string.h>\n#include <sys/xattr.h>\nint main(int c, char **v) { int r = setxattr(v[1], "security.capability", "junk", 4, 0); printf("setxattr %d %s\\n", r, r ? strerror(errno) : ""); return 0; }\n');
    execFileSync('gcc', ['-O2', '-static', '-o', path.join(work, 'badcap'), bad], { stdio: 'pipe' });
    const script = [
      `cp /suid/plain /t/c; setcap cap_net_raw,cap_kill+ep /t/c; /w/badcap /t/c; getcap /t/c; ${AS_USER} /t/c`,
      `cat /suid/plain >> /t/c; getcap /t/c; ${AS_USER} /t/c`,
    ].join('\n');
    expect(same(['/bin/sh', '-c', script], tmpfs)).toBe(
      `setxattr -1 Invalid argument\n/t/c cap_kill,cap_net_raw=ep\nTAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 1 dumpable 1\nCapPrm:\t0000000000002020\nCapEff:\t0000000000002020\nTAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n${NO_CAPS}`,
    );
  });

  it.skipIf(!fs.existsSync(SETPRIV))('rewriting a world-writable set-user-id root file in a tmpfs while uid 1000 execs it in a loop never runs the new content with raised ids', () => {
    const loop = `(until { cat /w/e > /t/ww; } 2>/dev/null; do :; done) & i=0; while [ $i -lt 100 ]; do /t/ww 2>/dev/null | head -1; i=$((i+1)); done > /t/d/out; wait`;
    // The output in a directory of its own: runc gives the tmpfs's root the mode of the mount point once that exists (755).
    const script = [
      `mkdir -m 1777 /t/d; cp /suid/root /t/ww; chmod 4777 /t/ww; ${AS_USER} sh -c '${loop}'`,
      'grep -q TAG:evil /t/d/out && echo evil-ran',
      'grep TAG:evil /t/d/out | grep -v "uid 1000 1000 1000 gid 1000 1000 1000 secure 0" | head -3',
    ].join('\n');
    expect(same(['/bin/sh', '-c', script], tmpfs, () => place(path.join(work, 'e'), 1000, 1000, 0o755, 'evil'))).toBe('evil-ran\n');
  });

  // The Sentry takes in what a write cleared on the host, applies a change of times, then gives the host the bits it
  // shows: a write between the first and the last step had its cleared bits set again, over the new content.
  it.skipIf(!fs.existsSync(SETPRIV))('uid 1000 rewriting a world-writable set-user-id root file in a tmpfs while touching it never keeps the bits', () => {
    const script = [`cp /suid/root /t/tr; chmod 4777 /t/tr; /w/touchrace /t/tr /w/e 300`, `${AS_USER} /t/tr | head -1`].join('\n');
    expect(same(['/bin/sh', '-c', script], tmpfs, () => place(path.join(work, 'e'), 1000, 1000, 0o755, 'evil'))).toBe(
      '777\nTAG:evil uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n',
    );
  });

  // runc's root (no user namespace) holds CAP_FSETID on the host; tsvisor's guest does not, so its write clears the bits there (docs/design.md).
  it.skipIf(!fs.existsSync(SETPRIV))('a write by root to a set-user-id file in a tmpfs: runc keeps the bits, tsvisor clears them (a difference)', () => {
    const script = `cp /suid/plain /t/x; chmod 4755 /t/x; cat /suid/plain >> /t/x; stat -c %a /t/x; ${AS_USER} /t/x | head -1`;
    expect(run('runc', ['/bin/sh', '-c', script], tmpfs).stdout).toBe('4755\nTAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0\n');
    expect(run('tsvisor', ['/bin/sh', '-c', script], tmpfs).stdout).toBe('755\nTAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n');
  });

  // tsvisor --overlay keeps the root's writes in memory; runc writes a copy of the root (as Docker's overlay root).
  it.skipIf(!fs.existsSync(SETPRIV))('--overlay: a set-group-id root file, a root file made set-user-id (copied up) and a new set-user-id file rise for uid 1000', () => {
    const script = [
      `${AS_USER} /suid/sgid | head -1`,
      `chmod 4755 /suid/plain; ${AS_USER} /suid/plain | head -1`,
      `cp /suid/user /tmp/n; chmod 4755 /tmp/n; ${AS_USER} /tmp/n | head -1`,
      `chmod 777 /suid/root; ${AS_USER} /suid/root | head -1`,
    ].join('\n');
    const out: Record<string, Outcome> = {};
    for (const rt of RUNTIMES) {
      const scratch = path.join(base, `root-${rt}`);
      if (rt === 'runc') execFileSync('cp', ['-a', rootfs, scratch]);
      const dir = specBundle(path.join(base, `b${counter++}`), rt === 'runc' ? scratch : rootfs, ['/bin/sh', '-c', script], (c) => {
        c.process.noNewPrivileges = false;
        c.root.readonly = false;
        asRoot(c);
      });
      out[rt] = runBundle(rt, base, dir, ['--overlay']);
      rmrf(scratch);
    }
    expect(out.tsvisor).toEqual(out.runc);
    expect(out.tsvisor!.stdout).toBe(
      [
        'TAG:good uid 1000 1000 1000 gid 1000 50 50 secure 1 dumpable 0',
        'TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0',
        'TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0',
        'TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1',
        '',
      ].join('\n'),
    );
  });
});

/**
 * Creates a container whose first process sleeps with no_new_privs set, runs
 * `args` in it by `exec --process` with noNewPrivileges false as uid 1000,
 * and removes it: the exec's outcome.
 */
function execInto(rt: Runtime, args: string[]): Outcome {
  const id = `x${process.pid}-${counter}`;
  const dir = specBundle(path.join(base, `b${counter++}`), rootfs, ['/bin/sleep', '60'], (c) => (c.process.noNewPrivileges = true));
  const rtArgv = rt === 'runc' ? ['runc', '--root', path.join(base, 'state-runc')] : [TSVISOR, '--root', path.join(base, 'state-tsvisor')];
  const call = (a: string[], stdio: 'ignore' | 'pipe' = 'pipe') => spawnSync(rtArgv[0]!, [...rtArgv.slice(1), ...a], { encoding: 'utf8', timeout: 60000, stdio: ['ignore', stdio, stdio] });
  const proc = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).process;
  Object.assign(proc, { args, user: { uid: 1000, gid: 1000 }, noNewPrivileges: false });
  fs.writeFileSync(path.join(dir, 'exec.json'), JSON.stringify(proc));
  try {
    expect(call(['create', '--bundle', dir, id], 'ignore').status, `${rt} create`).toBe(0);
    expect(call(['start', id]).status, `${rt} start`).toBe(0);
    const r = call(['exec', '--process', path.join(dir, 'exec.json'), id]);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    call(['delete', '--force', id]);
  }
}

describe('exec into a running container', () => {
  it('a container whose first process has no_new_privs: a later exec without it rises, as under runc (its own no_new_privs decides)', () => {
    const out = Object.fromEntries(RUNTIMES.map((rt) => [rt, execInto(rt, ['/suid/root'])]));
    expect(out.tsvisor).toEqual(out.runc);
    expect(out.tsvisor!.stdout.split('\n')[0]).toBe('TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0');
  });
});

describe('su', () => {
  // The host's su and pam_unix; root's password is empty (nullok), so only reading /etc/shadow, which needs the rise, lets uid 1000 in.
  it.skipIf(!fs.existsSync('/bin/su') || !fs.existsSync(PAM_UNIX))('su -c id as uid 1000 becomes root', () => {
    const out = same(['/bin/su', '-c', 'id', 'root'], (c) => {
      c.root.path = suRoot;
      c.process.capabilities.bounding = DOCKER_CAPS;
    });
    expect(out).toBe('uid=0(root) gid=0(root) groups=0(root)\n');
  });
});

describe('sudo', () => {
  // Debian's sudo, with a NOPASSWD sudoers entry for uid 1000.
  // One difference, not of set-id exec: sudo's audit message, which the
  // Sentry sends for the guest, is refused (the socket's opener has no
  // CAP_AUDIT_WRITE on the host); sudo says so and goes on.
  it.skipIf(!fs.existsSync(SUDO) || !fs.existsSync(PAM_UNIX))('sudo -n id as uid 1000 becomes root', () => {
    const edit = (c: Record<string, any>) => {
      c.root.path = suRoot;
      c.process.capabilities.bounding = DOCKER_CAPS;
    };
    const runc = run('runc', ['/usr/bin/sudo', '-n', 'id'], edit);
    const tsvisor = run('tsvisor', ['/usr/bin/sudo', '-n', 'id'], edit);
    expect(runc).toEqual({ status: 0, stdout: 'uid=0(root) gid=0(root) groups=0(root)\n', stderr: '' });
    expect(tsvisor).toEqual({ ...runc, stderr: 'sudo: unable to send audit message: Operation not permitted\n' });
  });
});

describe('adversarial', () => {
  it('a process of the same real ids cannot read the memory or environment of a set-id process, whose /proc files root owns (not dumpable)', () => {
    const probe = (prog: string) =>
      `${prog} 2 >/dev/null & p=$!; sleep 1; cat /proc/$p/environ >/dev/null 2>&1; echo "environ=$?"; ls /proc/$p/fd >/dev/null 2>&1; echo "fd=$?"; stat -c %u /proc/$p/status /proc/$p; wait`;
    const out = same(['/bin/sh', '-c', [probe('/suid/sgid'), probe('/suid/root'), probe('/suid/plain')].join('; ')]);
    expect(out).toBe('environ=1\nfd=1\n0\n1000\nenviron=1\nfd=1\n0\n0\nenviron=0\nfd=0\n1000\n1000\n');
  });


  it.skipIf(!fs.existsSync(SETPRIV))("a root process without capabilities cannot open the mem, environ, auxv or maps of a root process that has them, nor read its exe, cwd or fd links (Linux's capability subset rule)", () => {
    const drop = `${SETPRIV} --inh-caps=-all --ambient-caps=-all --bounding-set=-all`;
    const probe = (file: string) => `${drop} cat /proc/$p/${file} >/dev/null 2>&1; echo "${file}=$?"`;
    const link = (name: string) => `${drop} readlink /proc/$p/${name} >/dev/null 2>&1; echo "${name}=$?"`;
    const script = ['sleep 2 & p=$!', 'cat /proc/$p/environ >/dev/null; echo "with caps=$?"', ...['mem', 'environ', 'auxv', 'maps'].map(probe), ...['exe', 'cwd', 'fd/1'].map(link), 'kill $p; wait'].join('; ');
    const out = same(['/bin/sh', '-c', script], (c) => {
      c.process.user = { uid: 0, gid: 0 };
      for (const set of ['bounding', 'effective', 'permitted']) c.process.capabilities[set] = DOCKER_CAPS;
    });
    expect(out).toBe('with caps=0\nmem=1\nenviron=1\nauxv=1\nmaps=1\nexe=1\ncwd=1\nfd/1=1\n');
  });

  it('/proc/PID/mem opened by two threads while the child execs a set-user-id root file never reaches the new image (the check holds until the open is made)', () => {
    const out = same(['/suid/memrace-plain', 'attack', '/suid/memrace', '8']);
    expect(out).toBe("the set-id process's memory: not reached\n");
  });

  it('renaming an own file and a set-user-id root file over the exec\'d name from another process never runs the own file with raised ids', () => {
    place(path.join(work, 'g'), 0, 0, 0o4755, 'good');
    place(path.join(work, 'e'), 1000, 1000, 0o755, 'evil');
    const script = [
      '(while [ ! -e /w/stop ]; do mv -f /w/g /w/x; mv -f /w/x /w/g; mv -f /w/e /w/x; mv -f /w/x /w/e; done) &',
      'i=0; while [ $i -lt 150 ]; do /w/x 2>/dev/null | head -1; i=$((i+1)); done > /w/out',
      'touch /w/stop; wait',
      'grep -c "TAG:evil uid 1000 1000 1000" /w/out >/dev/null && echo evil-ran',
      'grep "TAG:evil" /w/out | grep -v "TAG:evil uid 1000 1000 1000 gid 1000 1000 1000 secure 0" | head -3',
      'grep "TAG:good" /w/out | grep -v "TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0" | head -3',
      'rm -f /w/stop /w/out',
    ].join('\n');
    for (const rt of RUNTIMES) {
      const r = run(rt, ['/bin/sh', '-c', script], () => {});
      // The evil file ran at least once, never with raised ids; the good one never without.
      expect(r, rt).toEqual({ status: 0, stdout: 'evil-ran\n', stderr: '' });
      for (const f of ['g', 'e', 'x']) fs.rmSync(path.join(work, f), { force: true });
      place(path.join(work, 'g'), 0, 0, 0o4755, 'good');
      place(path.join(work, 'e'), 1000, 1000, 0o755, 'evil');
    }
  });

  it('rewriting a world-writable set-user-id root file while it is exec\'d in a loop never runs the new content with raised ids', () => {
    const script = [
      '(until { cat /w/e > /w/ww; } 2>/dev/null; do :; done) &',
      'i=0; while [ $i -lt 100 ]; do /w/ww 2>/dev/null | head -1; i=$((i+1)); done > /w/out; wait',
      'grep -q TAG:evil /w/out && echo evil-ran',
      'grep TAG:evil /w/out | grep -v "uid 1000 1000 1000 gid 1000 1000 1000 secure 0" | head -3',
      'rm /w/out',
    ].join('\n');
    const out = same(['/bin/sh', '-c', script], undefined, () => {
      place(path.join(work, 'ww'), 0, 0, 0o4777, 'good');
      place(path.join(work, 'e'), 1000, 1000, 0o755, 'evil');
    });
    expect(out).toBe('evil-ran\n');
  });

  // The root has a file /0, so the Sentry finds "/../0" and leaves the lookup to the kernel, in the guest's native root.
  it('the kernel cannot load a copy as an ELF interpreter: "/../0" (the store\'s first copy, were the store reachable) is the root\'s /0', () => {
    const prog = path.join(work, 'interp');
    execFileSync('gcc', ['-O2', '-o', prog, path.join(base, 'setid.c'), '-Wl,--dynamic-linker=/../0'], { stdio: 'pipe' });
    const out = same(['/bin/sh', '-c', '/suid/root | head -1; /w/interp 2>/dev/null; echo "status=$?"']);
    // The root's /0 is no ELF file: the kernel refuses it (ELIBBAD); the store's copy would have run.
    expect(out).toBe('TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0\nstatus=126\n');
  });

  // A deliberate difference (docs/design.md): the store holds at most 64 MiB.
  it('a set-user-id file larger than the set-id store runs without a rise, where runc raises the ids', () => {
    const big = path.join(work, 'big');
    place(big, 0, 0, 0o4755);
    fs.appendFileSync(big, Buffer.alloc(65 << 20));
    fs.chmodSync(big, 0o4755);
    const line = (rt: Runtime) => run(rt, ['/bin/sh', '-c', '/w/big | head -1'], () => {}).stdout;
    expect(line('runc')).toBe('TAG:good uid 1000 0 0 gid 1000 1000 1000 secure 1 dumpable 0\n');
    expect(line('tsvisor')).toBe('TAG:good uid 1000 1000 1000 gid 1000 1000 1000 secure 0 dumpable 1\n');
    fs.rmSync(big);
  });

  it('more distinct set-id files than the store keeps copies of, each run twice: every exec rises to its owner', () => {
    const n = 40;
    for (let i = 0; i < n; i++) place(path.join(work, `s${i}`), 2000 + i, 1000, 0o4755);
    const script = `for r in 1 2; do i=0; while [ $i -lt ${n} ]; do /w/s$i | head -1 | cut -d" " -f3-4; i=$((i+1)); done; done`;
    const expected = Array.from({ length: n }, (_, i) => `1000 ${2000 + i}\n`).join('');
    expect(same(['/bin/sh', '-c', script])).toBe(expected + expected);
  });
});
