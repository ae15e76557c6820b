// The bench scripts' command lines: a mistake in one (an unknown flag, a bad
// number) is a one-line message and the usage, exit status 2, never a stack
// trace.
import path from 'node:path';
import { parseArgs } from 'node:util';

const script = path.basename(process.argv[1] ?? 'bench');

export function die(msg) {
  console.error(`${script}: ${msg}`);
  process.exit(2);
}

/** parseArgs's values for `options` (strict, no positionals); --help/-h prints `usage` and exits 0. */
export function benchOptions(usage, options) {
  let values;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h', default: false } }, strict: true, allowPositionals: false }));
  } catch (e) {
    console.error(`${script}: ${e.message}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/** The value of --`name` as a number of at least `min` (an integer unless `fraction`). */
export function numberOption(values, name, min, fraction = false) {
  const n = Number(values[name]);
  if (values[name] === '' || !(n >= min) || (!fraction && !Number.isInteger(n))) die(`--${name} must be ${fraction ? 'a number' : 'an integer'} of at least ${min}, got ${values[name]}`);
  return n;
}

export function requireRoot(why) {
  if (process.getuid() !== 0) die(`run as root: ${why}`);
}
