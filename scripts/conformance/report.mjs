// Summarises a conformance run (see run.mjs): per suite the counts natively,
// under tsvisor and under runsc, and every test that passes natively but not
// under tsvisor, grouped by syscall family, with the first lines of its
// output. Tests that meet a deliberate difference (withheld.mjs: a privilege
// the sandbox withholds, an interface it refuses) are listed apart, by group
// with its reason. The status natively with tsvisor's capability set (mode
// native-caps, when it was run) is shown beside each failure, as evidence
// only: a capability is not by itself a deliberate difference.
//
//   node scripts/conformance/report.mjs --results DIR [--gvisor-build DIR] [--ltp-build DIR] [--suites gvisor,ltp]
//        [--markdown FILE] [--json FILE] [--doc FILE [--doc-section NAME]]
//
// The JSON file is the machine-readable failure list; the markdown file the
// detailed list with each failure's first lines of output (kept outside the
// repository: it quotes the suites' sources); --doc rewrites the part of
// docs/conformance.md between its markers for NAME ("results" unless given)
// with the counts.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MODES } from './launch.mjs';
import { loadLtp } from './ltp.mjs';
import { WITHHELD_GROUPS, withheld } from './withheld.mjs';

const { values: opts } = parseArgs({
  options: {
    results: { type: 'string' },
    'gvisor-build': { type: 'string' },
    'ltp-build': { type: 'string' },
    markdown: { type: 'string' },
    json: { type: 'string' },
    doc: { type: 'string' },
    'doc-section': { type: 'string', default: 'results' },
    suites: { type: 'string', default: 'gvisor,ltp' },
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
    const w = withheld(suite, id, r.out ?? []);
    return {
      suite,
      id,
      family: familyOf(id),
      tsvisor: r.status,
      runsc: byMode.runsc.get(id)?.status ?? null,
      nativeCaps: byMode['native-caps'].get(id)?.status ?? null,
      withheld: w?.group ?? null,
      withheldKind: w?.kind ?? null,
      out: (r.out ?? []).filter((l) => l.trim()).slice(0, 12),
    };
  });
  failures.push(...list);
  const byGroup = {};
  for (const f of list) if (f.withheld) byGroup[f.withheld] = (byGroup[f.withheld] ?? 0) + 1;
  const families = {};
  for (const f of list) {
    if (f.withheld) continue;
    families[f.family] ??= { tests: 0, runscPasses: 0 };
    families[f.family].tests++;
    if (f.runsc === PASS) families[f.family].runscPasses++;
  }
  // Of the natively passing tests both sandboxes ran, how many each passes.
  const both = nativePass.filter((id) => byMode.tsvisor.has(id) && byMode.runsc.has(id));
  const stats = {
    suite,
    ran: ids.size,
    counts,
    nativePass: nativePass.length,
    tsvisorRan: nativePass.length - missing('tsvisor').length,
    tsvisorLost: list.length,
    tsvisorLostPrivilege: list.filter((f) => f.withheldKind === 'privilege').length,
    tsvisorLostInterface: list.filter((f) => f.withheldKind === 'interface').length,
    byGroup,
    families,
    tsvisorNotRun: missing('tsvisor').length,
    runscRan: nativePass.length - missing('runsc').length,
    runscLost: lost('runsc').length,
    runscNotRun: missing('runsc').length,
    bothRan: both.length,
    bothTsvisorPass: both.filter((id) => byMode.tsvisor.get(id).status === PASS).length,
    bothRunscPass: both.filter((id) => byMode.runsc.get(id).status === PASS).length,
    // LTP: of the natively passing tests tsvisor ends with TWARN (no TFAIL,
    // no TBROK), how many warn for one reason only, by that reason.
    warnCauses: suite === 'ltp' ? warnCauses(list.filter((f) => f.tsvisor === 'warn').map((f) => byMode.tsvisor.get(f.id))) : {},
    notRun,
  };
  sections.push({ stats, list });
  return stats;
}

