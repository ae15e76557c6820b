// Round-trip times of PING and OPEN (median of 1000), printed for the record.
// The bounds are loose: this guards against pathologies, not regressions.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { O_RDONLY } from '../../src/abi/linux.js';
import type { GoferClient } from '../../src/gofer/client.js';
import { native } from '../../src/platform/native.js';
import { cleanup, mkTmp, startGofer } from './helpers.js';

afterAll(cleanup);

const N = 1000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function measure(g: GoferClient): { ping: number; open: number; p90open: number } {
  const pings: number[] = [];
  const opens: number[] = [];
  for (let i = 0; i < 100; i++) g.ping(); // warm up
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    const r = g.ping();
    pings.push(Number(process.hrtime.bigint() - t) / 1000);
    if (r !== 0) throw new Error(`ping ${r}`);
  }
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    const o = g.open(0, 'dir/file', O_RDONLY, 0, 0, 0);
    opens.push(Number(process.hrtime.bigint() - t) / 1000);
    if (typeof o === 'number') throw new Error(`open ${o}`);
    native.close(o.fd);
  }
  opens.sort((a, b) => a - b);
  return { ping: median(pings), open: median(opens), p90open: opens[Math.floor(N * 0.9)]! };
}

describe('round trips', () => {
  it(`PING and OPEN, median of ${N}`, () => {
    const host = mkTmp();
    fs.mkdirSync(path.join(host, 'dir'));
    fs.writeFileSync(path.join(host, 'dir/file'), 'x');
    const { pid, client } = startGofer([{ id: 0, mode: 'ro', hostPath: host }]);

    const free = measure(client);
    // Both main threads on one CPU: no cross-CPU wake-up per message.
    const cpus = native.setAffinity(0, 1) === 0 && native.setAffinity(pid, 1) === 0;
    const pinned = cpus ? measure(client) : undefined;
    native.setAffinity(0, 0xffffffff);

    const fmt = (m: { ping: number; open: number; p90open: number }) =>
      `PING ${m.ping.toFixed(1)} µs, OPEN ${m.open.toFixed(1)} µs (p90 ${m.p90open.toFixed(1)} µs)`;
    console.log(`gofer round trips, median of ${N}: unpinned ${fmt(free)}` + (pinned ? `; same CPU ${fmt(pinned)}` : ''));
    expect(free.ping).toBeLessThan(2000);
    expect(free.open).toBeLessThan(5000);
  });
});
