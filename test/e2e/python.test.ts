// python3 natively and under `tsvisor do` (host root, in-memory overlay):
// file I/O, os.walk, subprocess, tempfile, sqlite3 and threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { rmrf, runNative, runSandbox, tempDir } from './harness.js';

const PY = '/usr/bin/python3';
let work: string;

beforeAll(() => {
  work = tempDir('py');
  fs.mkdirSync(path.join(work, 'tree/a/b'), { recursive: true });
  for (const [p, c] of [['tree/x.txt', 'x'], ['tree/a/y.txt', 'yy'], ['tree/a/b/z.txt', 'zzz']]) fs.writeFileSync(path.join(work, p!), c!);
  fs.symlinkSync('a/y.txt', path.join(work, 'tree/link'));
});
afterAll(() => rmrf(work));

/** Runs a python program in both worlds; `{W}` stands for the work directory (read-only for both). */
function compare(program: string, scratch = true) {
  const run = (runner: typeof runNative) => {
    const out = scratch ? tempDir('pyout') : '';
    const code = program.split('{W}').join(work).split('{OUT}').join(out);
    const r = runner([PY, '-c', code], { env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONHASHSEED: '0', TMPDIR: out || '/tmp' } });
    if (out) rmrf(out);
    return { ...r, stdout: out ? r.stdout.split(out).join('OUT') : r.stdout, stderr: out ? r.stderr.split(out).join('OUT') : r.stderr };
  };
  const native = run(runNative);
  const sandbox = run(runSandbox);
  expect(native.status, native.stderr).toBe(0);
  expect(sandbox.stderr).toBe(native.stderr);
  expect(sandbox.stdout).toBe(native.stdout);
  expect(sandbox.status).toBe(native.status);
  return sandbox;
}

describe('python3', () => {
  it('reads and writes files', () => {
    compare(`
import os, io, json
p = "{OUT}/data.json"
with open(p, "w") as f: json.dump({"k": list(range(100))}, f)
with open(p, "a") as f: f.write("\\n")
with open(p) as f: d = json.loads(f.read())
print(sum(d["k"]), os.path.getsize(p))
with open(p, "r+b") as f:
    f.seek(2); f.write(b"K"); f.seek(0); print(f.read(8))
os.rename(p, p + ".2"); print(sorted(os.listdir("{OUT}")))
os.truncate(p + ".2", 5); print(open(p + ".2").read())
fd = os.open("{OUT}/excl", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640); os.write(fd, b"e"); os.close(fd)
try: os.open("{OUT}/excl", os.O_CREAT | os.O_EXCL)
except FileExistsError as e: print("exists", e.errno)
print(oct(os.stat("{OUT}/excl").st_mode & 0o777))
`);
  });

  it('walks a tree', () => {
    compare(`
import os
for root, dirs, files in os.walk("{W}/tree"):
    dirs.sort()
    print(root.replace("{W}", "W"), sorted(dirs), sorted(files))
print([ (e.name, e.is_dir(), e.is_symlink()) for e in sorted(os.scandir("{W}/tree"), key=lambda e: e.name)])
print(os.readlink("{W}/tree/link"), os.path.realpath("{W}/tree/link").replace("{W}", "W"))
`, false);
  });

  it('runs subprocesses', () => {
    compare(`
import subprocess, sys
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 5"], capture_output=True, text=True)
print(r.returncode, repr(r.stdout), repr(r.stderr))
print(subprocess.check_output(["ls", "{W}/tree"], text=True).split())
p = subprocess.Popen([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(p.communicate("piped")[0].strip(), p.returncode)
print(subprocess.run("echo $((6*7)) | cat", shell=True, capture_output=True, text=True).stdout.strip())
`, false);
  });

  it('uses tempfile', () => {
    compare(`
import tempfile, os
with tempfile.TemporaryDirectory() as d:
    with tempfile.NamedTemporaryFile(dir=d, delete=False, suffix=".x") as f:
        f.write(b"temp"); name = f.name
    print(open(name).read(), name.endswith(".x"), os.path.dirname(name) == d)
    print(len(os.listdir(d)))
print(os.path.exists(d))
fd, p = tempfile.mkstemp(); os.write(fd, b"abc"); os.close(fd); print(os.path.getsize(p)); os.unlink(p)
with tempfile.TemporaryFile() as t: t.write(b"zz"); t.seek(0); print(t.read())
`);
  });

  it('uses sqlite3 on a file in /tmp', () => {
    compare(`
import sqlite3, os
db = "{OUT}/t.db"
c = sqlite3.connect(db)
c.execute("create table t (i integer primary key, s text)")
c.executemany("insert into t(s) values (?)", [(str(i) * 3,) for i in range(500)])
c.commit()
c.execute("pragma journal_mode=wal")
with c: c.execute("update t set s = upper(s) where i % 7 = 0")
print(c.execute("select count(*), sum(length(s)) from t").fetchone())
c.close()
c2 = sqlite3.connect(db)
print(c2.execute("select s from t where i = 14").fetchone())
print(sorted(os.listdir("{OUT}"))[:1])
`);
  });

  it('runs threads', () => {
    compare(`
import threading, os, queue
q = queue.Queue()
def work(n):
    with open(os.path.join("{OUT}", f"t{n}"), "w") as f: f.write(str(n) * n)
    q.put(os.path.getsize(os.path.join("{OUT}", f"t{n}")))
ts = [threading.Thread(target=work, args=(i,)) for i in range(1, 17)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(q.get() for _ in ts))
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(8) as ex: print(sum(ex.map(lambda i: len(os.listdir("{W}/tree")) * i, range(100))))
`);
  });
});
