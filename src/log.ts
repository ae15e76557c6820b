// Logging through pino: JSON lines (--log-format json, what containerd and
// podman parse) or runsc-style text lines, to --log FILE or to stderr.
import fs from 'node:fs';
import pino, { type Logger } from 'pino';

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

export function createLogger(o: LogOptions): Logger {
  const fd = o.file ? fs.openSync(o.file, 'a') : 2;
  const level = o.debug ? 'debug' : o.strace ? 'info' : 'warn';
  // Levels as names ("level":"error"): what containerd and podman read from runtime logs.
  const opts = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (o.format === 'json') return pino(opts, pino.destination({ dest: fd, sync: true }));
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
