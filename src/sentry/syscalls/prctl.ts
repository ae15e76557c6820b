// prctl PR_GET_NAME, the one prctl option the Sentry answers; the filter
// lets the others run on the host (or stops for credential changes).
//
// The Sentry runs a "#!" script by executing its interpreter, so the host
// names the process after the interpreter; Linux names it after the path
// execve was given (the script). The Sentry's name (the one /proc shows)
// is answered instead, unless the thread renamed itself since.
import { writeBytes } from '../memory.js';
import { commOf } from '../vfs/procfs.js';
import type { Handler } from './dispatch.js';

/** TASK_COMM_LEN */
const COMM_LEN = 16;

export const prctlHandlers: Record<string, Handler> = {
  prctl: (_k, t, a) => {
    const name = Buffer.alloc(COMM_LEN);
    name.write(commOf(t.proc, t.tid).slice(0, COMM_LEN - 1), 'latin1');
    writeBytes(t, a.long(1), name);
    return 0;
  },
};
