// The syscall numbers (syscall-tables/numbers.json), apart from the rest of
// the table (table.ts, which re-exports them): the Gofer needs only these to
// confine itself, and parsing syscalls.json as well took ~7 ms of its ~35 ms
// of CPU to start, on the path of every container's create.
import fs from 'node:fs';
import path from 'node:path';
import { TABLES_DIR } from '../paths.js';

/** A file of syscall-tables/, parsed. */
export function readTable(file: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(TABLES_DIR, file), 'utf8'));
}

/** The syscall numbers of syscall-tables/numbers.json ({ name: nr }). */
export const NUMBERS: Readonly<Record<string, number>> = Object.freeze(readTable('numbers.json') as Record<string, number>);
