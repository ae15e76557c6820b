// LTP's syscall tests: the entries of runtest/syscalls (tag, program,
// arguments), each one program whose exit status is the OR of the result
// flags it reported (TFAIL 1, TBROK 2, TWARN 4, TCONF 32; 0 is a pass).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Programs that set the host's clock (settimeofday, clock_settime, adjtimex,
// a leap second): not run natively on a machine shared with other work.
// Both sandboxes refuse them (no CAP_SYS_TIME), so they still run there.
const SETS_HOST_CLOCK = /^(leapsec01|stime0\d|settimeofday0\d|clock_adjtime0\d|clock_settime0\d|adjtimex0\d)$/;

/** The runtest entries, each with what the metadata says the program needs. */
export function loadLtp(buildDir) {
  const install = join(buildDir, 'install');
  const meta = JSON.parse(readFileSync(join(install, 'metadata/ltp.json'), 'utf8')).tests;
  const dirOf = programDirectories(join(buildDir, 'src/testcases/kernel/syscalls'));
  const tests = [];
  for (const raw of readFileSync(join(install, 'runtest/syscalls'), 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [tag, program, ...args] = line.split(/\s+/);
    const m = meta[program] ?? {};
    tests.push({
      id: tag,
      program,
      args,
      family: dirOf.get(program) ?? program.replace(/_?\d+$/, ''),
      built: existsSync(join(install, 'testcases/bin', program)),
      // A block device (a loop device natively): such tests run one at a
      // time natively, they would otherwise compete for loop devices.
      device: Boolean(m.needs_device || m.all_filesystems || m.format_device || m.mount_device),
      allFilesystems: Boolean(m.all_filesystems),
      notNative: SETS_HOST_CLOCK.test(program) ? "sets the host's clock" : null,
      needs: Object.keys(m).filter((k) => /^needs_|^caps$|^min_kver$|^supported_archs$/.test(k)),
    });
  }
  return { tests, bin: join(install, 'testcases/bin'), root: install };
}

// testcases/kernel/syscalls/<dir>/<program>: the directory names the syscall.
function programDirectories(root) {
  const map = new Map();
  for (const dir of readdirSync(root, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const walk = (d, depth) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory() && depth < 2) walk(join(d, e.name), depth + 1);
        else if (e.isFile() && !/\.[a-z]+$/.test(e.name) && !map.has(e.name)) map.set(e.name, dir.name);
      }
    };
    walk(join(root, dir.name), 0);
  }
  return map;
}

/** pass | fail | brok | conf | warn | timeout | crash | error, from a finished run. */
export function ltpStatus(r) {
  if (r.timedOut) return 'timeout';
  const c = r.code;
  // The shell in front of the test reports a death by signal N as 128 + N.
  if (r.signal || c > 128) return 'crash';
  if (c === 0) return 'pass';
  if (c === 32) return 'conf';
  if (c > 63 || c === null) return 'error';
  if (c & 2) return 'brok';
  if (c & 1) return 'fail';
  if (c & 4) return 'warn';
  return 'error';
}

/** Seconds the outer deadline allows: LTP enforces its own per-test timeout inside. */
export function ltpTimeout(test) {
  return test.allFilesystems ? 1800 : 600;
}
