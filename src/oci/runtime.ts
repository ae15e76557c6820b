// Pieces shared by the OCI commands (create, start, state, kill, delete,
// ...): where state lives, how errors reach the client, hooks, signals.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { FlagValues } from '../cli/flags.js';
import type { Hook } from './spec.js';

/** runc's default is /run/runc; ours, like runsc's, is under /var/run. */
export const DEFAULT_STATE_ROOT = '/var/run/tsvisor';

export function stateRoot(globals: FlagValues): string {
  return (globals.root as string | undefined) ?? DEFAULT_STATE_ROOT;
}

/** An error to report to the client: a clear message and the exit status runc gives (1 unless said). */
export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly exitStatus = 1,
  ) {
    super(message);
  }
}

/**
 * Reports an error the way clients read it: containerd's shim and conmon
 * show the last `{"level":"error","msg":...}` line of --log (with
 * --log-format json); people read stderr.
 */
export function reportError(globals: FlagValues, msg: string, exitStatus = 1): number {
  const file = globals.log as string | undefined;
  if (file) {
    const line =
      globals['log-format'] === 'json'
        ? `${JSON.stringify({ level: 'error', msg, time: new Date().toISOString() })}\n`
        : `E${new Date().toISOString()} ${process.pid} ${msg}\n`;
    try {
      fs.appendFileSync(file, line);
    } catch {
      /* the message still reaches stderr */
    }
  }
  fs.writeSync(2, `tsvisor: ${msg}\n`);
  return exitStatus;
}

/** The global flags to hand to the sandbox process, as given. */
export function globalArgs(globals: FlagValues): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(globals)) {
    if (v === undefined || v === false) continue;
    if (v === true) out.push(`--${k}`);
    else if (Array.isArray(v)) for (const x of v) out.push(`--${k}=${x}`);
    else out.push(`--${k}=${v}`);
  }
  return out;
}

/** A signal given as a number, "TERM" or "SIGTERM" (what runc kill accepts). */
export function signalNumber(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
    const n = (os.constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new RuntimeError(`unknown signal "${s}"`);
}

/**
 * Runs OCI hooks in order with the container's state on stdin, as runc
 * does; the first failure stops the sequence.
 */
export function runHooks(kind: string, hooks: readonly Hook[], state: object): void {
  if (hooks.length === 0) return;
  // Loaded only when there are hooks: node:child_process costs every
  // start, kill and delete about 10 ms of start-up.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  for (const h of hooks) {
    const r = spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      input: JSON.stringify(state),
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
      encoding: 'utf8',
    });
    // A hook need not read the state (runc ignores EPIPE writing it): its exit status decides.
    const error = (r.error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' ? undefined : r.error;
    if (error || r.status !== 0) {
      const why = error ? error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
      throw new RuntimeError(`${kind} hook ${h.path} failed: ${why}${out ? `: ${out}` : ''}`);
    }
  }
}

/** Polls until `gone()` or the deadline; true when gone. */
export async function waitUntil(gone: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!gone()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** The one-line answer a started sandbox or exec process writes on its fd 3 ("ok" or "error MESSAGE"), once the fd closes. */
export function readAnswer(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve) => {
    let out = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => (out += s));
    pipe.on('end', () => resolve(out.trim()));
  });
}
