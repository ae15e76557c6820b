// sysinfo: uptime is the sandbox's, process count is the sandbox's; memory
// and load come from the host (there is no memory accounting of our own).
import os from 'node:os';
import { SYSINFO_SIZE, writeSysinfo } from '../../abi/structs.js';
import { writeBytes } from '../memory.js';
import type { Handler } from './dispatch.js';

const buf = Buffer.alloc(SYSINFO_SIZE);
const SI_LOAD_SHIFT = 16;

export const sysinfoHandlers: Record<string, Handler> = {
  sysinfo: (k, t, a) => {
    const load = os.loadavg().map((l) => Math.round(l * (1 << SI_LOAD_SHIFT))) as [number, number, number];
    writeSysinfo(buf, {
      uptime: Math.floor((Date.now() - k.startTime) / 1000),
      loads: load,
      totalram: os.totalmem(),
      freeram: os.freemem(),
      sharedram: 0,
      bufferram: 0,
      totalswap: 0,
      freeswap: 0,
      procs: k.procs.size,
      memUnit: 1,
    });
    writeBytes(t, a.long(0), buf);
    return 0;
  },
};
