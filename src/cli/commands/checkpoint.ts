// tsvisor checkpoint / restore: not supported; a clear error, not a pretence.
import { RuntimeError } from '../../oci/runtime.js';
import { HelpRequested } from '../flags.js';
import { type Command } from '../main.js';

function unsupported(what: string): Command {
  return {
    summary: `${what} a container (not supported)`,
    usage: `${what} [flags] ID`,
    async run(_globals, argv) {
      if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested([]);
      throw new RuntimeError(`${what} is not supported by tsvisor`);
    },
  };
}

export const checkpointCommand = unsupported('checkpoint');
export const restoreCommand = unsupported('restore');
