// The OCI runtime's container state store (src/oci/state.ts): ids, the
// on-disk layout, atomic saves, crashed creates, flock-based locking across
// processes, and liveness with pid-reuse detection. Cross-process tests run
// `node --input-type=module -e ...` on dist/src/oci/state.js, which the
// global setup (test/global-setup.ts) rebuilds when a source is newer.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ContainerState,
  StateError,
  StateStore,
  isAlive,
  ociState,
  processStartTime,
  status,
  validateId,
} from '../../src/oci/state.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST_STATE = path.join(ROOT, 'dist/src/oci/state.js');

let tmp: string;
let root: string;
let n = 0;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-state-'));
  // The global setup builds dist/ from the current sources; make sure it did.
  expect(fs.statSync(DIST_STATE).mtimeMs).toBeGreaterThanOrEqual(fs.statSync(path.join(ROOT, 'src/oci/state.ts')).mtimeMs);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  // A root that does not exist yet, below a directory that does not either.
  root = path.join(tmp, `r${n++}`, 'run', 'tsvisor');
});

function makeState(id: string, over: Partial<ContainerState> = {}): ContainerState {
  return {
    ociVersion: '1.0.2',
    id,
    status: 'creating',
    pid: 0,
    bundle: `/bundles/${id}`,
    rootfs: `/bundles/${id}/rootfs`,
    created: '2024-01-02T03:04:05.678Z',
    annotations: { 'org.example.key': 'value' },
    owner: '',
    sentryPid: 0,
    sentryStartTime: 0,
    controlSocket: '',
    config: `/bundles/${id}/config.json`,
    ...over,
  };
}

function stateErrorOf(f: () => unknown): StateError {
  try {
    f();
  } catch (e) {
    if (e instanceof StateError) return e;
    throw e;
  }
  throw new Error('expected a StateError, nothing was thrown');
}

/** A node child running `script` with the store of argv[1] in `store` (argv[2..] in `args`). */
interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** resolves with the first stdout line matching `re` */
  line(re: RegExp): Promise<string>;
  done: Promise<{ code: number | null; out: string; err: string }>;
}

function child(script: string, args: string[]): Child {
  const header =
    `import fs from 'node:fs';\n` +
    `import { StateStore, StateError } from ${JSON.stringify(pathToFileURL(DIST_STATE).href)};\n` +
    `const [rootDir, ...args] = process.argv.slice(1);\n` +
    `const store = new StateStore(rootDir);\n`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', header + script, root, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (s: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => {
    out += d;
    check();
  });
  proc.stderr.on('data', (d: string) => (err += d));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    proc.on('close', (code) => resolve({ code, out, err })),
  );
  return {
    proc,
    done,
    line: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        check();
        void done.then(({ code }) => reject(new Error(`child exited (${code}) before printing ${re}: ${out}${err}`)));
      }),
  };
}

describe('validateId', () => {
  it('accepts runc-valid ids', () => {
    for (const id of ['abc', 'a', 'A-Z_0.9+x', '...', '.hidden', '-dash', 'x'.repeat(1024), 'a.lock']) {
      expect(() => validateId(id), id).not.toThrow();
    }
  });

  it('refuses the rest with a clear message', () => {
    const bad = ['', '.', '..', 'a/b', '../escape', '/abs', 'a b', 'tab\t', 'nl\n', 'é', 'a\0b', 'x'.repeat(1025), 'a:b', 'a@b', '.lock', '#deleting-1-x'];
    for (const id of bad) {
      const e = stateErrorOf(() => validateId(id));
      expect(e.code, JSON.stringify(id)).toBe('invalid');
      expect(e.message).toContain(`invalid container id ${JSON.stringify(id)}`);
    }
    expect(stateErrorOf(() => validateId('a/b')).message).toMatch(/^invalid container id "a\/b"/);
  });

  it('guards every entry point against path escapes', () => {
    const store = new StateStore(root);
    for (const f of [
      () => store.dir('../x'),
      () => store.load('../x'),
      () => store.remove('..'),
      () => store.lock('a/b'),
      () => store.create(makeState('../../etc')),
      () => store.save(makeState('x/../../y')),
    ]) {
      expect(stateErrorOf(f).code).toBe('invalid');
    }
    expect(fs.existsSync(path.dirname(path.dirname(root)))).toBe(false);
  });
});

