// The guest's side of the per-test marker channel (docs/testrun.md, "The
// marker channel"): a test runner's plugin calls mark() as each test begins
// and ends. `tsvisor test` names the channel in TSVISOR_TEST_CHANNEL; outside
// tsvisor (the variable unset, or the channel missing) mark() does nothing.
import fs from 'node:fs';

/** The variable naming the channel (src/testrun/run.ts sets it). */
export const CHANNEL_ENV = 'TSVISOR_TEST_CHANNEL';

/** A marker line stays below PIPE_BUF (4096 bytes), so that lines of concurrent writers never interleave. */
const MAX_NAME_BYTES = 3072;

/** The channel, once opened: null when there is none. */
let channel: { fd: number; pid: number } | null | undefined;

function open(): { fd: number; pid: number } | null {
  // A forked child re-opens the channel: its markers carry its own pid.
  if (channel !== undefined && (channel === null || channel.pid === process.pid)) return channel;
  const where = process.env[CHANNEL_ENV];
  channel = null;
  if (!where) return null;
  try {
    channel = { fd: fs.openSync(where, 'a'), pid: process.pid };
  } catch {
    channel = null;
  }
  return channel;
}

/** Whether markers reach tsvisor (the run is under `tsvisor test` with a channel). */
export function channelOpen(): boolean {
  return open() !== null;
}

/** Writes one marker: `test` began or ended (with `result`: passed, failed, skipped) in this process. */
export function mark(event: 'begin' | 'end', test: string, result?: string): void {
  const ch = open();
  if (!ch) return;
  const name = Buffer.byteLength(test) > MAX_NAME_BYTES ? `${Buffer.from(test).subarray(0, MAX_NAME_BYTES).toString().replace(/\uFFFD$/, '')}…` : test;
  try {
    fs.writeSync(ch.fd, `${JSON.stringify({ event, pid: process.pid, test: name, ...(result === undefined ? {} : { result }) })}\n`);
  } catch {
    // The channel went away (the sandbox is ending): markers are a report's detail, never a test's failure.
  }
}
