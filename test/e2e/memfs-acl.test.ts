// Access ACLs of the Sentry's in-memory files (the overlay's upper layer,
// tmpfs), which sed -i, cp -p and other gnulib programs set on the files they
// make: one that only restates the mode sets the mode and is not kept, as on
// Linux, natively and in the sandbox alike.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rmrf, runNative, runSandbox, tempDir } from './harness.js';

/** Sets a minimal access ACL (rwx, r-x, --x) on each file, then a malformed one; prints mode, getxattr's result, the malformed set's. */
const ACL_SCRIPT = `
import errno, os, struct, sys
entry = lambda tag, perm: struct.pack('<HHI', tag, perm, 0xffffffff)
acl = struct.pack('<I', 2) + entry(1, 7) + entry(4, 5) + entry(0x20, 1)
def errname(f):
    try:
        f()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
for f in sys.argv[1:]:
    os.setxattr(f, 'system.posix_acl_access', acl)
    got = errname(lambda: os.getxattr(f, 'system.posix_acl_access'))
    bad = errname(lambda: os.setxattr(f, 'system.posix_acl_access', b'\\x02\\x00\\x00\\x00\\x01'))
    print(oct(os.stat(f).st_mode & 0o7777), got, bad)
`;

describe('access ACLs of in-memory files', () => {
  it('an ACL that restates the mode sets the mode and is not kept, as natively (host file copied up, new file, tmpfs)', () => {
    const dir = tempDir('acl');
    try {
      fs.writeFileSync(path.join(dir, 'host.txt'), 'on the host\n', { mode: 0o644 });
      const script = `echo new > new.txt && echo shm > /dev/shm/acl-$$ && chmod 644 new.txt /dev/shm/acl-$$ && /usr/bin/python3 -c "$1" host.txt new.txt /dev/shm/acl-$$; rm /dev/shm/acl-$$`;
      const argv = ['/bin/sh', '-c', script, 'sh', ACL_SCRIPT];
      const n = runNative(argv, { cwd: dir });
      fs.chmodSync(path.join(dir, 'host.txt'), 0o644);
      const s = runSandbox(argv, { cwd: dir });
      expect(n.stdout).toBe('0o751 ENODATA EINVAL\n'.repeat(3));
      expect(s.stderr).toBe('');
      expect(s.stdout).toBe(n.stdout);
    } finally {
      rmrf(dir);
    }
  });
});
