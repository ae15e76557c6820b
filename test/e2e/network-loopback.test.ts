// A private network without loopback (SandboxSpec.loopback false, tsvisor
// test --network none) against a network namespace nobody configured, and
// the default private network (tsvisor do --network none) against one whose
// loopback is up: a local server, a connection to a closed port.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runWithEvents } from './access-run.js';
import { rmrf, runNative, tempDir } from './harness.js';

const PROBE = `import errno, socket
def name(e): return errno.errorcode[e.errno]
srv = socket.socket()
try:
    srv.bind(('127.0.0.1', 0)); srv.listen(); socket.create_connection(srv.getsockname()); print('server ok')
except OSError as e:
    print('server', name(e))
for family, addr in ((socket.AF_INET, ('127.0.0.1', 9)), (socket.AF_INET6, ('::1', 9))):
    s = socket.socket(family)
    try:
        s.connect(addr); print('connect ok')
    except OSError as e:
        print('connect', name(e))
`;

describe('network none', () => {
  it('without loopback is a network namespace nobody configured; with it (the default) one whose loopback is up', () => {
    const dir = tempDir('loopback');
    try {
      const probe = path.join(dir, 'probe.py');
      fs.writeFileSync(probe, PROBE);
      const bare = runNative(['unshare', '-n', '/usr/bin/python3', probe]);
      const up = runNative(['unshare', '-n', 'sh', '-c', `ip link set lo up && /usr/bin/python3 ${probe}`]);
      expect(bare.stdout).toBe('server ENETUNREACH\nconnect ENETUNREACH\nconnect EADDRNOTAVAIL\n');
      expect(up.stdout.split('\n')[0]).toBe('server ok');
      const isolated = runWithEvents(['/usr/bin/python3', probe], { flags: ['--network', 'none', '--no-loopback'] });
      expect({ stdout: isolated.stdout, status: isolated.status }).toEqual({ stdout: bare.stdout, status: bare.status });
      const loopback = runWithEvents(['/usr/bin/python3', probe], { flags: ['--network', 'none'] });
      expect({ stdout: loopback.stdout, status: loopback.status }).toEqual({ stdout: up.stdout, status: up.status });
    } finally {
      rmrf(dir);
    }
  });
});