describe('StateStore: layout and round trip', () => {
  it('creates, loads, saves and removes', () => {
    const store = new StateStore(root);
    expect(store.list()).toEqual([]);
    const s = makeState('c1');
    store.create(s);
    expect(store.dir('c1')).toBe(path.join(root, 'c1'));
    expect(fs.statSync(root).mode & 0o7777).toBe(0o711);
    expect(fs.statSync(store.dir('c1')).mode & 0o7777).toBe(0o711);
    expect(fs.statSync(path.join(store.dir('c1'), 'state.json')).mode & 0o777).toBe(0o600);
    expect(store.load('c1')).toEqual(s);

    const updated = { ...s, status: 'running' as const, pid: 1234, sentryPid: 1234, sentryStartTime: 99, initPid: 1240, controlSocket: '/x/control.sock' };
    store.save(updated);
    expect(store.load('c1')).toEqual(updated);
    // The temporary file is renamed away.
    expect(fs.readdirSync(store.dir('c1')).sort()).toEqual(['lock', 'state.json']);

    store.create(makeState('c0'));
    expect(store.list().map((x) => x.id)).toEqual(['c0', 'c1']);

    store.remove('c1');
    expect(fs.existsSync(store.dir('c1'))).toBe(false);
    expect(stateErrorOf(() => store.load('c1')).code).toBe('not-found');
    expect(store.list().map((x) => x.id)).toEqual(['c0']);
    // Nothing but the containers and the root lock under the root.
    expect(fs.readdirSync(root).sort()).toEqual(['.lock', 'c0']);
    // Removing what does not exist is fine (rm -rf).
    expect(() => store.remove('c1')).not.toThrow();
    expect(() => store.remove('never')).not.toThrow();
    // The id can be taken again.
    store.create(makeState('c1'));
    expect(store.load('c1').status).toBe('creating');
  });

  it("reports 'exists' and 'not-found' with runc's messages", () => {
    const store = new StateStore(root);
    expect(stateErrorOf(() => store.load('abc'))).toMatchObject({ code: 'not-found', message: 'container "abc" does not exist' });
    store.create(makeState('abc', { bundle: '/first' }));
    expect(stateErrorOf(() => store.create(makeState('abc', { bundle: '/second' })))).toMatchObject({
      code: 'exists',
      message: 'container "abc" already exists',
    });
    // The refused create did not touch the existing state.
    expect(store.load('abc').bundle).toBe('/first');
    expect(stateErrorOf(() => store.save(makeState('nope'))).code).toBe('not-found');
    expect(fs.existsSync(store.dir('nope'))).toBe(false);
    expect(stateErrorOf(() => store.lock('nope')).code).toBe('not-found');
    expect(stateErrorOf(() => store.lock('nope', { wait: false })).code).toBe('not-found');
  });

  it('an id too long for a file name is refused at create', () => {
    const store = new StateStore(root);
    const id = 'x'.repeat(300);
    expect(stateErrorOf(() => store.create(makeState(id))).code).toBe('invalid');
    expect(stateErrorOf(() => store.load(id)).code).toBe('not-found');
  });
});

