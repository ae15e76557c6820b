// Logging through pino: JSON lines (--log-format json, what containerd and
// podman parse) or runsc-style text lines, to --log FILE or to stderr.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger as PinoLogger } from 'pino';

export interface LogOptions {
  file?: string;
  format: 'text' | 'json';
  debug: boolean;
  /** strace lines are logged at info level */
  strace?: boolean;
}

const LEVEL_LETTER: Record<string, string> = { trace: 'D', debug: 'D', info: 'I', warn: 'W', error: 'E', fatal: 'F' };

/** Formats one pino JSON record as "I1123 10:00:00.123456 1234 message key=value". */
export function textLine(rec: Record<string, unknown>): string {
  const d = new Date(typeof rec.time === 'string' || typeof rec.time === 'number' ? rec.time : Date.now());
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${pad(d.getMonth() + 1)}${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000`;
  const extra = Object.entries(rec)
    .filter(([k]) => !['level', 'time', 'pid', 'hostname', 'msg'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${LEVEL_LETTER[String(rec.level)] ?? 'I'}${stamp} ${String(rec.pid ?? process.pid).padStart(7)} ${rec.msg ?? ''}${extra ? ` ${extra}` : ''}\n`;
}

/** One log call: a message, or fields then a message. */
export type LogFn = (fieldsOrMsg: object | string, msg?: string) => void;

/** What tsvisor logs through: pino's methods, pino itself loaded on the first call that writes. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** Many info-level messages in one write, formatted as info() formats one (strace lines, thousands a second). */
  infoLines(msgs: readonly string[]): void;
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type Level = keyof typeof LEVELS;

function makePino(fd: number, level: Level, format: 'text' | 'json'): PinoLogger {
  const pino = createRequire(import.meta.url)('pino') as typeof import('pino');
  // Levels as names ("level":"error"): what containerd and podman read from runtime logs.
  const opts = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (format === 'json') return pino(opts, pino.destination({ dest: fd, sync: true }));
  const stream = {
    write(line: string) {
      try {
        fs.writeSync(fd, textLine(JSON.parse(line) as Record<string, unknown>));
      } catch {
        fs.writeSync(fd, line);
      }
    },
  };
  return pino(opts, stream);
}

/**
 * A logger for --log/--debug-log (or stderr). pino is loaded by the first
 * call at an enabled level, not before: every container's sandbox process
 * makes one, and most never write a line (loading pino costs ~17 ms of a
 * start-up budget of a few hundred).
 */
export function createLogger(o: LogOptions): Logger {
  const fd = o.file ? fs.openSync(o.file, 'a') : 2;
  const level: Level = o.debug ? 'debug' : o.strace ? 'info' : 'warn';
  let real: PinoLogger | undefined;
  const method = (name: Level): LogFn => {
    if (LEVELS[name] < LEVELS[level]) return () => {};
    return (fieldsOrMsg, msg) => {
      real ??= makePino(fd, level, o.format);
      if (msg === undefined) real[name](fieldsOrMsg as string);
      else real[name](fieldsOrMsg, msg);
    };
  };
  const infoLines = (msgs: readonly string[]): void => {
    if (LEVELS.info < LEVELS[level] || msgs.length === 0) return;
    const rec = { level: 'info', time: new Date().toISOString(), pid: process.pid };
    fs.writeSync(fd, msgs.map((msg) => (o.format === 'json' ? `${JSON.stringify({ ...rec, msg })}\n` : textLine({ ...rec, msg }))).join(''));
  };
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error'), fatal: method('fatal'), infoLines };
}

/** Lines a rate-limited log call writes per period, and the period. */
export const LIMITED_LINES = 10;
export const LIMITED_PERIOD_MS = 60_000;

/**
 * A log call the guest can cause at will (one per exec): the first
 * LIMITED_LINES lines of each LIMITED_PERIOD_MS, then none until the next
 * period, whose first line says how many were left out (`suppressed`), so
 * that the log does not grow at the guest's pace.
 */
export function rateLimited(fn: LogFn): LogFn {
  let start = -Infinity;
  let written = 0;
  let suppressed = 0;
  return (fieldsOrMsg, msg) => {
    const now = performance.now();
    if (now - start >= LIMITED_PERIOD_MS) {
      start = now;
      written = 0;
    }
    if (written >= LIMITED_LINES) {
      suppressed++;
      return;
    }
    written++;
    if (suppressed === 0) return fn(fieldsOrMsg, msg);
    const fields = typeof fieldsOrMsg === 'string' ? { suppressed } : { ...fieldsOrMsg, suppressed };
    suppressed = 0;
    fn(fields, typeof fieldsOrMsg === 'string' ? fieldsOrMsg : msg);
  };
}
