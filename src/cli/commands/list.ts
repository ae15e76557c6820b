// tsvisor list [--format table|json] [--quiet]: the containers under --root.
import fs from 'node:fs';
import { stateRoot } from '../../oci/runtime.js';
import { StateStore, ociState } from '../../oci/state.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const listCommand: Command = {
  summary: 'list containers',
  usage: 'list [--format table|json] [--quiet]',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(
      argv,
      [
        { name: 'format', alias: ['f'], type: 'string', choices: ['table', 'json'], help: 'output format' },
        { name: 'quiet', alias: ['q'], type: 'bool', help: 'print ids only' },
      ],
      false,
    );
    if (rest.length) throw wrongArguments();
    const states = new StateStore(stateRoot(globals)).list().map(ociState);
    if (flags.quiet) {
      fs.writeSync(1, states.map((s) => `${s.id}\n`).join(''));
    } else if (flags.format === 'json') {
      fs.writeSync(1, `${JSON.stringify(states)}\n`);
    } else {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      fs.writeSync(1, rows.map((r) => `${r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()}\n`).join(''));
    }
    return 0;
  },
};