describe('StateStore: atomic saves and crashed creates', () => {
  it('list skips leftovers and broken directories; listBroken names them', () => {
    const store = new StateStore(root);
    store.create(makeState('good'));
    store.create(makeState('good2'));
    // A save that crashed between write and rename.
    fs.writeFileSync(path.join(store.dir('good'), 'state.json.tmp-12345'), '{"id": "go');
    // A create that crashed after the mkdir; a damaged file; someone else's.
    fs.mkdirSync(path.join(root, 'crashed'));
    fs.mkdirSync(path.join(root, 'corrupt'));
    fs.writeFileSync(path.join(root, 'corrupt', 'state.json'), '{"ociVersion": "1.0.2", "id": "corr');
    fs.mkdirSync(path.join(root, 'foreign'));
    fs.writeFileSync(path.join(root, 'foreign', 'state.json'), JSON.stringify(makeState('other')));
    fs.mkdirSync(path.join(root, 'empty'));
    fs.writeFileSync(path.join(root, 'empty', 'state.json'), '');
    // Not containers: a file, a directory a remove() left behind, an invalid name.
    fs.writeFileSync(path.join(root, 'stray-file'), '');
    fs.mkdirSync(path.join(root, '#deleting-1-abc'));
    fs.mkdirSync(path.join(root, 'bad name'));

    expect(store.list().map((s) => s.id)).toEqual(['good', 'good2']);
    expect(store.load('good').id).toBe('good');
    expect(store.listBroken()).toEqual(['corrupt', 'crashed', 'empty', 'foreign']);
    for (const id of ['crashed', 'corrupt', 'foreign', 'empty']) {
      const e = stateErrorOf(() => store.load(id));
      expect(e.code).toBe('not-found');
      expect(e.message).toMatch(new RegExp(`^container "${id}" does not exist \\(.+\\)$`));
    }
    // What delete --force does with them.
    for (const id of store.listBroken()) store.remove(id);
    expect(store.listBroken()).toEqual([]);
    expect(store.list().map((s) => s.id)).toEqual(['good', 'good2']);
  });

  it('a reader never sees a torn state while another process saves', async () => {
    const store = new StateStore(root);
    store.create(makeState('busy'));
    const doneFile = path.join(tmp, `saved-${n}`);
    const c = child(
      `const s = store.load('busy');
       for (let i = 0; i < 400; i++) {
         const ch = i % 2 ? 'a' : 'b';
         s.annotations = { big: ch.repeat(100000 + i * 10), n: String(i) };
         store.save(s);
       }
       fs.writeFileSync(args[0], '');`,
      [doneFile],
    );
    const deadline = Date.now() + 30000;
    let loads = 0;
    const seen = new Set<string>();
    while (!fs.existsSync(doneFile) && Date.now() < deadline) {
      const s = store.load('busy'); // throws (not-found: corrupt) on a torn file
      const { big, n: i } = s.annotations;
      if (i !== undefined) {
        expect(big).toBe((Number(i) % 2 ? 'a' : 'b').repeat(100000 + Number(i) * 10));
        seen.add(i);
      }
      expect(store.list().map((x) => x.id)).toEqual(['busy']);
      loads++;
    }
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    expect(loads).toBeGreaterThan(10);
    expect(seen.size).toBeGreaterThan(1);
    expect(store.load('busy').annotations.n).toBe('399');
    expect(fs.readdirSync(store.dir('busy')).sort()).toEqual(['lock', 'state.json']);
  });

  it('creates and removes racing with listBroken and load never look broken', async () => {
    const store = new StateStore(root);
    store.create(makeState('anchor'));
    const doneFile = path.join(tmp, `churned-${n}`);
    const seenFile = path.join(tmp, `seen-${n}`);
    // 300 rounds at least, and on until the loader has seen one (a slow or loaded machine may need more).
    const c = child(
      `for (let i = 0; i < 300 || (!fs.existsSync(args[2]) && i < 1000000); i++) {
         store.create(JSON.parse(args[1]));
         store.remove('churn');
       }
       fs.writeFileSync(args[0], '');`,
      [doneFile, JSON.stringify(makeState('churn')), seenFile],
    );
    const deadline = Date.now() + 30000;
    let found = 0;
    while (!fs.existsSync(doneFile) && Date.now() < deadline) {
      expect(store.listBroken()).toEqual([]);
      try {
        expect(store.load('churn').id).toBe('churn');
        if (found++ === 0) fs.writeFileSync(seenFile, '');
      } catch (e) {
        // Between a remove and the next create it does not exist at all.
        expect(e).toBeInstanceOf(StateError);
        expect((e as StateError).message).toBe('container "churn" does not exist');
      }
    }
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    expect(found).toBeGreaterThan(0);
    expect(fs.readdirSync(root).sort()).toEqual(['.lock', 'anchor']);
  });

  it('a create in progress (root lock held) is not reported as broken', async () => {
    const store = new StateStore(root);
    store.create(makeState('other'));
    const c = child(
      `const l = store.lockRoot();
       fs.mkdirSync(rootDir + '/inflight', { mode: 0o711 });
       console.log('made ' + Date.now());
       setTimeout(() => {
         store.save(${JSON.stringify(makeState('inflight'))});
         console.log('saved ' + Date.now());
         l.release();
       }, 400);`,
      [],
    );
    await c.line(/^made/);
    const broken = store.listBroken(); // waits for the root lock
    const after = Date.now();
    expect(broken).toEqual([]);
    expect(store.load('inflight').id).toBe('inflight');
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    const saved = Number(/saved (\d+)/.exec(r.out)![1]);
    expect(after).toBeGreaterThanOrEqual(saved);
  });
});

