// Filters the guest installs itself stack on tsvisor's, as on Linux: their
// actions apply, and one that asks for a ptrace stop makes the call fail
// with ENOSYS when nothing traces the process (tsvisor does not act as the
// guest's tracer, and the Sentry's own trace stops are told apart by their
// data).
import { describe, expect, it } from 'vitest';
import { runNative, runSandbox } from './harness.js';

/** Python that installs a filter returning ACTION (with its data) for getppid, then calls it. */
const program = (action: string) => `
import ctypes, struct, errno
libc = ctypes.CDLL(None, use_errno=True)
insns = [(0x20, 0, 0, 0), (0x15, 0, 1, 110), (0x06, 0, 0, ${action}), (0x06, 0, 0, 0x7fff0000)]
code = ctypes.create_string_buffer(b''.join(struct.pack('HBBI', *i) for i in insns))
prog = struct.pack('HxxxxxxQ', len(insns), ctypes.addressof(code))
assert libc.prctl(38, 1, 0, 0, 0) == 0
assert libc.prctl(22, 2, ctypes.c_char_p(prog), 0, 0) == 0, errno.errorcode[ctypes.get_errno()]
r = libc.syscall(110)
print(r, errno.errorcode.get(ctypes.get_errno(), 0) if r < 0 else 'ok')
`;

describe('seccomp filters installed by the guest', () => {
  it.each([
    ['SECCOMP_RET_TRACE without a tracer', '0x7ff01234', '-1 ENOSYS\n'],
    ['SECCOMP_RET_ERRNO', '0x00050001', '-1 EPERM\n'],
  ])('%s: as on Linux', (_what, action, expected) => {
    const argv = ['/usr/bin/python3', '-c', program(action)];
    const native = runNative(argv);
    const sandbox = runSandbox(argv);
    expect(native.stdout).toBe(expected);
    expect({ status: sandbox.status, stdout: sandbox.stdout, stderr: sandbox.stderr }).toEqual({ status: native.status, stdout: native.stdout, stderr: native.stderr });
  });
});
