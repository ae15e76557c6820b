// Drives a command on a pseudo-terminal (test/helpers/ptydrive.py): the
// terminal clients' -it modes need one, and Node has no pty of its own.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ptydrive.py');

export interface PtyResult {
  /** everything the command printed on the terminal */
  output: string;
  status: number;
  timedOut: boolean;
}

export interface PtyOptions {
  rows?: number;
  cols?: number;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs argv on a new terminal; each [regex, text] pair types `text` once `regex` was printed. */
export function runOnPty(argv: string[], dialogue: [RegExp, string][], o: PtyOptions = {}): PtyResult {
  const timeout = o.timeoutMs ?? 30000;
  const flags = ['--rows', String(o.rows ?? 24), '--cols', String(o.cols ?? 80), '--timeout', String(timeout / 1000)];
  for (const [expect, send] of dialogue) flags.push('--expect', expect.source, '--send', send);
  const r = spawnSync('python3', [DRIVER, ...flags, '--', ...argv], { encoding: 'utf8', env: o.env ?? process.env, timeout: timeout + 10000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ptydrive failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as PtyResult;
}
