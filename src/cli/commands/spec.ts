// tsvisor spec [--bundle DIR] [--rootless]: writes a default config.json,
// like `runc spec`.
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../../oci/runtime.js';
import { defaultSpec } from '../../oci/default-spec.js';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';

export const specCommand: Command = {
  summary: 'write a default config.json',
  usage: 'spec [--bundle DIR] [--rootless]',
  async run(_globals, argv) {
    const { flags, rest } = parseFlags(
      argv,
      [
        { name: 'bundle', alias: ['b'], type: 'string', help: 'bundle directory (default: the current one)' },
        { name: 'rootless', type: 'bool', help: 'a spec for a rootless container' },
      ],
      false,
    );
    if (rest.length) throw wrongArguments();
    const file = path.join((flags.bundle as string | undefined) ?? process.cwd(), 'config.json');
    if (fs.existsSync(file)) throw new RuntimeError('File config.json exists. Remove it first');
    fs.writeFileSync(file, `${JSON.stringify(defaultSpec({ rootless: Boolean(flags.rootless) }), null, '\t')}\n`);
    return 0;
  },
};
