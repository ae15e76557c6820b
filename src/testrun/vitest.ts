// The Vitest integration of `tsvisor test` (import 'tsvisor/vitest' in
// test.setupFiles): marks each test's begin and end through the marker
// channel, so that the report attributes every file, network and process
// event to the test that caused it. Outside `tsvisor test` it does nothing.
// Tests attributed by process: run them in forks (Vitest's default pool)
// rather than threads, and without test.concurrent, for exact attribution.
import { afterEach, beforeEach } from 'vitest';
import { channelOpen, mark } from './channel.js';

interface TaskLike {
  name: string;
  suite?: TaskLike;
  file?: { name: string };
  result?: { state?: string };
}

/** "test/a.test.ts > suite > case": the file, the describe blocks and the test. */
export function testName(task: TaskLike): string {
  const names: string[] = [];
  for (let t: TaskLike | undefined = task; t; t = t.suite) if (t.name) names.unshift(t.name);
  if (task.file && names[0] !== task.file.name) names.unshift(task.file.name);
  return names.join(' > ');
}

const RESULTS: Record<string, string> = { pass: 'passed', fail: 'failed', skip: 'skipped', todo: 'skipped' };

if (channelOpen()) {
  beforeEach((ctx) => mark('begin', testName(ctx.task)));
  afterEach((ctx) => {
    const state = ctx.task.result?.state;
    mark('end', testName(ctx.task), state === undefined ? undefined : (RESULTS[state] ?? state));
  });
}
