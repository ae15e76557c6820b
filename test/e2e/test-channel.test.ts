// The per-test marker channel (SandboxSpec.testChannel, src/sentry/testchannel.ts,
// docs/testrun.md "The per-test channel"): markers from concurrent writers
// attributed and ordered before what each writer did next; lines that are not
// markers, overlong lines and floods dropped without growing the Sentry; the
// node writable only.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AccessEvent, type EventsRun, runWithEvents } from './access-run.js';
import { rmrf, sh, tempDir } from './harness.js';

const CHANNEL = '/dev/tsvisor-test';
const withChannel = { flags: ['--channel', CHANNEL] };
const markers = (events: AccessEvent[]) => events.filter((e) => e.kind === 'marker').map((e) => e.args[0]);
/** A shell function writing one marker line in one write (printf is dash's builtin). */
const MARK = `mark() { printf '{"event":"%s","pid":%d,"test":"%s"%s}\\n' "$1" $$ "$2" "$3" > ${CHANNEL}; }`;

describe('the test channel', () => {
  it("delivers concurrent writers' markers, each before the events its writer caused after writing it", () => {
    // Each worker, 30 times: begin, run a program (its fork is the worker's next event), end.
    const worker = `${MARK}; i=0; while [ $i -lt 30 ]; do mark begin "$1 $i" ""; /bin/true; mark end "$1 $i" ',"result":"passed"'; i=$((i+1)); done`;
    const dir = tempDir('workers');
    let r: EventsRun;
    try {
      fs.writeFileSync(path.join(dir, 'worker'), worker);
      r = runWithEvents(sh(`sh ${dir}/worker A & sh ${dir}/worker B & wait`), withChannel);
    } finally {
      rmrf(dir);
    }
    expect(r.status, r.stderr).toBe(0);
    const workers = r.events.filter((e) => e.kind === 'exec' && e.args[2][0] === 'sh' && e.args[2].length === 3).map((e) => [e.args[0] as number, e.args[2][2] as string] as const);
    expect(workers.map(([, name]) => name).sort()).toEqual(['A', 'B']);
    for (const [pid, name] of workers) {
      const seen = r.events
        .filter((e) => (e.kind === 'marker' && e.args[0].pid === pid) || (e.kind === 'start' && e.args[1] === pid))
        .map((e) => (e.kind === 'marker' ? `${e.args[0].event} ${e.args[0].test}` : 'fork'));
      const expected = Array.from({ length: 30 }, (_, i) => [`begin ${name} ${i}`, 'fork', `end ${name} ${i}`]).flat();
      expect(seen).toEqual(expected);
    }
    const ends = markers(r.events).filter((m) => m.event === 'end');
    expect(ends).toHaveLength(60);
    for (const m of ends) expect(m).toEqual({ event: 'end', pid: expect.any(Number), test: expect.any(String), result: 'passed' });
  });

  it('drops lines that are not markers, keeps only the fields of those that are, and reassembles lines split across writes', () => {
    const lines = [
      'not json',
      '{"event":"begin","pid":5,"test":"ok 1"}',
      '["begin",5,"x"]',
      '{"event":"start","pid":5,"test":"x"}',
      '{"event":"begin","pid":"5","test":"x"}',
      '{"event":"begin","pid":-1,"test":"x"}',
      '{"event":"begin","pid":1.5,"test":"x"}',
      '{"event":"begin","pid":5,"test":7}',
      '{"event":"end","pid":5,"test":"x","result":1}',
      '{"event":"begin","pid":5}',
      '',
      '{"event":"end","pid":5,"test":"ok 2","result":"failed","extra":{"a":1},"__proto__":{"polluted":1}}',
      'x'.repeat(5000),
      '{"event":"begin","pid":5,"test":"ok 3"}',
      `{"event":"begin","pid":5,"test":"${'y'.repeat(4100)}"}`,
      `{"event":"end","pid":5,"test":"${'z'.repeat(4000)}"}`,
    ];
    const dir = tempDir('channel');
    try {
      fs.writeFileSync(path.join(dir, 'lines'), `${lines.join('\n')}\n`);
      // dd writes 7-byte blocks: lines arrive in pieces
      const r = runWithEvents(sh(`dd if=${dir}/lines of=${CHANNEL} bs=7 status=none`), withChannel);
      expect(r.status, r.stderr).toBe(0);
      expect(markers(r.events)).toEqual([
        { event: 'begin', pid: 5, test: 'ok 1' },
        { event: 'end', pid: 5, test: 'ok 2', result: 'failed' },
        { event: 'begin', pid: 5, test: 'ok 3' },
        { event: 'end', pid: 5, test: 'z'.repeat(4000) },
      ]);
      expect(Object.getPrototypeOf(markers(r.events)[1])).toBe(Object.prototype);
    } finally {
      rmrf(dir);
    }
  });

  it('loses no marker when a writer floods the pipe (the writer waits), and a flood without newlines does not grow the Sentry', () => {
    const many = runWithEvents(sh(`awk 'BEGIN { for (i = 0; i < 20000; i++) printf "{\\"event\\":\\"begin\\",\\"pid\\":9,\\"test\\":\\"t%d\\"}\\n", i }' > ${CHANNEL}`), withChannel);
    expect(many.status, many.stderr).toBe(0);
    const got = markers(many.events);
    expect(got).toHaveLength(20000);
    expect(got.every((m, i) => m.test === `t${i}`)).toBe(true);

    const dir = tempDir('flood');
    try {
      const rss = (script: string): number => {
        const file = path.join(dir, 'rss');
        const r = runWithEvents(sh(script), { flags: [...withChannel.flags, '--rss', file] });
        expect(r.status, r.stderr).toBe(0);
        expect(markers(r.events)).toEqual([{ event: 'end', pid: 9, test: 'after' }]);
        return Number(fs.readFileSync(file, 'utf8')) * 1024;
      };
      const after = `; printf '\\n{"event":"end","pid":9,"test":"after"}\\n' > ${CHANNEL}`;
      const quiet = rss(`head -c 1 /dev/zero > /dev/null${after}`);
      const flood = rss(`head -c 200000000 /dev/zero > ${CHANNEL}${after}`);
      expect(flood - quiet).toBeLessThan(32 << 20);
    } finally {
      rmrf(dir);
    }
  });

  it('is a FIFO that may be opened for writing only, also through the magic links of an fd of it, even by root', () => {
    const script = [
      `stat -c '%F %A %U' ${CHANNEL}`,
      `cat ${CHANNEL}; echo "read: $?"`,
      `(exec 3<>${CHANNEL}) 2>/dev/null; echo "rdwr: $?"`,
      `exec 4>${CHANNEL}; stat -L -c %F /proc/self/fd/4`,
      'cat /proc/self/fd/4; echo "reopen read: $?"',
      'cat /dev/fd/4; echo "dev/fd read: $?"',
      'sh -c "cat /proc/$$/fd/4 4>&-"; echo "parent fd read: $?"',
      'cat 0</dev/null /dev/stdin <&4; echo "stdin read: $?"',
      `printf '{"event":"begin","pid":1,"test":"via reopen"}\\n' > /proc/self/fd/4`,
    ].join('; ');
    const r = runWithEvents(sh(script), withChannel);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('fifo p-w--w--w- root\nread: 1\nrdwr: 2\nfifo\nreopen read: 1\ndev/fd read: 1\nparent fd read: 1\nstdin read: 1\n');
    expect(r.stderr.split('\n').filter(Boolean).map((l) => l.replace(/\/proc\/\d+\//, '/proc/PID/'))).toEqual([
      `cat: ${CHANNEL}: Permission denied`,
      'cat: /proc/self/fd/4: Permission denied',
      'cat: /dev/fd/4: Permission denied',
      'cat: /proc/PID/fd/4: Permission denied',
      'cat: /dev/stdin: Permission denied',
    ]);
    expect(markers(r.events)).toEqual([{ event: 'begin', pid: 1, test: 'via reopen' }]);
  });

  it('exists only when asked for, and only under /dev', () => {
    const none = runWithEvents(sh(`test -e ${CHANNEL}; echo $?`));
    expect(none.stdout).toBe('1\n');
    const bad = runWithEvents(['/bin/true'], { flags: ['--channel', '/tmp/markers'] });
    expect(bad.status).toBe(125);
    expect(bad.stderr).toBe("tsvisor: test channel /tmp/markers: needs an access observer and a path under the sandbox's /dev\n");
  });
});