function warnCauses(records) {
  const causes = {};
  for (const r of records) {
    const warns = new Set((r.out ?? []).filter((l) => /\bTWARN: /.test(l)).map((l) => l.replace(/^.*?TWARN: /, '')));
    const key = warns.size === 1 ? [...warns][0] : warns.size ? 'several warnings' : 'no TWARN line in the output kept';
    causes[key] = (causes[key] ?? 0) + 1;
  }
  return causes;
}

const out = { date: new Date().toISOString(), run, suites: {} };

const suites = opts.suites.split(',');
if (suites.includes('gvisor') && existsSync(join(RESULTS, 'gvisor'))) {
  let notRun = [];
  if (opts['gvisor-build']) {
    const manifest = readJson(join(resolve(opts['gvisor-build']), 'manifest.json'));
    notRun = manifest.tests
      .filter((t) => !t.built || t.hostFixtures.length)
      .map((t) => ({ test: t.name, reason: t.built ? `needs host fixtures from gVisor's runner (${t.hostFixtures.join(', ')})` : `not built: ${t.reason}` }));
  }
  out.suites.gvisor = summarise('gvisor', load('gvisor'), (id) => gvisorFamily(id.split(':')[0]), notRun);
}
if (suites.includes('ltp') && existsSync(join(RESULTS, 'ltp'))) {
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
  const p = percentages(s);
  console.log(`  passing natively: ${s.nativePass}; run under tsvisor: ${s.tsvisorRan}, under runsc: ${s.runscRan}`);
  console.log(`  not passing under tsvisor: ${s.tsvisorLost} (${p.all} %); without withheld privileges ${p.noPrivilege} %; without any deliberate difference ${p.noDeliberate} %`);
  console.log(`  not passing under runsc:   ${s.runscLost} (${p.runsc} %)`);
  console.log(`  both sandboxes ran ${s.bothRan}: tsvisor passes ${s.bothTsvisorPass}, runsc ${s.bothRunscPass}`);
  for (const [g, n] of Object.entries(s.byGroup)) console.log(`    withheld, ${g}: ${n}`);
  for (const [w, n] of Object.entries(s.warnCauses)) console.log(`    TWARN only, ${w}: ${n}`);
}

/** Percentages of the natively passing tests each sandbox ran that it does not pass. */
function percentages(s) {
  const of = (n, d) => ((100 * n) / Math.max(1, d)).toFixed(2);
  const priv = s.tsvisorLostPrivilege;
  const all = priv + s.tsvisorLostInterface;
  return {
    all: of(s.tsvisorLost, s.tsvisorRan),
    noPrivilege: of(s.tsvisorLost - priv, s.tsvisorRan - priv),
    noDeliberate: of(s.tsvisorLost - all, s.tsvisorRan - all),
    runsc: of(s.runscLost, s.runscRan),
  };
}

if (opts.doc) writeDoc(opts.doc);

