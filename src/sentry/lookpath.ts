// The program of a new container process, looked up in the sandbox before the
// process starts, as runc does: a missing or non-executable command fails
// `create` (or `exec`) with runc's message instead of failing inside the
// container after `start`. The lookup follows Go's exec.LookPath, which runc
// uses: a name with a slash is checked as given, any other is searched in the
// process's own PATH; a candidate is a non-directory with an execute bit.
import util from 'node:util';
import { ERRNO } from '../abi/errno.js';
import { S_IFDIR, S_IFMT } from '../abi/linux.js';
import type { Creds } from './creds.js';
import { SysErr } from './errors.js';
import type { Location } from './vfs/node.js';
import { resolve } from './vfs/resolve.js';

/** Why the command cannot be started, in runc's words (after "exec: "). */
export class CommandNotFound extends Error {}

function errnoText(errno: number): string {
  return util.getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
}

/** null when `path` names an executable file; else why not ("permission denied", "no such file or directory", ...). */
function executableProblem(root: Location, cwd: Location, creds: Creds, path: string): { stat: boolean; text: string } | null {
  let loc: Location;
  try {
    loc = resolve({ root, creds }, path.startsWith('/') ? root : cwd, path, true);
  } catch (e) {
    if (e instanceof SysErr) return { stat: true, text: errnoText(e.errno) };
    throw e;
  }
  const mode = loc.dentry.node.stat().mode;
  if ((mode & S_IFMT) === S_IFDIR || (mode & 0o111) === 0) return { stat: false, text: errnoText(ERRNO.EACCES) };
  return null;
}

/** Throws CommandNotFound unless `name` (argv[0]) can be executed with the process's environment `env`. */
export function checkCommand(root: Location, cwd: Location, creds: Creds, name: string, env: readonly string[]): void {
  if (name === '') throw new CommandNotFound('exec: "": executable file not found in $PATH');
  if (name.includes('/')) {
    const p = executableProblem(root, cwd, creds, name);
    if (p) throw new CommandNotFound(`exec: "${name}": ${p.stat ? `stat ${name}: ` : ''}${p.text}`);
    return;
  }
  const pathVar = [...env].reverse().find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
  for (const dir of pathVar === '' ? [] : pathVar.split(':')) {
    if (!executableProblem(root, cwd, creds, `${dir || '.'}/${name}`)) return;
  }
  throw new CommandNotFound(`exec: "${name}": executable file not found in $PATH`);
}
