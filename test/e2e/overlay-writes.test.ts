// The overlay's change list after a run (src/testrun/writes.ts) against the
// file effects of the same script run natively on a copy of the directory;
// the host directory unchanged; the exported patch (git apply, patch -p1)
// and tar (GNU tar, whiteouts applied as docs/testrun.md says) reproduce the
// native result on a fresh copy.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, rmrf, runNative, sh, tempDir, treeSnapshot } from './harness.js';

const DRIVER = path.join(REPO, 'test/e2e/access-driver.mjs');
const LONG_DIR = `long/${'d'.repeat(70)}/${'e'.repeat(70)}`;
const LONG_NAME = `${'n'.repeat(120)}.txt`;

/** The project the script changes. */
function makeFixture(dir: string): void {
  const put = (rel: string, data: string | Buffer, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data, { mode });
    fs.chmodSync(path.join(dir, rel), mode);
  };
  put('text.txt', 'one\ntwo\nthree\n');
  put('big.txt', Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(''));
  put('blob.bin', Buffer.from([0, 1, 2, 3, 255, 0, 7]));
  put('gone.txt', 'to be deleted\n');
  put('olddir/a.txt', 'a\n');
  put('olddir/nested/b.bin', Buffer.from([9, 0, 9]));
  put('renamed-from.txt', 'moving\n');
  put('movedir/inner/m.txt', 'moved with its directory\n');
  put('script.sh', '#!/bin/sh\necho hi\n');
  put('private.txt', 'secret-ish\n');
  put('owned.txt', 'owner changes\n');
  put('recreated.txt', 'first life\n');
  put('same-again.txt', 'same\n');
  put('same.txt', 'written back unchanged\n');
  put('was-file', 'a file, then a directory\n');
  put('was-dir/x.txt', 'a directory, then a file\n');
  put('was-file2', 'a file, then a symlink\n');
  put('nonl.txt', 'with newline\n');
  put('appended.txt', 'first\n');
  put('touched.txt', 'only its time changes\n');
  put('sub/keep.txt', 'kept\n');
  put(`${LONG_DIR}/deep.txt`, 'deep\n');
  put('untouched.txt', 'never changed\n');
  put('exec-untouched.sh', '#!/bin/sh\n', 0o755);
  put('tool.sh', '#!/bin/sh\necho old\n', 0o755);
  fs.symlinkSync('text.txt', path.join(dir, 'oldlink'));
  fs.mkdirSync(path.join(dir, 'emptied'));
}

const SCRIPT = `set -e
printf 'one\\nTWO\\nthree\\n' > text.txt
sed -i -e 's/^line 50$/LINE FIFTY/' -e 's/^line 150$/LINE 150/' big.txt
sed -i s/old/new/ tool.sh
printf 'x\\000\\001\\002new' > blob.bin
printf 'a\\000b' > newblob.bin
echo brand new > created.txt
: > empty-new.txt
mkdir -p made/deeper/deepest && echo deep > made/deeper/deepest/leaf.txt
mkdir emptydir
rm gone.txt
rm -r olddir
mv renamed-from.txt renamed-to.txt
mv movedir moveddir
chmod 755 script.sh
chmod 600 private.txt
chown 1234:5678 owned.txt
ln -s text.txt newlink
ln -sfn blob.bin oldlink
rm recreated.txt && printf 'second life\\n' > recreated.txt
rm same-again.txt && printf 'same\\n' > same-again.txt
cat same.txt > same.tmp && cat same.tmp > same.txt && rm same.tmp
rm was-file && mkdir was-file && echo inside > was-file/x
rm -r was-dir && echo now a file > was-dir
rm was-file2 && ln -s text.txt was-file2
printf 'no newline' > nonl.txt
echo second >> appended.txt
echo spaced > 'with space.txt'
echo long > ${LONG_DIR}/${LONG_NAME}
touch -d '2001-02-03 04:05:06' touched.txt
rmdir emptied
echo x > sub/inner.txt && touch -d '2002-03-04 05:06:07' sub
`;

