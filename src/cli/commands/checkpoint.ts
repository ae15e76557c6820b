// tsvisor checkpoint / restore: not supported; a clear error, not a pretence.
import { RuntimeError } from '../../oci/runtime.js';
import { type Command } from '../main.js';

function unsupported(what: string): Command {
  return {
    summary: `${what} a container (not supported)`,
    async run() {
      throw new RuntimeError(`${what} is not supported by tsvisor`);
    },
  };
}

export const checkpointCommand = unsupported('checkpoint');
export const restoreCommand = unsupported('restore');
