// DEVICE, malformed requests, the Gofer's death and start-up failures, and the codec.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ERRNO } from '../../src/abi/errno.js';
import { O_RDONLY, O_RDWR, O_WRONLY, S_IFCHR, S_IFMT } from '../../src/abi/linux.js';
import { GoferClient } from '../../src/gofer/client.js';
import { GOFER_ENTRY } from '../../src/paths.js';
import { isValidName, isValidPath, Op, ProtocolError, Reader, RECV_BUFFER, Writer } from '../../src/gofer/protocol.js';
import { GOFER_SYSCALLS } from '../../src/gofer/syscalls.js';
import { native, STATX } from '../../src/platform/native.js';
import { cleanup, closeFd, isDead, makedev, mkTmp, startGofer, waitFor } from './helpers.js';

const { EACCES, EINVAL, EIO, ENOSPC } = ERRNO;

afterAll(cleanup);

describe('DEVICE', () => {
  let g: GoferClient;
  beforeAll(() => {
    g = startGofer([]).client;
  });

  function dev(name: string, flags: number): { fd: number; stat: Float64Array } {
    const r = g.device(name, flags);
    if (typeof r === 'number') throw new Error(`device ${name}: ${r}`);
    expect(r.stat[STATX.mode]! & S_IFMT).toBe(S_IFCHR);
    expect(fs.fstatSync(r.fd).isCharacterDevice()).toBe(true);
    return r;
  }

  it('opens null, zero, full and urandom from the host', () => {
    const n = dev('null', O_RDWR);
    expect([n.stat[STATX.rdevMajor], n.stat[STATX.rdevMinor]]).toEqual([1, 3]);
    expect(fs.writeSync(n.fd, 'discarded')).toBe(9);
    expect(fs.readSync(n.fd, Buffer.alloc(8))).toBe(0);
    closeFd(n.fd);

    const z = dev('zero', O_RDONLY);
    const b = Buffer.alloc(16, 0xaa);
    expect(fs.readSync(z.fd, b)).toBe(16);
    expect(b.every((x) => x === 0)).toBe(true);
    closeFd(z.fd);

    const f = dev('full', O_WRONLY);
    expect(() => fs.writeSync(f.fd, 'x')).toThrow(expect.objectContaining({ errno: -ENOSPC }));
    closeFd(f.fd);

    const u = dev('urandom', O_RDONLY);
    const r = Buffer.alloc(32);
    expect(fs.readSync(u.fd, r)).toBe(32);
    expect(r.some((x) => x !== 0)).toBe(true);
    closeFd(u.fd);
    closeFd(dev('random', O_RDONLY).fd);
  });

  it('opens ptmx from a private devpts instance', () => {
    const p = dev('ptmx', O_RDWR);
    expect([p.stat[STATX.rdevMajor], p.stat[STATX.rdevMinor]]).toEqual([5, 2]);
    // a new devpts instance, not the host's /dev/pts
    const hostPtmx = fs.statSync('/dev/pts/ptmx', { throwIfNoEntry: false });
    if (hostPtmx) expect(makedev(p.stat[STATX.devMajor]!, p.stat[STATX.devMinor]!)).not.toBe(hostPtmx.dev);
    // the Gofer's own devpts has pts/0 now; it is locked until unlockpt
    const s = g.device('pts/0', O_RDWR);
    expect(s).toBe(-EIO);
    closeFd(p.fd);
  });

  it('refuses everything else', () => {
    for (const name of ['tty', 'console', 'sda', 'mem', 'kmsg', '../null', 'pts/../ptmx', 'pts/x', 'pts/', '/dev/null', 'null/', '']) {
      expect(g.device(name, O_RDONLY)).toBe(-EACCES);
    }
  });
});

