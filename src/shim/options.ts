// The runtime options a task is created with (CreateTaskRequest.options).
// Two kinds arrive:
//  - containerd.runc.v1.Options, runc's shim's own, which clients such as
//    ctr (--runc-root, --runc-binary, --runc-systemd-cgroup) and the CRI
//    plugin (for runc's runtime types) send;
//  - runtimeoptions.v1.Options, what containerd 1.6's CRI plugin sends any
//    other runtime type: the path of a configuration file of the runtime's
//    own (the runtime table's ConfigPath), read here as a TOML file of runc's
//    option names (Root, BinaryName, SystemdCgroup, ...), the keys runc's
//    options table takes. (containerd 1.7 sends the table itself, as
//    config_body, when there is no ConfigPath; it is read the same way.)
// What tsvisor cannot do is refused with a clear error.
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { type Any, decode } from './proto.js';

export const RUNC_OPTIONS = 'containerd.runc.v1.Options';
export const RUNTIME_OPTIONS = 'runtimeoptions.v1.Options';

/** What the shim does with a task's options. */
export interface TaskOptions {
  /** tsvisor's state root for the task's namespace (runc's Root, with the namespace appended as runc's shim does) */
  root?: string;
}

export class OptionsError extends Error {}

/** Where Create leaves a task's state root in its bundle when its options chose one. */
export const OPTIONS_FILE = 'options.json';

interface RuncOptions {
  no_pivot_root: boolean;
  no_new_keyring: boolean;
  shim_cgroup: string;
  io_uid: number;
  io_gid: number;
  binary_name: string;
  root: string;
  criu_path: string;
  systemd_cgroup: boolean;
  criu_image_path: string;
  criu_work_path: string;
}

/** runc's option names as the CRI plugin's TOML table spells them, and their fields. */
const TOML_KEYS: Record<string, keyof RuncOptions> = {
  nopivotroot: 'no_pivot_root',
  nonewkeyring: 'no_new_keyring',
  shimcgroup: 'shim_cgroup',
  iouid: 'io_uid',
  iogid: 'io_gid',
  binaryname: 'binary_name',
  root: 'root',
  criupath: 'criu_path',
  systemdcgroup: 'systemd_cgroup',
  criuimagepath: 'criu_image_path',
  criuworkpath: 'criu_work_path',
};

/** tsvisor's own commands, the binaries a BinaryName may name. */
const OWN_BINARIES = ['bin/tsvisor', 'runsc-compat/runsc'].map((p) => path.join(PROJECT_ROOT, p));

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * A flat TOML document of `Key = value` lines (strings, booleans,
 * integers; comments), as the CRI plugin's options table is written.
 * Anything else is refused: a table, an array, a date.
 */
function parseFlatToml(text: string, where: string): Record<string, string | number | boolean> {
  // No prototype: a key such as __proto__ or constructor is an ordinary (unknown) key.
  const out: Record<string, string | number | boolean> = Object.create(null);
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (line === '' || line.startsWith('#')) return;
    // A key, then one value (a string in quotes, or a word) and perhaps a comment.
    const m = /^([A-Za-z0-9_-]+|"[^"]*")\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#"']+)\s*(?:#.*)?$/.exec(line);
    if (!m) throw new OptionsError(`${where}:${i + 1}: expected Key = value, got ${JSON.stringify(line)}`);
    const key = m[1]!.replace(/^"|"$/g, '');
    const v = m[2]!;
    let value: string | number | boolean;
    if (v === 'true' || v === 'false') value = v === 'true';
    else if (/^[+-]?\d+$/.test(v)) value = Number(v);
    else if (/^'[^']*'$/.test(v)) value = v.slice(1, -1);
    else if (/^"(?:[^"\\]|\\.)*"$/.test(v)) {
      try {
        value = JSON.parse(v) as string;
      } catch {
        throw new OptionsError(`${where}:${i + 1}: invalid string ${v}`);
      }
    } else throw new OptionsError(`${where}:${i + 1}: unsupported value ${JSON.stringify(v)} (strings, booleans and integers only)`);
    if (key in out) throw new OptionsError(`${where}:${i + 1}: ${key} given twice`);
    out[key] = value;
  });
  return out;
}

