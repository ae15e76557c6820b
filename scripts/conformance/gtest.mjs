// gVisor's syscall tests are googletest binaries. A binary runs all its
// cases in one process, as gVisor's own runner does by default; the runner
// follows its text output case by case, so a case that crashes the process
// or hangs (killed at its deadline) is charged to that case alone and the
// remaining cases are run again in a new process.

import { execFileSync } from 'node:child_process';
import { launch } from './launch.mjs';

/** The enabled test cases of a binary, in the order it runs them. */
export function listCases(binary) {
  const out = execFileSync(binary, ['--gtest_list_tests'], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  const cases = [];
  let suite = '';
  for (const raw of out.split('\n')) {
    const l = raw.replace(/\s+#.*$/, '');
    if (!l.trim()) continue;
    if (!l.startsWith(' ')) suite = l.trim();
    else cases.push(suite + l.trim());
  }
  return cases.filter((c) => !/(^|[./])DISABLED_/.test(c));
}

// googletest rejects nothing in a filter, but the kernel refuses a single
// argument over 128 KiB (MAX_ARG_STRLEN).
const FILTER_LIMIT = 100_000;

/** Filters selecting exactly `todo` (a subset of `all`), each under the limit. */
function filters(all, todo) {
  const want = new Set(todo);
  const bySuite = new Map();
  for (const c of all) {
    // Suite names ("Suite", "Instance/Suite") have no dot.
    const s = c.slice(0, c.indexOf('.'));
    if (!bySuite.has(s)) bySuite.set(s, []);
    bySuite.get(s).push(c);
  }
  const items = [];
  for (const [suite, cs] of bySuite) {
    const sel = cs.filter((c) => want.has(c));
    if (sel.length === 0) continue;
    if (sel.length === cs.length && !/[*?:]/.test(suite)) items.push(`${suite}.*`);
    else items.push(...sel);
  }
  const out = [];
  let cur = [];
  let len = 0;
  for (const it of items) {
    if (len + it.length + 1 > FILTER_LIMIT && cur.length) {
      out.push(cur.join(':'));
      cur = [];
      len = 0;
    }
    cur.push(it);
    len += it.length + 1;
  }
  if (cur.length) out.push(cur.join(':'));
  return out;
}

const RESULT = /^\[ {2}(FAILED {2}|SKIPPED )\] (\S+?)(?:, where .*)? \((\d+) ms\)$|^\[ {7}OK \] (\S+) \((\d+) ms\)$/;

/**
 * Runs every case of `all` not yet in `results` (name -> {status, ms, out}),
 * recording into `results` as cases finish. `save` is called after each process.
 */
export async function runCases({ binary, all, results, oneProcess, caseTimeoutMs, run, save }) {
  const todo = () => all.filter((c) => !results[c]);
  let fruitless = 0;
  while (todo().length > 0) {
    const batch = oneProcess ? filters(all, todo())[0] : todo()[0];
    const expected = oneProcess ? null : batch;
    const deadline = { at: Date.now() + caseTimeoutMs };
    let current = null;
    let buf = [];
    let finished = 0;
    const r = await run({
      argv: [binary, `--gtest_filter=${batch}`, '--gtest_color=no'],
      deadline,
      onLine(l) {
        if (l.startsWith('[ RUN      ] ')) {
          current = l.slice(13).trim();
          buf = [];
          deadline.at = Date.now() + caseTimeoutMs;
          return;
        }
        const m = RESULT.exec(l);
        if (m && current && (m[2] ?? m[4]) === current) {
          const status = m[4] ? 'pass' : m[1].trim() === 'FAILED' ? 'fail' : 'skip';
          results[current] = { status, ms: Number(m[3] ?? m[5]), ...(status === 'pass' ? {} : { out: buf.slice(0, 40) }) };
          current = null;
          finished++;
          return;
        }
        if (current && buf.length < 200) buf.push(l);
      },
    });
    const exit = r.timedOut
      ? `killed after ${Math.round(caseTimeoutMs / 1000)} s without finishing`
      : r.signal
        ? `process died of ${r.signal}`
        : `process exited ${r.code}${r.error ? ` (${r.error})` : ''}`;
    if (current) {
      results[current] = { status: r.timedOut ? 'timeout' : 'crash', out: [...buf.slice(0, 40), exit] };
      finished++;
    }
    if (finished === 0) {
      // Nothing ran: the binary (or the sandbox) did not get as far as a
      // test case. Try once more, then charge every remaining case.
      if (++fruitless >= 2) {
        const out = [...r.head, ...r.tail].slice(-40).concat(exit);
        for (const c of expected ? [expected] : todo()) results[c] = { status: 'error', out };
      }
    } else {
      fruitless = 0;
    }
    await save();
  }
}
