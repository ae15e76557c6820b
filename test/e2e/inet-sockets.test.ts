// Inet and netlink sockets: test/programs/inet.c runs each group of cases
// natively and under tsvisor do and prints what every call returned; the
// outputs must be the same. The native run is in a network namespace of its
// own with loopback up, as the sandbox's (tsvisor do's default network).
import { describe, expect, it } from 'vitest';
import { runNative, runSandbox } from './harness.js';
import { cProgram, expectSameRun } from './differential.js';

const program = cProgram('inet');

function nativeInNetns(argv: string[]) {
  return runNative(['unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...argv], { timeoutMs: 120000 });
}

describe('inet and netlink sockets behave as natively', () => {
  it.each([
    ['sendall', 'blocking stream sends larger than the send buffer and than one Sentry copy; SO_SNDTIMEO partial count'],
    ['netlink', 'netlink port ids: bind, connect and sendmsg bind to the pid; a second socket, rebinding, the reply\'s port'],
    ['ioctl', 'interface queries on lo: SIOCGIFTXQLEN, SIOCGIFMTU, SIOCETHTOOL gets'],
    ['procnet', "/proc/net/{tcp,udp,raw}[6]: the uid column of the guest's sockets (root's, uid 1000's, a raw socket the Sentry made) as the guest's user namespace sees it"],
    ['unpriv', 'without CAP_NET_ADMIN/CAP_NET_RAW: netlink multicast sends and SO_MARK control messages are EPERM (the Sentry sends with no capability)'],
  ])('%s: %s', (cmd) => {
    const native = nativeInNetns([program.path, cmd]);
    const sandbox = runSandbox([program.path, cmd], { timeoutMs: 120000 });
    expectSameRun(native, sandbox);
  });
});

describe('/proc/sys/net', () => {
  it('is the network namespace\'s, read-only for the sandbox\'s root as for an unprivileged process (secrets such as tcp_fastopen_key unreadable)', () => {
    const native = runNative(
      ['unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && exec setpriv --reuid 65534 --regid 65534 --clear-groups "$@"', 'sh', program.path, 'sysctl'],
      { timeoutMs: 120000 },
    );
    const sandbox = runSandbox([program.path, 'sysctl'], { timeoutMs: 120000 });
    expect(native.status).toBe(0);
    expect(native.stdout).toContain('ipv4/ip_local_port_range: "');
    expect({ stdout: sandbox.stdout, stderr: sandbox.stderr, status: sandbox.status }).toEqual({
      stdout: native.stdout,
      stderr: native.stderr,
      status: native.status,
    });
  });
});

describe('sharing the host network, the guest is as unprivileged as in its own', () => {
  it('netlink multicast sends, SO_MARK control messages and setsockopt are EPERM even for the sandbox\'s root', () => {
    const r = runSandbox([program.path, 'unpriv', 'keep-caps'], { doFlags: ['--network', 'host'], timeoutMs: 120000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('sendto a route group: -1 EPERM\n');
    expect(r.stdout).toContain('sendmsg to a route group: -1 EPERM\n');
    expect(r.stdout).toContain('connect to a route group: -1 EPERM\n');
    expect(r.stdout).toContain('udp sendmsg with SO_MARK: -1 EPERM\n');
    expect(r.stdout).toContain('setsockopt SO_MARK: -1 EPERM\n');
    expect(r.stdout).toContain('ethtool ETHTOOL_SMSGLVL: -1 EPERM\n');
    expect(r.status).toBe(0);
  });
});