describe('DEVICE of host devices a container was given', () => {
  it('opens each by its name under /dev when its number is the given one, and nothing else', () => {
    expect(fs.statSync('/dev/loop-control').rdev, 'the host has /dev/loop-control').toBe(makedev(10, 237));
    // loop-control as given; kvm given with another device's number; net/tun not given.
    const g = startGofer([], [
      { name: 'loop-control', major: 10, minor: 237 },
      { name: 'kvm', major: 10, minor: 237 },
    ]).client;
    const r = g.device('loop-control', O_RDWR);
    if (typeof r === 'number') throw new Error(`loop-control: ${r}`);
    expect([r.stat[STATX.rdevMajor], r.stat[STATX.rdevMinor]]).toEqual([10, 237]);
    closeFd(r.fd);
    for (const name of ['kvm', 'net/tun', 'tty', '../dev/loop-control']) expect(g.device(name, O_RDONLY), name).toBe(-EACCES);
  });
});

/** Runs a shell command `s` seconds from now, in another process (the test's own thread may be blocked then). */
function afterSeconds(s: number, command: string): void {
  spawn('sh', ['-c', `sleep ${s}; ${command}`], { stdio: 'ignore' }).unref();
}

/** A Gofer on a socket the test drives by hand. */
function rawGofer(): { pid: number; sock: number } {
  const pair = native.socketpair(5);
  if (typeof pair === 'number') throw new Error('socketpair');
  const argv = [process.execPath, GOFER_ENTRY, '--sock', '3', '--export', `0:rw:${mkTmp()}`];
  const pid = native.spawn(process.execPath, argv, [], [0, 0, 1, 1, 2, 2, pair[1], 3], false);
  native.close(pair[1]);
  return { pid, sock: pair[0] };
}

function exchange(sock: number, bytes: Uint8Array): { seq: number; result: number; len: number } {
  expect(native.sendMsg(sock, bytes, bytes.length, [])).toBe(bytes.length);
  const buf = new Uint8Array(RECV_BUFFER);
  const fds = new Int32Array(64);
  const n = native.recvMsg(sock, buf, fds, 10_000);
  expect(n).toBeGreaterThanOrEqual(8);
  expect([...fds].every((f) => f === -1)).toBe(true);
  const v = new DataView(buf.buffer);
  return { seq: v.getUint32(0, true), result: v.getInt32(4, true), len: n };
}

describe('malformed requests', () => {
  it('are answered with EINVAL and never crash the Gofer', () => {
    const { pid, sock } = rawGofer();
    const w = new Writer();
    const req = (f: (w: Writer) => void) => {
      f(w.reset());
      return w.buf.slice(0, w.pos);
    };
    const cases: [string, Uint8Array, number][] = [
      ['short', new Uint8Array([Op.PING, 1, 0]), 0],
      ['unknown op', req((w) => w.u8(99).u32(7)), 7],
      ['op 0', req((w) => w.u8(0).u32(8)), 8],
      ['PING with trailing bytes', req((w) => w.u8(Op.PING).u32(9).u32(0)), 9],
      ['truncated string', req((w) => w.u8(Op.WALK).u32(10).u32(0).u32(1000).u8(65)), 10],
      ['string past the end', req((w) => w.u8(Op.READLINK).u32(11).u32(0).u32(0xffffffff)), 11],
      ['missing fields', req((w) => w.u8(Op.OPEN).u32(12).u32(0).str('x')), 12],
      ['unknown export', req((w) => w.u8(Op.READLINK).u32(13).u32(5).str('x')), 13],
      ['65 names', req((w) => { w.u8(Op.WALK).u32(14).u32(0).str('').u32(65); for (let i = 0; i < 65; i++) w.str('a'); }), 14],
      ['bad path', req((w) => w.u8(Op.STATFS).u32(15).u32(0).str('../x')), 15],
      ['oversized', (() => { const b = new Uint8Array(100_000); b[0] = Op.PING; b[1] = 16; return b; })(), 16],
      ['bad removeDir', req((w) => w.u8(Op.UNLINK).u32(17).u32(0).str('x').u8(7)), 17],
      ['i64 out of range', req((w) => w.u8(Op.SETATTR).u32(18).u32(0).str('').u32(8).u32(0).u32(0).u32(0).u32(0).u32(0x7fffffff).i64(0).u32(0).i64(0).u32(0)), 18],
    ];
    for (const [what, bytes, seq] of cases) {
      const r = exchange(sock, bytes);
      expect({ what, seq: r.seq, result: r.result, len: r.len }).toEqual({ what, seq, result: -EINVAL, len: 8 });
    }
    const ping = exchange(sock, req((w) => w.u8(Op.PING).u32(99)));
    expect(ping).toEqual({ seq: 99, result: 0, len: 8 });
    native.close(sock);
    return waitFor(() => isDead(pid)).then((dead) => expect(dead).toBe(true));
  });
});