/** Rewrites a generated part of docs/conformance.md (between its markers). */
function writeDoc(file) {
  const BEGIN = `<!-- ${opts['doc-section']}:begin (scripts/conformance/report.mjs --doc) -->`;
  const END = `<!-- ${opts['doc-section']}:end -->`;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`${file}: no markers for section ${opts['doc-section']} (${BEGIN} … ${END})`);
    process.exit(2);
  }
  const md = [];
  const row = (cells) => `| ${cells.join(' | ')} |`;
  const statuses = ['pass', 'fail', 'skip', 'conf', 'brok', 'warn', 'timeout', 'crash', 'error', 'notrun'];
  for (const { stats: s } of sections) {
    const name = s.suite === 'gvisor' ? "gVisor's syscall tests (test cases)" : "LTP's syscall tests (runtest entries)";
    md.push('', `### ${name}`, '');
    const used = statuses.filter((st) => MODES.some((m) => s.counts[m][st]));
    md.push(row(['mode', 'run', ...used]), row(['---', ...Array(used.length + 1).fill('---:')]));
    for (const m of MODES) {
      const c = s.counts[m];
      const n = Object.values(c).reduce((x, y) => x + y, 0);
      if (n) md.push(row([m, n, ...used.map((st) => c[st] ?? 0)]));
    }
    const p = percentages(s);
    md.push(
      '',
      `Natively passing: ${s.nativePass}; of those tsvisor ran ${s.tsvisorRan}, runsc ${s.runscRan}.`,
      '',
      row(['natively passing tests that do not pass', 'tests', '%']),
      row(['---', '---:', '---:']),
      row(['under tsvisor, all', s.tsvisorLost, p.all]),
      row(['under tsvisor, without withheld privileges', s.tsvisorLost - s.tsvisorLostPrivilege, p.noPrivilege]),
      row(['under tsvisor, without any deliberate difference', s.tsvisorLost - s.tsvisorLostPrivilege - s.tsvisorLostInterface, p.noDeliberate]),
      row(['under runsc, all', s.runscLost, p.runsc]),
      '',
      `Of the ${s.bothRan} natively passing tests both sandboxes ran, tsvisor passes ${s.bothTsvisorPass} and runsc ${s.bothRunscPass}.`,
    );
    const warns = Object.entries(s.warnCauses).sort((x, y) => y[1] - x[1]);
    if (warns.length) {
      md.push('', 'Natively passing tests that end under tsvisor with TWARN and no TFAIL or TBROK (counted as not passing), by their warning:', '', row(['TWARN', 'tests']), row(['---', '---:']));
      for (const [w, n] of warns) md.push(row([`\`${w.replace(/[`|]/g, '')}\``, n]));
    }
    const groups = WITHHELD_GROUPS.filter((g) => s.byGroup[g.group]);
    if (groups.length) {
      md.push('', 'Deliberate differences met (excluded above as stated):', '', row(['group', 'kind', 'tests', 'reason']), row(['---', '---', '---:', '---']));
      for (const g of groups) md.push(row([g.group, g.kind, s.byGroup[g.group], g.reason.replace(/\|/g, '\\|')]));
    }
    const fams = Object.entries(s.families).sort((x, y) => y[1].tests - x[1].tests || x[0].localeCompare(y[0]));
    if (fams.length) {
      md.push('', 'Failure families (natively passing, not passing under tsvisor, not a deliberate difference):', '', row(['family', 'tests', 'of which pass under runsc']), row(['---', '---:', '---:']));
      for (const [f, v] of fams) md.push(row([f, v.tests, v.runscPasses]));
    }
  }
  writeFileSync(file, text.slice(0, a + BEGIN.length) + '\n' + md.join('\n') + '\n\n' + text.slice(b));
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
      const key = f.withheld ? `deliberate: ${f.withheld}` : f.family;
      if (!byFamily.has(key)) byFamily.set(key, []);
      byFamily.get(key).push(f);
    }
    const fams = [...byFamily.keys()].sort((a, b) => byFamily.get(b).length - byFamily.get(a).length || a.localeCompare(b));
    md.push('', '| family | tests |', '|---|---:|', ...fams.map((f) => `| ${f} | ${byFamily.get(f).length} |`));
    for (const fam of fams) {
      md.push('', `### ${fam} (${byFamily.get(fam).length})`, '');
      for (const f of byFamily.get(fam)) {
        md.push(`* \`${f.id}\`: ${f.tsvisor}${f.runsc ? ` (runsc: ${f.runsc})` : ''}${f.nativeCaps ? ` (native-caps: ${f.nativeCaps})` : ''}`);
        const lines = f.out.slice(0, 4).map((l) => l.replace(/`/g, "'").slice(0, 160));
        if (lines.length) md.push('  ```', ...lines.map((l) => `  ${l}`), '  ```');
      }
    }
  }
  writeFileSync(opts.markdown, md.join('\n') + '\n');
}
