// Three real test suites written by others (gzip's `make check`, NetworkX's
// pytest suite, qs's tape suite; fetched by scripts/testrun/fetch-suites.sh)
// run natively and under tsvisor from identical fresh trees: the same exit
// status, the same pass/fail counts, the same files created, modified and
// deleted in the suite's tree, and the host's tree untouched by the
// sandboxed run (`tsvisor test`).  In CI (CI=true) a suite that was not fetched fails.
import { describe, expect, it } from 'vitest';
import { SUITES, cacheDir, differences, isFetched, runSuite } from '../../scripts/testrun/suites.mjs';

const inCI = process.env.CI === 'true';

describe('real third-party test suites natively and under tsvisor test', () => {
  for (const s of SUITES) {
    if (!isFetched(s.id) && !inCI) {
      console.warn(`real-suites: ${s.id} is MISSING from ${cacheDir()}; run scripts/testrun/fetch-suites.sh (in CI this fails)`);
      it.skip(`${s.id}: MISSING from ${cacheDir()} (run scripts/testrun/fetch-suites.sh)`, () => {});
      continue;
    }
    it(s.title, async () => {
      expect(isFetched(s.id), `${s.id} is missing from ${cacheDir()}: .ci/run runs scripts/testrun/fetch-suites.sh`).toBe(true);
      const native = await runSuite(s.id, 'native');
      expect(native.counts.pass ?? native.counts.passed, `${s.id} ran no test natively:\n${native.output.slice(-2000)}`).toBeGreaterThan(0);
      const sandboxed = await runSuite(s.id, 'test');
      expect(differences(native, sandboxed), sandboxed.output.slice(-4000)).toEqual([]);
      expect(sandboxed.status).toBe(native.status);
      expect(sandboxed.counts).toEqual(native.counts);
      expect(sandboxed.hostChanged).toEqual([]);
    }, 40 * 60 * 1000);
  }
});