describe('StateStore: locks across processes', () => {
  const holder = `const l = args[0] === 'root' ? store.lockRoot({ shared: args[1] === 'shared' }) : store.lock(args[0], { shared: args[1] === 'shared' });
     console.log('locked');
     setTimeout(() => {
       if (args[3] === 'remove') store.remove(args[0]);
       console.log('released ' + Date.now());
       l.release();
     }, Number(args[2]));`;

  it('an exclusive lock excludes other processes until released', async () => {
    const store = new StateStore(root);
    store.create(makeState('lk'));
    const c = child(holder, ['lk', 'exclusive', '500']);
    await c.line(/^locked$/);
    expect(stateErrorOf(() => store.lock('lk', { wait: false }))).toMatchObject({
      code: 'locked',
      message: 'container "lk" is locked by another process',
    });
    expect(stateErrorOf(() => store.lock('lk', { shared: true, wait: false })).code).toBe('locked');
    // Other containers are not affected.
    store.create(makeState('free'));
    store.lock('free', { wait: false }).release();

    const l = store.lock('lk'); // blocks this thread until the child lets go
    const acquired = Date.now();
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    expect(acquired).toBeGreaterThanOrEqual(Number(/released (\d+)/.exec(r.out)![1]));
    // Held here now: a second open file conflicts even within this process.
    expect(stateErrorOf(() => store.lock('lk', { wait: false })).code).toBe('locked');
    l.release();
    l.release(); // idempotent
    store.lock('lk', { wait: false }).release();
  });

  it('shared locks coexist and keep exclusive ones out', async () => {
    const store = new StateStore(root);
    store.create(makeState('sh'));
    const c = child(holder, ['sh', 'shared', '300']);
    await c.line(/^locked$/);
    const mine = store.lock('sh', { shared: true, wait: false });
    expect(stateErrorOf(() => store.lock('sh', { wait: false })).code).toBe('locked');
    mine.release();
    const l = store.lock('sh');
    const acquired = Date.now();
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    expect(acquired).toBeGreaterThanOrEqual(Number(/released (\d+)/.exec(r.out)![1]));
    l.release();
  });

  it('create waits for the root lock', async () => {
    const store = new StateStore(root);
    store.create(makeState('first')); // makes the root
    const c = child(holder, ['root', 'exclusive', '400']);
    await c.line(/^locked$/);
    expect(stateErrorOf(() => store.lockRoot({ wait: false })).code).toBe('locked');
    store.create(makeState('second'));
    const created = Date.now();
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    expect(created).toBeGreaterThanOrEqual(Number(/released (\d+)/.exec(r.out)![1]));
    expect(store.list().map((s) => s.id)).toEqual(['first', 'second']);
  });

  it('a process waiting for the lock of a container that gets removed is told it does not exist', async () => {
    const store = new StateStore(root);
    store.create(makeState('doomed'));
    const c = child(holder, ['doomed', 'exclusive', '300', 'remove']);
    await c.line(/^locked$/);
    expect(stateErrorOf(() => store.lock('doomed'))).toMatchObject({ code: 'not-found', message: 'container "doomed" does not exist' });
    const r = await c.done;
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(root).sort()).toEqual(['.lock']);
  });

  it('20 processes create distinct containers; of 20 racing for one id exactly one wins', async () => {
    const store = new StateStore(root);
    const script = `const state = JSON.parse(args[1]);
      process.stdin.once('data', () => {
        try {
          store.create(state);
          console.log('result ok');
        } catch (e) {
          console.log('result ' + (e instanceof StateError ? e.code : 'error ' + e.message));
        }
        process.exit(0);
      });
      console.log('ready');`;
    const kids: Child[] = [];
    for (let i = 0; i < 20; i++) {
      kids.push(child(script, ['distinct', JSON.stringify(makeState(`d${String(i).padStart(2, '0')}`))]));
      kids.push(child(script, ['same', JSON.stringify(makeState('same', { bundle: `/bundle-${i}` }))]));
    }
    await Promise.all(kids.map((k) => k.line(/^ready$/)));
    for (const k of kids) k.proc.stdin.write('go\n');
    const results = await Promise.all(kids.map((k) => k.done));
    for (const r of results) expect(r.code, r.err).toBe(0);
    const outcome = results.map((r) => /result (.*)/.exec(r.out)?.[1]);
    const distinct = outcome.filter((_, i) => i % 2 === 0);
    const same = outcome.filter((_, i) => i % 2 === 1);
    expect(distinct).toEqual(Array(20).fill('ok'));
    expect(same.filter((x) => x === 'ok')).toHaveLength(1);
    expect(same.filter((x) => x === 'exists')).toHaveLength(19);
    const winner = same.indexOf('ok');
    expect(store.load('same').bundle).toBe(`/bundle-${winner}`);
    expect(store.list().map((s) => s.id)).toEqual([...Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, '0')}`), 'same']);
    expect(store.listBroken()).toEqual([]);
  });
});

describe('liveness', () => {
  it('processStartTime reads field 22, even when the command name holds spaces and parentheses', async () => {
    const self = processStartTime(process.pid);
    expect(self).toBeGreaterThan(0);
    expect(processStartTime(0)).toBeNull();
    expect(processStartTime(-1)).toBeNull();
    expect(processStartTime(2 ** 22 + 12345)).toBeNull(); // above pid_max's ceiling

    const odd = path.join(tmp, 'x) 1 2 (y');
    fs.copyFileSync('/bin/sleep', odd);
    fs.chmodSync(odd, 0o755);
    const uptime = () => Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const before = uptime();
    const p = spawn(odd, ['30'], { stdio: 'ignore' });
    const after = uptime();
    try {
      await new Promise((r) => p.once('spawn', r));
      expect(fs.readFileSync(`/proc/${p.pid}/stat`, 'latin1')).toContain('(x) 1 2 (y)');
      const start = processStartTime(p.pid!)!;
      // Clock ticks after boot (USER_HZ is 100 on Linux).
      expect(start).toBeGreaterThanOrEqual(Math.floor(before * 100) - 100);
      expect(start).toBeLessThanOrEqual(Math.ceil(after * 100) + 100);
      expect(start).toBeGreaterThanOrEqual(self!);
      expect(isAlive(p.pid!, start)).toBe(true);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('isAlive detects pid reuse through the start time', () => {
    const start = processStartTime(process.pid)!;
    expect(isAlive(process.pid, start)).toBe(true);
    expect(isAlive(process.pid, start - 1)).toBe(false);
    expect(isAlive(process.pid, start + 1)).toBe(false);
    expect(isAlive(0, 0)).toBe(false);
    expect(isAlive(2 ** 22 + 12345, start)).toBe(false);
    // A recorded sentry whose pid now belongs to another process is gone.
    const s = makeState('reused', { status: 'running', pid: process.pid, sentryPid: process.pid, sentryStartTime: start - 1 });
    expect(status(s)).toBe('stopped');
    expect(status({ ...s, sentryStartTime: start })).toBe('running');
  });

  it('a zombie is not alive', async () => {
    // `sleep 0` exits as the child of `sleep 30`, which never reaps it.
    const p = spawn('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zpid = Number(await new Promise<string>((r) => p.stdout.once('data', (d: Buffer) => r(d.toString()))));
      const deadline = Date.now() + 10000;
      while (!/\) Z /.test(fs.readFileSync(`/proc/${zpid}/stat`, 'latin1'))) {
        if (Date.now() > deadline) throw new Error('no zombie');
        await new Promise((r) => setTimeout(r, 10));
      }
      const start = processStartTime(zpid);
      expect(start).not.toBeNull();
      expect(isAlive(zpid, start!)).toBe(false);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('status() and ociState() of a container whose sentry died are stopped, pid 0', async () => {
    const p = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => p.once('spawn', r));
    const pid = p.pid!;
    const start = processStartTime(pid)!;
    const s = makeState('life', {
      status: 'running',
      pid,
      sentryPid: pid,
      sentryStartTime: start,
      annotations: { a: '1' },
      owner: 'root',
    });
    expect(status(s)).toBe('running');
    const live = ociState(s);
    expect(live).toEqual({
      ociVersion: '1.0.2',
      id: 'life',
      pid,
      status: 'running',
      bundle: '/bundles/life',
      rootfs: '/bundles/life/rootfs',
      created: '2024-01-02T03:04:05.678Z',
      owner: 'root',
      annotations: { a: '1' },
    });
    expect(Object.keys(live)).toEqual(['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner', 'annotations']);
    expect(status({ ...s, status: 'paused' })).toBe('paused');
    expect(status({ ...s, status: 'stopped' })).toBe('stopped');

    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    // exit is emitted once reaped; wait for /proc to agree.
    const deadline = Date.now() + 5000;
    while (processStartTime(pid) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(isAlive(pid, start)).toBe(false);
    expect(status(s)).toBe('stopped');
    expect(ociState(s)).toMatchObject({ pid: 0, status: 'stopped' });
    // No sentry at all (a create that did not get that far).
    expect(status(makeState('none', { status: 'creating' }))).toBe('stopped');
  });

  it('the state survives a round trip through the store with its live status', () => {
    const store = new StateStore(root);
    const start = processStartTime(process.pid)!;
    store.create(makeState('me', { status: 'created', pid: process.pid, sentryPid: process.pid, sentryStartTime: start }));
    expect(store.list().map(ociState)).toEqual([expect.objectContaining({ id: 'me', status: 'created', pid: process.pid })]);
  });
});
