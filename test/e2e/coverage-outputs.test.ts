// tsvisor coverage's outputs (issue 10, items 4 and 6): the seccomp profile
// it generates runs the same program under runc unchanged and is exact (a
// used call taken out of it makes the program fail); the HTML page renders
// in headless Chromium without a console error or a network request; the
// Markdown is a well-formed pull-request comment; --audit reports what a
// profile would have refused without refusing it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TSVISOR, busyboxRoot, rmrf, specBundle } from './harness.js';
import { compile, hostScratch } from './robust-helpers.js';
import { type Report, validateReport } from '../../src/coverage/schema.js';

/** The container's environment (tsvisor spec's), given to the coverage run too. */
const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'xterm' };
/** Forks (a pipeline, a command substitution), execs, opens, lists a directory, writes. */
const SCRIPT = 'echo start; cat /etc/hostname; ls /etc/conf.d | wc -l; echo $(cat /etc/conf.d/file3.conf)';
/** The same with fewer calls: no pipe, no directory listing, no fork. */
const SMALLER = 'echo start; cat /etc/hostname';

let dir: string;
let rootfs: string;
let counter = 0;

beforeAll(() => {
  dir = hostScratch('covout');
  rootfs = busyboxRoot();
});
afterAll(() => {
  if (dir) rmrf(dir);
  if (rootfs) rmrf(rootfs);
});

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `tsvisor coverage FLAGS -- /bin/sh -c SCRIPT` in the test root, as the container runs it (pid 1, cwd /, the spec's environment). */
function coverage(script: string, flags: string[]): Outcome {
  const r = spawnSync(TSVISOR, ['coverage', '--no-init', '--root', rootfs, '--cwd', '/', ...flags, '--', '/bin/sh', '-c', script], {
    env: ENV, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const out = (name: string) => path.join(dir, `${counter++}-${name}`);
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** `runc run` (or tsvisor's) of `argv` (a string: a shell script) in the test root with `seccomp` as linux.seccomp (none: no profile). */
function runc(argv: string | string[], seccomp: unknown, runtime: 'runc' | 'tsvisor' = 'runc', noNewPrivileges = true): Outcome {
  const id = `covout-${process.pid}-${counter++}`;
  const bundle = specBundle(path.join(dir, id), rootfs, typeof argv === 'string' ? ['/bin/sh', '-c', argv] : argv, (config) => {
    config.process.noNewPrivileges = noNewPrivileges;
    if (seccomp) config.linux.seccomp = seccomp;
    else delete config.linux.seccomp;
  });
  const bin = runtime === 'runc' ? 'runc' : TSVISOR;
  const state = path.join(dir, `${runtime}-state`);
  const r = spawnSync(bin, ['--root', state, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL' });
  spawnSync(bin, ['--root', state, 'delete', '--force', id], { stdio: 'ignore' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Profile = { defaultAction: string; syscalls: { names: string[]; action: string; args?: unknown[]; comment: string }[] };

const without = (p: Profile, name: string): Profile => ({ ...p, syscalls: p.syscalls.map((e) => ({ ...e, names: e.names.filter((n) => n !== name) })).filter((e) => e.names.length) });

describe('--seccomp-profile', () => {
  let profile: Profile;
  let report: Report;
  let native: Outcome;

  beforeAll(() => {
    const json = out('report.json');
    const file = out('profile.json');
    const r = coverage(SCRIPT, ['--quiet', '--json', json, '--seccomp-profile', file]);
    expect(r.status).toBe(0);
    report = readJson(json);
    profile = readJson(file);
    native = runc(SCRIPT, null);
    expect(native).toMatchObject({ status: 0, stdout: 'start\nsandbox\n20\nvalue=21\n' });
  });

  it('allows exactly the calls the program made, plus the calls runc makes between loading it and the exec', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    const used = new Set(report.syscalls.map((s) => s.name));
    const program = profile.syscalls.filter((e) => !e.comment.startsWith('runc'));
    expect(new Set(program.flatMap((e) => e.names))).toEqual(used);
    // The runtime's entries add only calls of the runtime's own (or classes of a call the program also made).
    for (const e of profile.syscalls.filter((x) => x.comment.startsWith('runc'))) {
      for (const n of e.names) if (!e.args) expect(used.has(n)).toBe(false);
    }
    // A classified call is allowed only with the argument classes observed.
    for (const s of report.syscalls.filter((x) => x.classes?.length)) {
      const entries = program.filter((e) => e.names.includes(s.name));
      expect(entries).toHaveLength(s.classes!.length);
      for (const e of entries) expect(e.args?.length).toBeGreaterThan(0);
    }
  });

  it('runs the same program under runc unchanged, every time', () => {
    for (let i = 0; i < 3; i++) expect(runc(SCRIPT, profile)).toEqual(native);
  });

  it('runs it unchanged under runc without noNewPrivileges too (Docker\'s and podman\'s default: runc loads the profile before it sets identity and capabilities)', () => {
    for (let i = 0; i < 2; i++) expect(runc(SCRIPT, profile, 'runc', false)).toEqual(native);
    expect(runc(SCRIPT, without(profile, 'clone'), 'runc', false).stdout).not.toBe(native.stdout);
  });

  it('is exact: taking out one call, or one argument class, the program used makes it fail', () => {
    // clone: the pipeline's fork; pipe2: the pipeline; newfstatat: ls's look at the directory.
    for (const name of ['clone', 'pipe2', 'newfstatat']) {
      expect(report.syscalls.some((s) => s.name === name)).toBe(true);
      const r = runc(SCRIPT, without(profile, name));
      expect(r.stdout === native.stdout && r.status === native.status, `without ${name}: ${JSON.stringify(r)}`).toBe(false);
    }
    // The argument classes are exact too: openat stays allowed for files, but not for ls's directory.
    const dirOpen = profile.syscalls.filter((e) => e.names[0] === 'openat' && e.comment.startsWith('flags O_RDONLY|O_DIRECTORY:'));
    expect(dirOpen).toHaveLength(1);
    const r = runc(SCRIPT, { ...profile, syscalls: profile.syscalls.filter((e) => e !== dirOpen[0]) });
    expect(r.stdout).toBe('start\nsandbox\n0\nvalue=21\n');
    expect(r.stderr).toContain("ls: can't open '/etc/conf.d': Operation not permitted");
  });

  it('runs a static C program under runc unchanged: denied calls, signal handlers, fork and exec, threads (clone3)', () => {
    fs.copyFileSync(compile('coverage', dir), path.join(rootfs, 'coverage'));
    for (const args of [[], ['threads']]) {
      const file = out('c-profile.json');
      const json = out('c-report.json');
      const r = spawnSync(TSVISOR, ['coverage', '--quiet', '--no-init', '--root', rootfs, '--cwd', '/', '--json', json, '--seccomp-profile', file, '--', '/coverage', ...args], { env: ENV, encoding: 'utf8', timeout: 60000 });
      expect(r.status).toBe(0);
      const used = (readJson(json) as Report).syscalls.map((x) => x.name);
      expect(used).toEqual(expect.arrayContaining(args.length ? ['clone3'] : ['tuxcall', 'kill', 'rt_sigreturn', 'fork']));
      const plain = runc(['/coverage', ...args], null);
      expect(plain.status).toBe(0);
      expect(plain.stdout).toBe(args.length ? 't\nt\nt\n' : 'x\n'.repeat(7));
      expect(runc(['/coverage', ...args], readJson(file))).toEqual(plain);
    }
  });

  it('--seccomp-runtime tsvisor: the profile runs the program under tsvisor\'s own runtime unchanged, and is exact there too', () => {
    const file = out('tsvisor-profile.json');
    expect(coverage(SCRIPT, ['--quiet', '--seccomp-profile', file, '--seccomp-runtime', 'tsvisor']).status).toBe(0);
    const own: Profile = readJson(file);
    // The program execs (cat, ls): the launcher's exec needs nothing more.
    expect(own.syscalls.filter((e) => e.comment.startsWith('tsvisor'))).toEqual([]);
    expect(runc(SCRIPT, own, 'tsvisor')).toEqual(native);
    expect(runc(SCRIPT, without(own, 'clone'), 'tsvisor').stdout).not.toBe(native.stdout);
  });

  it('--seccomp-runtime none leaves runc\'s own calls out, and runc cannot start the program under it', () => {
    const file = out('bare.json');
    expect(coverage(SMALLER, ['--quiet', '--seccomp-profile', file, '--seccomp-runtime', 'none']).status).toBe(0);
    const bare: Profile = readJson(file);
    expect(bare.syscalls.every((e) => !e.comment.startsWith('runc'))).toBe(true);
    expect(runc(SMALLER, bare).stdout).not.toBe('start\nsandbox\n');
  });
});

describe('the output flags', () => {
  it('are in --help; a bad --seccomp-runtime, one without --seccomp-profile, --audit-caps without --audit or an empty file name is a usage error', () => {
    const help = spawnSync(TSVISOR, ['coverage', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const flag of ['--html', '--markdown', '--seccomp-profile', '--seccomp-runtime', '--audit', '--audit-caps']) expect(help.stdout).toContain(flag);
    for (const args of [['--seccomp-profile', out('p.json'), '--seccomp-runtime', 'crun'], ['--seccomp-runtime', 'runc'], ['--audit-caps', 'SYS_ADMIN'], ['--html', ''], ['--audit', '']]) {
      const r = spawnSync(TSVISOR, ['coverage', ...args, '--', '/bin/true'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/^tsvisor: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const nowhere = spawnSync(TSVISOR, ['coverage', '--html', '/nonexistent-dir/r.html', '--', '/bin/sh', '-c', 'echo ran'], { encoding: 'utf8' });
    expect(nowhere.stdout).toBe('');
    expect(nowhere.stderr.trim()).toBe('tsvisor: --html /nonexistent-dir/r.html: ENOENT');
  });
});

describe('--audit', () => {
  it('reports the calls a profile would have refused, refusing none', () => {
    const file = out('small-profile.json');
    expect(coverage(SMALLER, ['--quiet', '--seccomp-profile', file, '--seccomp-runtime', 'none']).status).toBe(0);
    const small: Profile = readJson(file);
    const allowed = new Set(small.syscalls.flatMap((e) => e.names));
    const json = out('audit.json');
    const html = out('audit.html');
    const md = out('audit.md');
    const r = coverage(SCRIPT, ['--quiet', '--json', json, '--html', html, '--markdown', md, '--audit', file]);
    // Not refused: the run is the same as without a profile.
    expect(r).toMatchObject({ status: 0, stdout: 'start\nsandbox\n20\nvalue=21\n' });
    const report: Report = readJson(json);
    const extra = report.syscalls.filter((s) => !allowed.has(s.name)).map((s) => s.name);
    expect(extra).toEqual(expect.arrayContaining(['pipe2', 'getdents64']));
    const lines = r.stderr.split('\n');
    expect(lines[1]).toMatch(new RegExp(`^audit: ${file} would have refused \\d+ calls of \\d+ kinds \\(not refused in this run\\):$`));
    const named = lines.slice(2).map((l) => /^\s+\d+\s+(\w+)[ :]/.exec(l)?.[1]).filter(Boolean);
    // Every call the smaller run did not make, and nothing it made but in another argument class.
    expect(new Set(named)).toEqual(new Set([...extra, ...named.filter((n) => allowed.has(n!))]));
    for (const n of named.filter((x) => allowed.has(x!))) expect(report.syscalls.find((s) => s.name === n)?.classes?.length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^\s+\d+\s+pipe2: EPERM$/m);
    // ls opens a directory; the smaller run opened only files: refused by its class.
    expect(r.stderr).toMatch(/^\s+1\s+openat O_RDONLY\|O_DIRECTORY: EPERM$/m);
    // The JSON, HTML and Markdown hold the same audit as the terminal.
    expect(validateReport(report)).toEqual([]);
    expect(report.audit?.profile).toBe(file);
    const items = report.audit!.items;
    expect(items.map((i) => `${i.calls} ${i.syscall}${i.class ? ` ${i.class}` : ''}: ${i.answer}`)).toEqual(lines.slice(2).filter((l) => l.trim()).map((l) => l.trim().replace(/\s+/, ' ').replace(/ \(.* in this run\)$/, '')));
    expect(items.every((i) => i.verdict === 'blocked')).toBe(true);
    const page = fs.readFileSync(html, 'utf8');
    const section = page.slice(page.indexOf('<h2>Audit against a seccomp profile</h2>'), page.indexOf('<h2>Every call</h2>'));
    expect(section).toContain(`<code>${file}</code>`);
    for (const i of items) expect(section).toContain(`<td><code>${i.syscall}</code>${i.class ? ` <code>${i.class.replace(/&/g, '&#38;').replace(/\|/g, '|')}</code>` : ''}</td>`);
    expect((section.match(/<tr>/g) ?? []).length).toBe(items.length + 1);
    const comment = fs.readFileSync(md, 'utf8');
    expect(comment).toContain(`**Audit against \`${file}\`** (nothing was refused in this run): it would have refused ${items.length} kinds of call.`);
    for (const i of items) expect(comment).toContain(`| \`${i.syscall}\`${i.class ? ` \`${i.class.replace(/\|/g, '\\|')}\`` : ''} | ${i.answer} | ${i.calls} |`);
  });

  it('applies a config.json\'s linux.seccomp with its actions, and says when a rule tests arguments coverage does not record', () => {
    const config = out('config.json');
    fs.writeFileSync(config, JSON.stringify({
      ociVersion: '1.0.2',
      linux: {
        seccomp: {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [
            { names: ['getdents64'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
            { names: ['pipe2', 'pipe'], action: 'SCMP_ACT_KILL_PROCESS' },
            // a condition on an argument of the class: decided per class
            { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0x5413, op: 'SCMP_CMP_EQ' }] },
            // write to fd 2 only: coverage does not record write's fd
            { names: ['write'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
          ],
        },
      },
    }));
    const r = coverage(SCRIPT, ['--quiet', '--audit', config]);
    expect(r).toMatchObject({ status: 0, stdout: 'start\nsandbox\n20\nvalue=21\n' });
    expect(r.stderr).toMatch(/^\s+\d+\s+getdents64: ENOSYS$/m);
    expect(r.stderr).toMatch(/^\s+\d+\s+pipe2: process killed$/m);
    expect(r.stderr).toMatch(/^\s+\d+\s+ioctl TIOCGWINSZ: EPERM( \(1 failed with ENOTTY in this run\))?$/m);
    expect(r.stderr).not.toMatch(/ioctl TCGETS/);
    expect(r.stderr).toMatch(/its rules test arguments coverage does not record for \d+ calls of 1 kind, which it may refuse:\n\s+\d+\s+write: EPERM or allowed$/m);
  });

  it('applies a Docker-format profile\'s per-capability entries as Docker does (podman\'s default profile)', () => {
    // containers-common's profile, Docker's format: delete_module only with CAP_SYS_MODULE, tuxcall never (ENOSYS by default).
    const podman = '/usr/share/containers/seccomp.json';
    const program = compile('coverage', dir);
    const run = (flags: string[]) => spawnSync(TSVISOR, ['coverage', '--quiet', '--no-init', '--audit', podman, ...flags, '--', program], { encoding: 'utf8', timeout: 60000 });
    const docker = run([]);
    expect(docker.status).toBe(0);
    expect(docker.stderr).toContain(`audit: ${podman} (its conditional entries applied as Docker does, for Docker's default capabilities) would have refused 6 calls of 2 kinds`);
    expect(docker.stderr).toMatch(/^\s+5\s+tuxcall: ENOSYS \(5 failed with ENOSYS in this run\)$/m);
    expect(docker.stderr).toMatch(/^\s+1\s+delete_module: EPERM \(1 failed with \w+ in this run\)$/m);
    const withModule = run(['--audit-caps', 'sys_module']);
    expect(withModule.stderr).toContain('for capabilities CAP_SYS_MODULE) would have refused 5 calls of 1 kind');
    expect(withModule.stderr).not.toContain('delete_module');
  });

  it('refuses a bad profile before running anything, in one line', () => {
    const bad = out('bad.json');
    fs.writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_MAYBE' }] }));
    const r = coverage('echo ran', ['--audit', bad]);
    expect(r.stdout).toBe('');
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`--audit ${bad}: syscalls[0].action "SCMP_ACT_MAYBE" is not a seccomp action`);
    const missing = coverage('echo ran', ['--audit', path.join(dir, 'no-such.json')]);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim()).toBe(`tsvisor: --audit ${path.join(dir, 'no-such.json')}: ENOENT`);
  });
});

describe('--markdown', () => {
  it('writes a pull-request comment: verdicts, a table of the calls, the rest folded', () => {
    const md = out('report.md');
    const json = out('report.json');
    expect(coverage(SCRIPT, ['--quiet', '--json', json, '--markdown', md]).status).toBe(0);
    const text = fs.readFileSync(md, 'utf8');
    const report: Report = readJson(json);
    expect(text.startsWith('### Syscall coverage: `/bin/sh -c ')).toBe(true);
    expect(text).toMatch(/^\*\*Runs on gVisor\?\*\* (✅ yes|⚠️ partly|❌ no): /m);
    expect(text).toMatch(/^\*\*Runs on tsvisor\?\*\* (✅ yes|⚠️ partly|❌ no): /m);
    expect(text).toContain(`${report.totals.calls.toLocaleString('en-US')} calls of ${report.syscalls.length} kinds`);
    // Every call is in a table row, and every row has as many cells as its header.
    const rows = text.split('\n').filter((l) => l.startsWith('| `'));
    for (const s of report.syscalls) expect(rows.some((l) => l.startsWith(`| \`${s.name}\` | ${s.calls} |`))).toBe(true);
    const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    for (const table of text.split(/\n\n/).filter((b) => b.startsWith('| '))) {
      const [head, ...rest] = table.split('\n').filter(Boolean);
      for (const l of rest) expect(cells(l)).toBe(cells(head!));
    }
    expect(text).toContain('<details><summary>');
  });
});

/** Chrome's DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON). */
class Browser {
  private readonly proc: ChildProcess;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private buffered = '';
  readonly events: { method: string; params: any }[] = [];

  constructor(profileDir: string) {
    this.proc = spawn('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars', '--remote-debugging-pipe', `--user-data-dir=${profileDir}`, '--window-size=1280,1600', 'about:blank'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    });
    (this.proc.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      let nul: number;
      while ((nul = this.buffered.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffered.slice(0, nul));
        this.buffered = this.buffered.slice(nul + 1);
        if (msg.id !== undefined) {
          const w = this.waiting.get(msg.id);
          this.waiting.delete(msg.id);
          if (msg.error) w?.reject(new Error(`${JSON.stringify(msg.error)}`));
          else w?.resolve(msg.result);
        } else this.events.push({ method: msg.method, params: msg.params });
      }
    });
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<any> {
    const id = this.next++;
    (this.proc.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  /** Waits for an event `method` after the first `from` events. */
  async until(method: string, ms: number, from = 0): Promise<void> {
    const end = Date.now() + ms;
    while (!this.events.slice(from).some((e) => e.method === method)) {
      if (Date.now() > end) throw new Error(`no ${method} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.send('Browser.close').catch(() => undefined);
    if (this.proc.exitCode === null) await new Promise((r) => this.proc.once('exit', r));
  }
}

describe('--html', () => {
  it('escapes the command line in the HTML; the Markdown shows it in a code span', () => {
    const html = out('escape.html');
    const md = out('escape.md');
    expect(coverage('echo "<b>&amp;</b>" >/dev/null', ['--quiet', '--html', html, '--markdown', md]).status).toBe(0);
    const source = fs.readFileSync(html, 'utf8');
    expect(source).not.toContain('<b>&amp;</b>');
    expect(source).toContain('&#60;b&#62;&#38;amp;&#60;/b&#62;');
    expect(fs.readFileSync(md, 'utf8').split('\n')[0]).toBe('### Syscall coverage: `/bin/sh -c echo "<b>&amp;</b>" >/dev/null`');
  });

  // Chromium's start takes seconds, tens on a loaded machine.
  it('renders in headless Chromium: no console error, no network request, charts and tables present, not blank', { timeout: 180000 }, async () => {
    const html = out('report.html');
    const json = out('report.json');
    expect(coverage(SCRIPT, ['--quiet', '--json', json, '--html', html]).status).toBe(0);
    const report: Report = readJson(json);
    const source = fs.readFileSync(html, 'utf8');
    // Self-contained: nothing fetched, nothing run.
    expect(source).not.toMatch(/<script|<link|src=|@import|url\(/i);

    const browser = new Browser(out('chromium-profile'));
    try {
      const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true });
      for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await browser.send(`${domain}.enable`, {}, sessionId);
      const before = browser.events.length;
      await browser.send('Page.navigate', { url: `file://${html}` }, sessionId);
      await browser.until('Page.loadEventFired', 30000, before);
      const evaluate = async (expression: string) => (await browser.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId)).result.value;
      const page = await evaluate(`({
        title: document.title,
        charts: [...document.querySelectorAll('figure.chart')].map((f) => ({ id: f.id, bars: f.querySelectorAll('svg rect').length, width: f.getBoundingClientRect().width, height: f.getBoundingClientRect().height })),
        rows: [...document.querySelectorAll('table.syscalls tbody tr:not(.class) td:first-child')].map((td) => td.textContent),
        verdicts: [...document.querySelectorAll('.verdict h3')].map((h) => h.textContent),
        overflow: document.documentElement.scrollWidth > window.innerWidth,
      })`);
      expect(page.title).toBe(`Syscall coverage: /bin/sh -c ${SCRIPT}`);
      const chart = (id: string) => page.charts.find((c: { id: string }) => c.id === id);
      expect(chart('chart-families').bars).toBeGreaterThan(2);
      expect(chart('chart-errors').bars).toBe(Object.keys(report.totals.errnos).length);
      expect(chart('chart-time')).toBeDefined();
      for (const c of page.charts) expect(c.width * c.height).toBeGreaterThan(0);
      expect(page.rows).toEqual(report.syscalls.map((s) => s.name));
      expect(page.verdicts).toEqual([expect.stringMatching(/^Runs on gVisor\?/), expect.stringMatching(/^Runs on tsvisor\?/)]);
      expect(page.overflow).toBe(false);

      const shot = await browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
      fs.writeFileSync(out('report.png'), Buffer.from(shot.data, 'base64'));
      // Decoded by the browser itself: how many colours, and how much is not background.
      const pixels = await evaluate(`new Promise((resolve) => {
        const img = new Image();
        img.onload = () => {
          const c = document.createElement('canvas');
          c.width = img.width; c.height = img.height;
          const g = c.getContext('2d'); g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          const colours = new Set(); let ink = 0;
          for (let i = 0; i < d.length; i += 4 * 7) {
            colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
            if (d[i] + d[i + 1] + d[i + 2] < 600) ink++;
          }
          resolve({ width: c.width, height: c.height, colours: colours.size, ink: ink / (d.length / (4 * 7)) });
        };
        img.src = 'data:image/png;base64,${shot.data}';
      })`);
      expect(pixels.width).toBeGreaterThanOrEqual(1000);
      expect(pixels.height).toBeGreaterThan(1000);
      expect(pixels.colours).toBeGreaterThan(20);
      expect(pixels.ink).toBeGreaterThan(0.05);

      const problems = browser.events.filter((e) => e.method === 'Runtime.exceptionThrown'
        || (e.method === 'Runtime.consoleAPICalled' && ['error', 'assert', 'warning'].includes(e.params.type))
        || (e.method === 'Log.entryAdded' && ['error', 'warning'].includes(e.params.entry.level)));
      expect(problems).toEqual([]);
      const requests = browser.events.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => e.params.request.url);
      expect(requests.filter((u: string) => !u.startsWith('data:'))).toEqual([`file://${html}`]);
    } finally {
      await browser.close();
    }
  });
});