/** runc's options from a TOML table: keys matched as the CRI plugin matches them (case-insensitively). */
function runcOptionsFromToml(text: string, where: string): RuncOptions {
  const o = decode<RuncOptions>('RuncOptions', new Uint8Array());
  for (const [key, value] of Object.entries(parseFlatToml(text, where))) {
    const field = Object.hasOwn(TOML_KEYS, key.toLowerCase()) ? TOML_KEYS[key.toLowerCase()] : undefined;
    if (!field) throw new OptionsError(`${where}: unknown option ${key} (runc's options: ${Object.values(TOML_KEYS).join(', ')})`);
    if (typeof value !== typeof o[field]) throw new OptionsError(`${where}: ${key} must be a ${typeof o[field]}`);
    (o as unknown as Record<string, unknown>)[field] = value;
  }
  return o;
}

/** What tsvisor makes of runc's options; refuses what it cannot do. */
function fromRuncOptions(o: RuncOptions, namespace: string): TaskOptions {
  if (o.systemd_cgroup) throw new OptionsError('SystemdCgroup: tsvisor has no systemd cgroup manager (cgroupfs only)');
  if (o.shim_cgroup) throw new OptionsError(`ShimCgroup ${JSON.stringify(o.shim_cgroup)}: not supported by tsvisor's shim`);
  for (const [name, v] of [['CriuPath', o.criu_path], ['CriuImagePath', o.criu_image_path], ['CriuWorkPath', o.criu_work_path]] as const) {
    if (v) throw new OptionsError(`${name}: tsvisor cannot checkpoint or restore containers`);
  }
  if (o.binary_name && !OWN_BINARIES.map(realpath).includes(realpath(o.binary_name))) {
    throw new OptionsError(`BinaryName ${JSON.stringify(o.binary_name)}: tsvisor's shim runs tsvisor only (${OWN_BINARIES.join(' or ')})`);
  }
  // NoPivotRoot and NoNewKeyring: accepted, as `tsvisor create` accepts --no-pivot and
  // --no-new-keyring (the Sentry serves the root and the keyrings). IoUid and IoGid:
  // runc's shim owns its stdio pipes so; tsvisor's hands containerd's fifos over as they are.
  if (!o.root) return {};
  if (!path.isAbsolute(o.root)) throw new OptionsError(`Root ${JSON.stringify(o.root)}: an absolute path is needed`);
  return { root: path.join(o.root, namespace) };
}

/** The options of a CreateTaskRequest (null: none). */
export function taskOptions(any: Any | null, namespace: string): TaskOptions {
  if (!any || (any.type_url === '' && any.value.length === 0)) return {};
  switch (any.type_url) {
    case RUNC_OPTIONS:
      return fromRuncOptions(decode<RuncOptions>('RuncOptions', any.value), namespace);
    case RUNTIME_OPTIONS: {
      const r = decode<{ type_url: string; config_path: string; config_body: Buffer }>('RuntimeOptions', any.value);
      if (r.type_url && r.type_url !== RUNC_OPTIONS) throw new OptionsError(`TypeUrl ${JSON.stringify(r.type_url)}: tsvisor's shim reads ${RUNC_OPTIONS} only`);
      if (r.config_path) {
        let text: string;
        try {
          text = fs.readFileSync(r.config_path, 'utf8');
        } catch (e) {
          throw new OptionsError(`ConfigPath ${r.config_path}: ${(e as Error).message}`);
        }
        return fromRuncOptions(runcOptionsFromToml(text, r.config_path), namespace);
      }
      return fromRuncOptions(runcOptionsFromToml(r.config_body.toString('utf8'), 'the runtime options'), namespace);
    }
  }
  throw new OptionsError(`runtime options of type ${JSON.stringify(any.type_url)}: tsvisor's shim reads ${RUNC_OPTIONS} and ${RUNTIME_OPTIONS}`);
}
