// Summarises a conformance run (see run.mjs): per suite the counts natively,
// under tsvisor and under runsc, and every test that passes natively but not
// under tsvisor, grouped by syscall family, with the first lines of its
// output. Tests that need a privilege tsvisor withholds on purpose are
// listed apart with their reason: those that also fail natively with
// tsvisor's capability set (mode native-caps), and those withheld.mjs names.
//
//   node scripts/conformance/report.mjs --results DIR [--gvisor-build DIR] [--ltp-build DIR]
//        [--markdown FILE] [--json FILE]
//
// The JSON file is the machine-readable failure list; the markdown file is
// the detailed list docs/conformance.md links to.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MODES } from './launch.mjs';
import { loadLtp } from './ltp.mjs';
import { withheldReason } from './withheld.mjs';

const { values: opts } = parseArgs({
  options: {
    results: { type: 'string' },
    'gvisor-build': { type: 'string' },
    'ltp-build': { type: 'string' },
    markdown: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!opts.results) {
  console.error('usage: report.mjs --results DIR [--gvisor-build DIR] [--ltp-build DIR] [--markdown FILE] [--json FILE]');
  process.exit(2);
}
const RESULTS = resolve(opts.results);
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const run = existsSync(join(RESULTS, 'run.json')) ? readJson(join(RESULTS, 'run.json')) : {};

/** suite -> mode -> test id -> { status, out } */
function load(suite) {
  const byMode = {};
  for (const mode of MODES) {
    const dir = join(RESULTS, suite, mode);
    byMode[mode] = new Map();
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const rec = readJson(join(dir, f));
      if (suite === 'gvisor') {
        if (!rec.complete) continue;
        for (const [c, r] of Object.entries(rec.cases)) byMode[mode].set(`${rec.test}:${c}`, r);
      } else {
        byMode[mode].set(rec.test, rec);
      }
    }
  }
  return byMode;
}

// Syscall family of a gVisor test binary (its name names the call or area).
function gvisorFamily(binary) {
  const n = binary.replace(/_test$/, '');
  const rules = [
    [/^(socket_unix|unix_)/, 'socket: unix'],
    [/^socket_netlink/, 'socket: netlink'],
    [/^(socket_ip|socket_inet|socket_ipv|tcp_|udp_|raw_|packet_|ip_|socket_bind_to_device)/, 'socket: inet'],
    [/^(socket|accept_bind|bind|connect)/, 'socket'],
    [/^proc/, 'proc'],
    [/^(exec|fexecve)/, 'exec'],
    [/^(pty|tty|tcgets)/, 'tty'],
    [/^(mmap|mremap|munmap|mprotect|madvise|mlock|msync|mincore|memfd|memory)/, 'memory'],
    [/^(sigaction|sigaltstack|sigiret|signalfd|sigprocmask|sigstop|sigtimedwait|sigreturn|kill|tkill|tgkill|rtsignal|sigsuspend)/, 'signals'],
    [/^(stat|lstat|fstat|statfs|fstatfs|statx)/, 'stat'],
  ];
  for (const [re, fam] of rules) if (re.test(n)) return fam;
  return n;
}

const PASS = 'pass';

// A test that passes natively but not natively with tsvisor's capabilities.
function capabilityReason(r) {
  if (!r || r.status === PASS || r.status === 'notrun') return null;
  const named = [...new Set((r.out ?? []).join('\n').match(/\bCAP_[A-Z_]+/g) ?? [])];
  return `needs a capability tsvisor does not grant its guests${named.length ? ` (the test names ${named.join(', ')})` : ''}: fails natively with tsvisor's capability set too (${r.status})`;
}
const sections = [];
const failures = [];

function summarise(suite, byMode, familyOf, notRun) {
  const ids = new Set();
  for (const m of MODES) for (const id of byMode[m].keys()) ids.add(id);
  const count = (m) => {
    const c = {};
    for (const r of byMode[m].values()) c[r.status] = (c[r.status] ?? 0) + 1;
    return c;
  };
  const counts = Object.fromEntries(MODES.map((m) => [m, count(m)]));
  const nativePass = [...ids].filter((id) => byMode.native.get(id)?.status === PASS);
  const lost = (m) => nativePass.filter((id) => byMode[m].has(id) && byMode[m].get(id).status !== PASS);
  const missing = (m) => nativePass.filter((id) => !byMode[m].has(id));
  const list = lost('tsvisor').map((id) => {
    const r = byMode.tsvisor.get(id);
    const reason = capabilityReason(byMode['native-caps'].get(id)) ?? withheldReason(suite, id);
    return {
      suite,
      id,
      family: familyOf(id),
      tsvisor: r.status,
      runsc: byMode.runsc.get(id)?.status ?? null,
      withheld: reason,
      out: (r.out ?? []).filter((l) => l.trim()).slice(0, 12),
    };
  });
  failures.push(...list);
  const withheld = list.filter((f) => f.withheld);
  const lostRunsc = lost('runsc');
  const stats = {
    suite,
    ran: ids.size,
    counts,
    nativePass: nativePass.length,
    tsvisorLost: list.length,
    tsvisorLostWithheld: withheld.length,
    tsvisorNotRun: missing('tsvisor').length,
    runscLost: lostRunsc.length,
    runscNotRun: missing('runsc').length,
    notRun,
  };
  sections.push({ stats, list });
  return stats;
}

const out = { date: new Date().toISOString(), run, suites: {} };

if (existsSync(join(RESULTS, 'gvisor'))) {
  let notRun = [];
  if (opts['gvisor-build']) {
    const manifest = readJson(join(resolve(opts['gvisor-build']), 'manifest.json'));
    notRun = manifest.tests
      .filter((t) => !t.built || t.hostFixtures.length)
      .map((t) => ({ test: t.name, reason: t.built ? `needs host fixtures from gVisor's runner (${t.hostFixtures.join(', ')})` : `not built: ${t.reason}` }));
  }
  out.suites.gvisor = summarise('gvisor', load('gvisor'), (id) => gvisorFamily(id.split(':')[0]), notRun);
}
if (existsSync(join(RESULTS, 'ltp'))) {
  let family = (id) => id.replace(/_?\d+$/, '');
  let notRun = [];
  if (opts['ltp-build']) {
    const { tests } = loadLtp(resolve(opts['ltp-build']));
    const fam = new Map(tests.map((t) => [t.id, t.family]));
    family = (id) => fam.get(id) ?? id;
    notRun = tests.filter((t) => !t.built).map((t) => ({ test: t.id, reason: `${t.program} not built` }));
  }
  out.suites.ltp = summarise('ltp', load('ltp'), family, notRun);
}

out.failures = failures;
if (opts.json) writeFileSync(opts.json, JSON.stringify(out, null, 1) + '\n');

// The text summary.
const fmt = (c) =>
  Object.entries(c)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
for (const { stats: s } of sections) {
  console.log(`\n== ${s.suite}: ${s.ran} tests run${s.notRun.length ? `, ${s.notRun.length} not run` : ''}`);
  for (const m of MODES) console.log(`  ${m.padEnd(11)} ${fmt(s.counts[m])}`);
  const pct = (n) => ((100 * n) / Math.max(1, s.nativePass)).toFixed(2);
  console.log(`  passing natively: ${s.nativePass}`);
  console.log(`  of those, not passing under tsvisor: ${s.tsvisorLost} (${pct(s.tsvisorLost)} %); ${s.tsvisorLostWithheld} need a withheld privilege; ${s.tsvisorLost - s.tsvisorLostWithheld} (${pct(s.tsvisorLost - s.tsvisorLostWithheld)} %) otherwise; ${s.tsvisorNotRun} not run yet`);
  console.log(`  of those, not passing under runsc:   ${s.runscLost} (${pct(s.runscLost)} %); ${s.runscNotRun} not run yet`);
}

if (opts.markdown) {
  const md = [
    '# Conformance failures under tsvisor',
    '',
    `Generated by \`scripts/conformance/report.mjs\` from the run described in`,
    '[conformance.md](conformance.md). Every test that passes natively and does not',
    'pass under tsvisor, by suite and syscall family, with the first lines of its',
    'output under tsvisor. runsc: the same test under runsc.',
  ];
  for (const { stats, list } of sections) {
    md.push('', `## ${stats.suite === 'gvisor' ? "gVisor's syscall tests" : "LTP's syscall tests"}`);
    const byFamily = new Map();
    for (const f of list) {
      const key = f.withheld ? `withheld privilege` : f.family;
      if (!byFamily.has(key)) byFamily.set(key, []);
      byFamily.get(key).push(f);
    }
    const fams = [...byFamily.keys()].sort((a, b) => byFamily.get(b).length - byFamily.get(a).length || a.localeCompare(b));
    md.push('', '| family | tests |', '|---|---:|', ...fams.map((f) => `| ${f} | ${byFamily.get(f).length} |`));
    for (const fam of fams) {
      md.push('', `### ${fam} (${byFamily.get(fam).length})`, '');
      for (const f of byFamily.get(fam)) {
        md.push(`* \`${f.id}\`: ${f.tsvisor}${f.runsc ? ` (runsc: ${f.runsc})` : ''}${f.withheld ? ` — ${f.withheld}` : ''}`);
        const lines = f.out.slice(0, 4).map((l) => l.replace(/`/g, "'").slice(0, 160));
        if (lines.length) md.push('  ```', ...lines.map((l) => `  ${l}`), '  ```');
      }
    }
  }
  writeFileSync(opts.markdown, md.join('\n') + '\n');
}
