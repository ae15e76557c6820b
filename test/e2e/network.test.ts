// The sandbox's network as programs see it: its own namespace with loopback
// by default, the host's with --network host. Raw sockets (ping) are made by
// the Sentry in the sandbox's own namespace, never in the host's.
import { describe, expect, it } from 'vitest';
import { runNative, runSandbox } from './harness.js';

const ping = ['/bin/busybox', 'ping', '-c', '1', '-W', '2', '127.0.0.1'];
/** ping's output without its timings. */
const untimed = (s: string) => s.replace(/time=[\d.]+ ms/g, 'time=T ms').replace(/min\/avg\/max = [\d./]+ ms/g, 'min/avg/max = T ms');

describe('raw sockets', () => {
  it('ping works in the sandbox\'s own network namespace, as natively', () => {
    const native = runNative(ping);
    const sandbox = runSandbox(ping);
    expect(native.status).toBe(0);
    expect({ status: sandbox.status, stdout: untimed(sandbox.stdout), stderr: sandbox.stderr }).toEqual({
      status: native.status,
      stdout: untimed(native.stdout),
      stderr: native.stderr,
    });
  });

  it('with --network host, a raw socket is refused: the guest gets no privilege over the host network', () => {
    const r = runSandbox(['/bin/busybox', 'sh', '-c', 'busybox ping -c1 -W1 127.0.0.1 >/dev/null; echo "[$?]"'], { doFlags: ['--network', 'host'] });
    expect(r.stdout).toBe('[1]\n');
    expect(r.stderr).toBe('ping: permission denied (are you root?)\n');
  });
});