describe('the Gofer dying', () => {
  it('makes every call return -EIO with a reason once the Gofer is killed', async () => {
    const { pid, client } = startGofer([{ id: 0, mode: 'ro', hostPath: mkTmp() }]);
    expect(client.ping()).toBe(0);
    process.kill(pid, 'SIGKILL');
    expect(await waitFor(() => isDead(pid))).toBe(true);
    expect(client.ping()).toBe(-EIO);
    expect(client.dead).toBe(true);
    expect(client.deathReason).toMatch(new RegExp(`pid ${pid}\\) was killed by signal 9 before PING`));
    expect(client.open(0, '', O_RDONLY, 0, 0, 0)).toBe(-EIO);
    expect(client.walk(0, '', ['x'])).toBe(-EIO);
    expect(client.device('null', O_RDONLY)).toBe(-EIO);
  });

  // Liveness is the Gofer's process, not a clock: a busy machine may delay
  // an answer by seconds, and declaring the Gofer dead then would fail every
  // later file call of the guest with EIO.
  it('waits for a slow Gofer: stopped for 2 s, then continued, it answers and stays alive', () => {
    const { pid, client } = startGofer([]);
    expect(client.ping()).toBe(0);
    process.kill(pid, 'SIGSTOP');
    afterSeconds(2, `kill -CONT ${pid}`);
    const t0 = Date.now();
    expect(client.ping()).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(client.dead).toBe(false);
    expect(client.ping()).toBe(0);
  });

  it('declares a Gofer killed during a call dead at once, saying how it ended', () => {
    const { pid, client } = startGofer([]);
    expect(client.ping()).toBe(0);
    process.kill(pid, 'SIGSTOP'); // the call is certainly pending when the kill comes
    afterSeconds(0.5, `kill -KILL ${pid}`);
    const t0 = Date.now();
    expect(client.ping()).toBe(-EIO);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(client.deathReason).toBe(`the Gofer (pid ${pid}) was killed by signal 9 during PING`);
    expect(client.failure).toBe(client.deathReason);
    expect(client.ping()).toBe(-EIO);
  });

  it('gives a wait up when its interrupt says so, and only then', () => {
    const { pid, client } = startGofer([]);
    expect(client.ping()).toBe(0);
    const pair = native.socketpair(1 /* SOCK_STREAM */) as [number, number];
    let wakes = 0;
    client.setInterrupt({
      fd: pair[0],
      abandon: () => {
        native.recvMsg(pair[0], new Uint8Array(16), new Int32Array(0), 0);
        return ++wakes === 2 ? 'told to' : undefined;
      },
    });
    process.kill(pid, 'SIGSTOP');
    // Two wake-ups from another process, 0.5 s apart.
    const helper = spawn('sh', ['-c', 'sleep 0.5; echo x >&3; sleep 0.5; echo x >&3'], { stdio: ['ignore', 'ignore', 'ignore', pair[1]] });
    native.close(pair[1]);
    expect(client.ping()).toBe(-EIO);
    expect(wakes).toBe(2);
    expect(client.deathReason).toBe(`the Gofer (pid ${pid}) had not answered PING when told to`);
    // The client gave the wait up: not a failure of the Gofer's.
    expect(client.failure).toBeUndefined();
    native.close(pair[0]);
    helper.kill();
    process.kill(pid, 'SIGKILL');
  });

  it('exits when the client closes the socket', async () => {
    const { pid, client } = startGofer([]);
    expect(client.ping()).toBe(0);
    client.close();
    expect(client.deathReason).toBe('closed by the client');
    expect(await waitFor(() => isDead(pid))).toBe(true);
  });

  it('dies with its parent (PR_SET_PDEATHSIG)', async () => {
    // The parent stops the Gofer before exiting, so only the death signal
    // (SIGKILL also ends stopped processes) can end it, not end-of-stream.
    const client = new URL('../../dist/src/gofer/client.js', import.meta.url).pathname;
    const script = `import { spawnGofer } from ${JSON.stringify(client)};
      const { pid, client: c } = spawnGofer([]);
      if (c.ping() !== 0) process.exit(3);
      process.kill(pid, 'SIGSTOP');
      console.log(pid);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const pid = Number(r.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    const died = await waitFor(() => isDead(pid));
    if (!died) process.kill(pid, 'SIGKILL');
    expect(died).toBe(true);
  });
});

describe('a Gofer whose parent dies while it boots', () => {
  // Stopped right after spawn(), before Node has run any of the Gofer's code
  // (its own PR_SET_PDEATHSIG, its first read of the socket): only the death
  // signal spawn() set before the exec can end it.
  it('is killed with its parent (spawn sets PR_SET_PDEATHSIG before the exec)', async () => {
    const client = new URL('../../dist/src/gofer/client.js', import.meta.url).pathname;
    const script = `import { spawnGofer } from ${JSON.stringify(client)};
      const { pid } = spawnGofer([]);
      process.kill(pid, 'SIGSTOP');
      console.log(pid);`;
    // Its stderr is the Gofer's too: not a pipe that a surviving Gofer would keep open.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(r.status).toBe(0);
    const pid = Number(r.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    const died = await waitFor(() => isDead(pid));
    if (!died) process.kill(pid, 'SIGKILL');
    expect(died).toBe(true);
  });
});

describe('start-up failures', () => {
  function run(args: string[]): { status: number | null; stderr: string } {
    const pair = native.socketpair(5) as [number, number];
    const r = spawnSync(process.execPath, [GOFER_ENTRY, ...args], {
      stdio: ['ignore', 'ignore', 'pipe', pair[1]],
      encoding: 'utf8',
      timeout: 20_000,
    });
    native.close(pair[0]);
    native.close(pair[1]);
    return { status: r.status, stderr: r.stderr };
  }

  it('exit 2 with a clear message for a missing or special-file export or bad arguments', () => {
    const missing = run(['--export', '4:rw:/nonexistent/dir']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/export 4 \(\/nonexistent\/dir\): ENOENT/);
    const device = run(['--export', '1:ro:/dev/null']);
    expect(device.status).toBe(2);
    expect(device.stderr).toMatch(/export 1 \(\/dev\/null\): neither a directory nor a regular file/);
    expect(run(['--export', '1:rx:/tmp']).status).toBe(2);
    expect(run(['--export', '1:rw:/tmp', '--export', '1:ro:/']).stderr).toMatch(/given twice/);
    expect(run(['--bogus']).status).toBe(2);
    expect(run(['--sock', '9']).stderr).toMatch(/fd 9 is not a socket/);
  });

  it('serves a single regular file as an export (bind-mounted files), read-only when asked', () => {
    const f = `${mkTmp()}/hosts`;
    fs.writeFileSync(f, '127.0.0.1 localhost\n');
    const { client } = startGofer([{ id: 3, mode: 'ro', hostPath: f }]);
    const o = client.open(3, '', 0 /* O_RDONLY */, 0, 0, 0);
    if (typeof o === 'number') throw new Error(`open ${o}`);
    expect(fs.readFileSync(`/proc/self/fd/${o.fd}`, 'utf8')).toBe('127.0.0.1 localhost\n');
    closeFd(o.fd);
    expect(client.open(3, '', 1 /* O_WRONLY */, 0, 0, 0)).toBe(-30 /* EROFS */);
  });

  it('accepts host paths containing ":"', () => {
    const d = `${mkTmp()}/with:colon:s`;
    fs.mkdirSync(d);
    fs.writeFileSync(`${d}/f`, 'x');
    const { client } = startGofer([{ id: 2, mode: 'ro', hostPath: d }]);
    const w = client.walk(2, '', ['f']);
    if (typeof w === 'number') throw new Error(`walk ${w}`);
    expect(w.entries).toHaveLength(1);
    closeFd(w.entries[0]!.fd);
  });
});

describe('codec', () => {
  it('round-trips every field type', () => {
    const w = new Writer();
    const stat = Float64Array.from({ length: 22 }, (_, i) => i * 1e9 + 0.5);
    w.u8(255).u32(0xfffffffe).i32(-5).i64(-(2 ** 40) - 3).i64(2 ** 53 - 1).f64(Math.PI).str('').str('a\xff\x00b').bytes(Uint8Array.of(1, 2)).stat(stat);
    const r = new Reader(w.buf).reset(w.pos);
    expect([r.u8(), r.u32(), r.i32(), r.i64(), r.i64(), r.f64(), r.str(), r.str()]).toEqual([
      255, 0xfffffffe, -5, -(2 ** 40) - 3, 2 ** 53 - 1, Math.PI, '', 'a\xff\x00b',
    ]);
    expect([...r.bytes()]).toEqual([1, 2]);
    expect(r.stat()).toEqual(stat);
    r.end();
  });

  it('rejects what it cannot carry', () => {
    const w = new Writer(16);
    expect(() => w.str('\u0100')).toThrow(ProtocolError);
    expect(() => w.reset().i64(2 ** 53)).toThrow(ProtocolError);
    expect(() => w.reset().str('x'.repeat(20))).toThrow(ProtocolError);
    const r = new Reader(Uint8Array.of(1, 2, 3)).reset(3);
    expect(() => r.u32()).toThrow(ProtocolError);
    expect(() => new Reader(Uint8Array.of(1, 2)).reset(2).end()).toThrow(ProtocolError);
  });

  it('validates normalized paths', () => {
    for (const p of ['', 'a', 'a/b', '...', 'a/.b', '\xff']) expect(isValidPath(p)).toBe(true);
    for (const p of ['/', '/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/..', 'a\0b', 'x'.repeat(5000)]) expect(isValidPath(p)).toBe(false);
    expect(isValidName('a/b')).toBe(false);
  });

  it('makes the client refuse non-latin1 strings and oversized requests locally', () => {
    const { client } = startGofer([{ id: 0, mode: 'rw', hostPath: mkTmp() }]);
    expect(client.open(0, '\u20ac', O_RDONLY, 0, 0, 0)).toBe(-EINVAL);
    expect(client.setxattr(0, '', 'user.big', new Uint8Array(70_000), 0)).toBe(-ERRNO.E2BIG);
    expect(client.ping()).toBe(0);
  });
});

describe('GOFER_SYSCALLS', () => {
  it('names x86_64 system calls, once each', () => {
    const numbers = JSON.parse(fs.readFileSync(new URL('../../syscall-tables/numbers.json', import.meta.url), 'utf8'));
    for (const name of GOFER_SYSCALLS) expect(numbers[name], name).toBeTypeOf('number');
    expect(new Set(GOFER_SYSCALLS).size).toBe(GOFER_SYSCALLS.length);
    expect(GOFER_SYSCALLS).toContain('openat2');
    expect(GOFER_SYSCALLS).not.toContain('execve');
  });
});
