// Docker's userns-remap (`dockerd --userns-remap=default`: the dockremap
// user, 100000:65536 in /etc/subuid and /etc/subgid), tsvisor against runc:
// the spec then has a user namespace with those mappings, and the guest's
// processes run under them, so the host sees the same ids for both runtimes
// (docker top, ps), and files the container writes to a bind mount belong to
// the same host ids. `--userns=host` opts a container out: no user
// namespace, runc's root is the host's and tsvisor's stays in its own range
// (docs/design.md, "docker top").
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DockerDaemon, IMAGE, buildBusyboxImage, docker, dockerOk, startDocker, stopDocker, until } from './docker-helpers.js';
import { privateSetup } from './daemon-helpers.js';
import { hostOwners } from './harness.js';
import { runOnPty } from '../helpers/pty.js';

type Runtime = 'tsvisor' | 'runc';
const RUNTIMES: Runtime[] = ['tsvisor', 'runc'];

const daemon: () => DockerDaemon = privateSetup('the private dockerd with --userns-remap=default', () => startDocker({ usernsRemap: true }), stopDocker, {
  prepare: buildBusyboxImage,
  startMs: 120000,
});

/** The first id of dockremap's range in /etc/subuid (dockerd adds the user and the range if missing). */
function remapBase(): number {
  const line = fs.readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith('dockremap:'));
  expect(line, 'dockerd --userns-remap=default adds dockremap to /etc/subuid').toBeDefined();
  return Number(line!.split(':')[1]);
}

function outcome(rt: Runtime, flags: string[], argv: string[]) {
  const r = docker(daemon(), ['run', '--rm', '--network=none', `--runtime=${rt}`, ...flags, IMAGE, ...argv]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `docker top ID -o uid,gid,args` of a detached `sleep 1000` run with `flags`, once it runs. */
async function topIds(rt: Runtime, flags: string[]): Promise<string[]> {
  const id = dockerOk(daemon(), ['run', '-d', '--network=none', `--runtime=${rt}`, ...flags, IMAGE, 'sleep', '1000']).trim();
  try {
    let rows: string[] = [];
    await until(`docker top (${rt}) to list sleep 1000`, () => {
      const r = docker(daemon(), ['top', id, '-o', 'pid,uid,gid,args']);
      // The PID column lets docker pick the container's rows; it is the host's, so left out.
      rows = r.status === 0 ? r.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(1).join(' ')) : [];
      return rows.some((row) => row.endsWith('sleep 1000'));
    });
    return rows;
  } finally {
    dockerOk(daemon(), ['rm', '-f', id]);
  }
}

describe('docker run under dockerd --userns-remap=default', () => {
  it('docker top: the UID and GID columns are the remapped host ids, for root and for -u 1000, as with runc', async () => {
    const base = remapBase();
    const seen: Record<string, string[][]> = {};
    for (const rt of RUNTIMES) seen[rt] = [await topIds(rt, []), await topIds(rt, ['-u', '1000:1000'])];
    expect(seen.tsvisor).toEqual([[`${base} ${base} sleep 1000`], [`${base + 1000} ${base + 1000} sleep 1000`]]);
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('-u 1000 id, and the ids of a file written to a bind mount, inside and on the host, as with runc', () => {
    const base = remapBase();
    const seen: Record<string, unknown> = {};
    for (const rt of RUNTIMES) {
      const data = fs.mkdtempSync(path.join(daemon().tmp, `data-${rt}-`));
      fs.chmodSync(data, 0o1777);
      const script = 'id; echo made > /data/by-$(id -u); ls -ln /data | awk \'NR > 1 {print $3, $4, $9}\'';
      const runs = [[], ['-u', '1000:1000']].map((flags) => outcome(rt, [...flags, '-v', `${data}:/data`], ['sh', '-c', script]));
      seen[rt] = { runs, host: hostOwners(data) };
    }
    expect(seen.tsvisor).toEqual({
      runs: [
        { status: 0, stdout: 'uid=0(root) gid=0(root) groups=0(root)\n0 0 by-0\n', stderr: '' },
        { status: 0, stdout: 'uid=1000(user) gid=1000(user) groups=1000(user)\n0 0 by-0\n1000 1000 by-1000\n', stderr: '' },
      ],
      host: [`by-0 ${base}:${base}`, `by-1000 ${base + 1000}:${base + 1000}`],
    });
    expect(seen.tsvisor).toEqual(seen.runc);
  }, 120000);

  it('run -it: the terminal and /dev/pts as with runc (owners, a user of the container writing to it)', () => {
    const typed = "stat -L -c '%A %u %g %n' $(tty) /dev/console /proc/self/fd/0; su -s /bin/sh -c 'echo hi > $(tty)' user; exit 3\r";
    const seen: Record<string, string> = {};
    for (const rt of RUNTIMES) {
      const r = runOnPty([daemon().client, '-H', `unix://${daemon().sock}`, 'run', '-it', '--rm', '--network=none', `--runtime=${rt}`, IMAGE, 'sh'], [[/# /, typed]], { env: daemon().env });
      expect(r.timedOut, r.output).toBe(false);
      expect(r.status, rt).toBe(3);
      // From the command's first line on (the echo of what was typed wraps, and the prompt's redraw differs by timing).
      seen[rt] = r.output.slice(r.output.indexOf('\r\ncrw'));
    }
    expect(seen.tsvisor).toBe('\r\ncrw--w---- 0 5 /dev/pts/0\r\ncrw--w---- 0 5 /dev/console\r\ncrw--w---- 0 5 /proc/self/fd/0\r\nsh: can\'t create /dev/pts/0: Permission denied\r\n');
    expect(seen.tsvisor).toEqual(seen.runc);
  });

  it("--userns=host: no user namespace; runc's root is the host's, tsvisor's stays in its own range", async () => {
    const seen: Record<string, string[]> = {};
    for (const rt of RUNTIMES) seen[rt] = await topIds(rt, ['--userns=host']);
    expect(seen.runc).toEqual(['0 0 sleep 1000']);
    expect(seen.tsvisor).toEqual(['1000000000 1000000000 sleep 1000']);
  }, 120000);
});