interface State {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  data: Buffer;
}

/** Every object below `root`: type, mode, owner, mtime and contents (a symlink's: its target). */
function states(root: string): Map<string, State> {
  const out = new Map<string, State>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      const data = type === 'symlink' ? Buffer.from(fs.readlinkSync(p)) : type === 'file' ? fs.readFileSync(p) : Buffer.alloc(0);
      out.set(r, { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, data });
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

/**
 * The changes docs/testrun.md's model gives for a native run, one line each:
 * path, kind, type, attributes, size, host size. A modification time counts
 * only where the script set one (a past one: writes move it to the present).
 */
function expectedChanges(before: Map<string, State>, after: Map<string, State>, start: number): string[] {
  const size = (s: State) => (s.type === 'dir' ? 0 : s.data.length);
  const out: string[] = [];
  for (const p of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(p);
    const a = after.get(p);
    if (!a) out.push(line(p, 'deleted', b!.type, [], null, size(b!)));
    else if (!b) out.push(line(p, 'created', a.type, [], size(a), null));
    else if (a.type !== b.type) out.push(line(p, 'type-changed', a.type, [], size(a), size(b)));
    else {
      const attrs: string[] = [];
      if (a.mode !== b.mode && a.type !== 'symlink') attrs.push('mode');
      if (a.uid !== b.uid || a.gid !== b.gid) attrs.push('owner');
      if (a.mtimeMs !== b.mtimeMs && a.mtimeMs < start) attrs.push('mtime');
      if (!a.data.equals(b.data)) out.push(line(p, 'modified', a.type, attrs, size(a), size(b)));
      else if (attrs.length) out.push(line(p, 'metadata', a.type, attrs, size(a), size(b)));
    }
  }
  return out.sort();
}

function line(p: string, kind: string, type: string, attrs: string[], size: number | null, hostSize: number | null): string {
  return `${p} ${kind} ${type} [${attrs.join(',')}] ${size} ${hostSize}`;
}

interface Change {
  path: string;
  kind: string;
  type: string;
  attrs?: string[];
  size: number | null;
  hostSize: number | null;
  binary?: boolean;
  diff?: string;
  owner?: number[];
  hostOwner?: number[];
  mtime?: string;
}

interface Exported {
  format: string;
  changes: number;
  outside: number;
  left: { path: string; why: string }[];
}

let work: string;
let project: string;
let native: string;
let before: Map<string, State>;
let nativeStart: number;
let sandbox: { status: number | null; stderr: string };
let writes: { changes: Change[]; exports: Exported[] };
let hostBefore: Map<string, State>;

/** A fresh copy of the project as it was. */
function freshCopy(name: string): string {
  const dir = path.join(work, name);
  execFileSync('cp', ['-a', project, dir]);
  return dir;
}

beforeAll(() => {
  work = tempDir('writes');
  project = path.join(work, 'project');
  fs.mkdirSync(project);
  makeFixture(project);
  native = freshCopy('native');
  before = states(native);
  nativeStart = Date.now() - 1000;
  const n = runNative(sh(SCRIPT), { cwd: native });
  expect(n.stderr).toBe('');
  expect(n.status).toBe(0);

  hostBefore = states(project);
  const r = spawnSync(
    process.execPath,
    [DRIVER, '--events', path.join(work, 'events.jsonl'), '--writes', path.join(work, 'writes.json'), '--export-writes', path.join(work, 'w.patch'), '--export-writes', path.join(work, 'w.tar'), '--cwd', project, '--', '/bin/sh', '-c', SCRIPT],
    { cwd: project, encoding: 'utf8', timeout: 120_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root', LANG: 'C' } },
  );
  sandbox = { status: r.status, stderr: r.stderr };
  writes = JSON.parse(fs.readFileSync(path.join(work, 'writes.json'), 'utf8'));
}, 180_000);

afterAll(() => rmrf(work));

/** treeSnapshot with what a patch carries: files and symlinks, git's two file modes. */
function patchView(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  return treeSnapshot(dir)
    .filter((l) => !/^\S+ d /.test(l) && !skip(l.split(' ')[0]!))
    .map((l) => l.replace(/^(\S+ f )(\d+)/, (_, head: string, mode: string) => `${head}${parseInt(mode, 8) & 0o100 ? '755' : '644'}`));
}

describe('overlay writes', () => {
  it('the run succeeds and leaves the host directory as it was', () => {
    expect(sandbox.stderr).toBe('');
    expect(sandbox.status).toBe(0);
    expect(states(project)).toEqual(hostBefore);
  });

  it('the change list is exactly the native run\'s file effects', () => {
    const rel = (p: string) => path.relative(project, p);
    const got = writes.changes
      .filter((c) => c.path.startsWith(`${project}/`))
      .map((c) => line(rel(c.path), c.kind, c.type, c.attrs ?? [], c.size, c.hostSize))
      .sort();
    expect(got).toEqual(expectedChanges(before, states(native), nativeStart));
    // Nothing else of the host changed (the script writes only below its directory).
    expect(writes.changes.filter((c) => !c.path.startsWith(`${project}/`))).toEqual([]);
  });

  it('text changes carry a unified diff against the host version, binary ones say so; owner and time changes their values', () => {
    const byPath = new Map(writes.changes.map((c) => [path.relative(project, c.path), c]));
    expect(byPath.get('text.txt')!.diff).toBe(`--- a${project}/text.txt\n+++ b${project}/text.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n`);
    expect(byPath.get('big.txt')!.diff).toMatch(/@@ -48,7 \+48,7 @@\n line 47\n line 48\n line 49\n-line 50\n\+LINE FIFTY\n line 51\n line 52\n line 53\n@@ -148,7 \+148,7 @@\n/);
    expect(byPath.get('nonl.txt')!.diff).toMatch(/-with newline\n\+no newline\n\\ No newline at end of file\n$/);
    expect(byPath.get('created.txt')!.diff).toMatch(/^--- \/dev\/null\n.*\n@@ -0,0 \+1,1 @@\n\+brand new\n$/);
    expect([byPath.get('owned.txt')!.owner, byPath.get('owned.txt')!.hostOwner]).toEqual([[1234, 5678], [0, 0]]);
    expect([byPath.get('touched.txt')!.mtime, byPath.get('sub')!.mtime]).toEqual([
      new Date('2001-02-03T04:05:06').toISOString().replace('.000Z', '.000000000Z'),
      new Date('2002-03-04T05:06:07').toISOString().replace('.000Z', '.000000000Z'),
    ]);
    for (const p of ['blob.bin', 'newblob.bin', 'olddir/nested/b.bin']) {
      expect(byPath.get(p)!.binary).toBe(true);
      expect(byPath.get(p)!.diff).toBeUndefined();
    }
  });

  it('git apply of the exported patch reproduces the native result; it says what a patch cannot carry', () => {
    const dir = freshCopy('git-apply');
    const r = spawnSync('git', ['apply', path.join(work, 'w.patch')], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(patchView(dir)).toEqual(patchView(native));
    const patch = writes.exports.find((e) => e.format === 'patch')!;
    expect(patch.outside).toBe(0);
    expect(patch.left.map((l) => `${path.relative(project, l.path)}: ${l.why.split(':')[0]}`).sort()).toEqual([
      'emptied: an empty directory',
      'emptydir: an empty directory',
      'owned.txt: owner',
      'private.txt: mode',
      'sub: mtime',
      'touched.txt: mtime',
    ]);
  });

  it('patch -p1 applies it too, all but binary files and a file replaced by a directory or back', () => {
    const dir = freshCopy('patch-p1');
    const r = spawnSync('patch', ['-p1', '-i', path.join(work, 'w.patch')], { cwd: dir, encoding: 'utf8' });
    const binaries = ['blob.bin', 'newblob.bin', 'olddir/nested/b.bin'];
    expect(r.stdout.split('\n').filter((l) => /binary|refusing|Invalid/.test(l)).sort()).toEqual([
      ...binaries.map((b) => `File ${b}: git binary diffs are not supported.`),
      'File was-dir is not a regular file -- refusing to patch',
      'Invalid file name was-file/x -- skipping patch',
    ].sort());
    const skip = (rel: string) => binaries.includes(rel) || /^was-(dir|file)(\.rej$|\/|$)/.test(rel);
    expect(patchView(dir, skip)).toEqual(patchView(native, skip));
  });

  it('the exported tar, whiteouts applied, reproduces the native result with modes, owners and set times', () => {
    const dir = freshCopy('tar');
    const tarFile = path.join(work, 'w.tar');
    const names = execFileSync('tar', ['-tf', tarFile], { encoding: 'latin1' }).split('\n').filter(Boolean);
    // docs/testrun.md's recipe, as written there (the first sh block of its "Writes" section).
    const writesSection = fs.readFileSync(path.join(REPO, 'docs/testrun.md'), 'utf8').split('\n## Writes\n')[1]!;
    const recipe = /```sh\n([^`]*)```/.exec(writesSection)![1]!.replaceAll('FILE.tar', tarFile);
    execFileSync('sh', ['-ec', recipe], { cwd: dir });
    expect(treeSnapshot(dir)).toEqual(treeSnapshot(native));
    const owner = (d: string, rel: string) => {
      const st = fs.lstatSync(path.join(d, rel));
      return [st.uid, st.gid, st.mtimeMs];
    };
    for (const rel of ['owned.txt', 'touched.txt']) expect(owner(dir, rel)).toEqual(owner(native, rel));
    expect(names).toContain(`${LONG_DIR}/${LONG_NAME}`);
    // One whiteout a deleted or replaced object, none for what a deleted directory held.
    expect(names.filter((n) => n.includes('.wh.')).sort()).toEqual(['.wh.emptied', '.wh.gone.txt', '.wh.movedir', '.wh.olddir', '.wh.renamed-from.txt', '.wh.was-dir', '.wh.was-file', '.wh.was-file2']);
  });
});

describe('overlay writes at hidden paths', () => {
  it('are created objects with no host side: a whiteout there is no deletion, no diff or patch shows the host content', () => {
    const top = tempDir('writes-hidden');
    const dir = path.join(top, 'project');
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'secret.txt'), 'SECRET-CONTENT\n');
      fs.mkdirSync(path.join(dir, 'keys'));
      fs.writeFileSync(path.join(dir, 'keys/id'), 'KEY-CONTENT\n');
      const out = path.join(top, 'writes.json');
      const patchFile = path.join(top, 'writes.patch');
      const hidden = [path.join(dir, 'secret.txt'), `${path.join(dir, 'keys')}/`];
      const r = spawnSync(
        process.execPath,
        [DRIVER, '--events', '/dev/null', '--writes', out, '--export-writes', patchFile, ...hidden.flatMap((h) => ['--hide', h]), '--cwd', dir, '--', '/bin/sh', '-c', 'echo public > secret.txt && mkdir -p keys && echo other > keys/new && rm -f keys/id'],
        { cwd: dir, encoding: 'utf8', timeout: 120_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const { changes } = JSON.parse(fs.readFileSync(out, 'utf8')) as { changes: Change[] };
      expect(changes.map((c) => line(path.relative(dir, c.path), c.kind, c.type, c.attrs ?? [], c.size, c.hostSize))).toEqual([
        'keys created dir [] 0 null',
        'keys/new created file [] 6 null',
        'secret.txt created file [] 7 null',
      ]);
      const patch = fs.readFileSync(patchFile, 'latin1');
      expect(`${JSON.stringify(changes)}${patch}`).not.toMatch(/SECRET|KEY/);
    } finally {
      rmrf(top);
    }
  });
});
