// tsvisor update [--resources FILE|-] [--memory N] [--cpu-quota N] ... ID:
// changes a container's cgroup limits (runc update). Docker sends
// `update --resources - ID` with the JSON on stdin; with --resources every
// other flag is ignored, as with runc. The new values are merged into the
// resources recorded in the container's state.
import fs from 'node:fs';
import { type ResourceLimits, parseResources } from '../../oci/cgroups.js';
import { updateContainer } from '../../oci/container.js';
import { RuntimeError, stateRoot } from '../../oci/runtime.js';
import { type Command } from '../main.js';
import { type FlagSpec, type FlagValues, UsageError, parseFlags, wrongArguments } from '../flags.js';

const UPDATE_FLAGS: readonly FlagSpec[] = [
  { name: 'resources', alias: ['r'], type: 'string', help: "file with the resources as JSON, or '-' for stdin" },
  { name: 'memory', type: 'string', help: 'memory limit (bytes, or 64m, 1g, ...)' },
  { name: 'memory-reservation', type: 'string', help: 'memory soft limit' },
  { name: 'memory-swap', type: 'string', help: "memory plus swap limit; '-1' for unlimited swap" },
  { name: 'cpu-share', alias: ['cpu-shares'], type: 'string', help: 'CPU shares (relative weight)' },
  { name: 'cpu-period', type: 'string', help: 'CFS period in microseconds' },
  { name: 'cpu-quota', type: 'string', help: 'CFS quota in microseconds per period (-1: none)' },
  { name: 'cpu-rt-period', type: 'string', help: 'real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'string', help: 'real-time runtime in microseconds per period' },
  { name: 'cpuset-cpus', type: 'string', help: 'CPUs to use (0-2,4)' },
  { name: 'cpuset-mems', type: 'string', help: 'memory nodes to use' },
  { name: 'pids-limit', type: 'string', help: 'maximum number of guest tasks (-1: unlimited)' },
  { name: 'blkio-weight', type: 'string', help: 'accepted for runc compatibility; not applied' },
  { name: 'l3-cache-schema', type: 'string', help: 'Intel RDT: not supported' },
  { name: 'mem-bw-schema', type: 'string', help: 'Intel RDT: not supported' },
];

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** A size as runc's flags take it: bytes, or a number with a binary unit (64m, 1.5g, 512KiB). */
function size(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(s);
  if (!m) throw new UsageError(`invalid value for ${flag}: invalid size: '${s}'`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

function integer(flag: string, s: string, unsigned: boolean): number {
  if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(s)) throw new UsageError(`invalid value for ${flag}: ${JSON.stringify(s)} is not ${unsigned ? 'a non-negative' : 'an'} integer`);
  return Number(s);
}

/** The resources the per-field flags ask for (runc's flags and their meaning). */
function fromFlags(flags: FlagValues): ResourceLimits {
  const get = (name: string) => flags[name] as string | undefined;
  const out: ResourceLimits = {};
  const memory: NonNullable<ResourceLimits['memory']> = {};
  if (get('memory') !== undefined) memory.limit = size('memory', get('memory')!);
  if (get('memory-reservation') !== undefined) memory.reservation = size('memory-reservation', get('memory-reservation')!);
  const swap = get('memory-swap');
  if (swap !== undefined) memory.swap = swap === '-1' ? -1 : size('memory-swap', swap);
  if (Object.keys(memory).length) out.memory = memory;
  const cpu: NonNullable<ResourceLimits['cpu']> = {};
  if (get('cpu-share') !== undefined) cpu.shares = integer('cpu-share', get('cpu-share')!, true);
  if (get('cpu-period') !== undefined) cpu.period = integer('cpu-period', get('cpu-period')!, true);
  if (get('cpu-quota') !== undefined) cpu.quota = integer('cpu-quota', get('cpu-quota')!, false);
  if (get('cpu-rt-period') !== undefined) cpu.realtimePeriod = integer('cpu-rt-period', get('cpu-rt-period')!, true);
  if (get('cpu-rt-runtime') !== undefined) cpu.realtimeRuntime = integer('cpu-rt-runtime', get('cpu-rt-runtime')!, false);
  if (get('cpuset-cpus') !== undefined) cpu.cpus = get('cpuset-cpus');
  if (get('cpuset-mems') !== undefined) cpu.mems = get('cpuset-mems');
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (get('pids-limit') !== undefined) out.pids = { limit: integer('pids-limit', get('pids-limit')!, false) };
  return out;
}

function fromFile(file: string): { limits: ResourceLimits; ignored: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new RuntimeError(`--resources ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RuntimeError(`--resources ${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseResources(raw, 'resources', true);
}

export const updateCommand: Command = {
  summary: 'update the resource limits of a container',
  usage: 'update [--resources FILE|-] [--memory N] [--cpu-quota N] [--pids-limit N] ... ID',
  async run(globals, argv) {
    const { flags, rest } = parseFlags(argv, UPDATE_FLAGS, false);
    if (rest.length !== 1) throw wrongArguments();
    let patch: ResourceLimits;
    /** warnings for stderr: what is accepted but not applied */
    const ignored: string[] = [];
    if (flags.resources !== undefined) {
      const parsed = fromFile(flags.resources as string);
      patch = parsed.limits;
      ignored.push(...parsed.ignored.map((what) => `${what} is not applied by tsvisor`));
    } else {
      for (const f of ['l3-cache-schema', 'mem-bw-schema']) if (flags[f] !== undefined) throw new RuntimeError(`--${f}: Intel RDT is not supported by tsvisor`);
      if (flags['blkio-weight'] !== undefined && flags['blkio-weight'] !== '0') ignored.push('--blkio-weight is not applied by tsvisor');
      patch = fromFlags(flags);
    }
    ignored.push(...updateContainer(stateRoot(globals), rest[0]!, patch));
    for (const what of ignored) fs.writeSync(2, `tsvisor: warning: ${what}\n`);
    return 0;
  },
};
