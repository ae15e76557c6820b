// tsvisor ps [--format table|json] ID: the host pids of the container's
// processes (json, what docker top reads) or `ps -ef` lines for them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { ControlUnreachable, request } from '../../oci/control.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { StateStore, status } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const psCommand: Command = {
  summary: 'list the processes of a container',
  usage: 'ps [--format table|json] ID [PS OPTIONS]',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, [{ name: 'format', alias: ['f'], type: 'string', choices: ['table', 'json'], help: 'output format' }], false);
    if (rest.length < 1) throw wrongArguments();
    const state = new StateStore(stateRoot(globals)).load(rest[0]!);
    let pids: number[] = [];
    if (status(state) !== 'stopped') {
      try {
        const reply = await request(state.controlSocket, { op: 'ps' });
        if (!reply.ok) throw new RuntimeError(reply.error);
        pids = reply.pids ?? [];
      } catch (e) {
        if (!(e instanceof ControlUnreachable)) throw e;
      }
    }
    if (flags.format === 'json') {
      fs.writeSync(1, `${JSON.stringify(pids)}\n`);
      return 0;
    }
    const psArgs = rest.length > 1 ? rest.slice(1) : ['-ef'];
    const r = spawnSync('ps', psArgs, { encoding: 'utf8' });
    if (r.status !== 0) throw new RuntimeError(`ps ${psArgs.join(' ')} failed: ${r.stderr.trim()}`);
    const lines = r.stdout.split('\n');
    const header = lines[0] ?? '';
    const pidCol = header.trim().split(/\s+/).indexOf('PID');
    if (pidCol < 0) throw new RuntimeError('ps output has no PID column');
    const mine = new Set(pids);
    const out = [header, ...lines.slice(1).filter((l) => l.trim() && mine.has(Number(l.trim().split(/\s+/)[pidCol])))];
    fs.writeSync(1, `${out.join('\n')}\n`);
    return 0;
  },
};
