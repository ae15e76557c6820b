#!/usr/bin/env node
// Generates syscall-tables/numbers.json ({ name: number }, sorted by number)
// from the kernel's x86_64 unistd header.
//
//   node syscall-tables/gen-numbers.mjs [path/to/asm/unistd_64.h]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const header = process.argv[2] ?? '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const out = path.join(here, 'numbers.json');

/** Parses `#define __NR_name number` lines; returns [name, nr] pairs sorted by nr. */
export function parseUnistd(text) {
  const entries = [];
  const seenName = new Map();
  const seenNr = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*#\s*define\s+__NR_(\w+)\s+(\d+)\s*$/.exec(line);
    if (!m) continue;
    const name = m[1];
    const nr = Number(m[2]);
    if (seenName.has(name)) throw new Error(`duplicate syscall name ${name}`);
    if (seenNr.has(nr)) throw new Error(`syscall ${nr} defined as both ${seenNr.get(nr)} and ${name}`);
    seenName.set(name, nr);
    seenNr.set(nr, name);
    entries.push([name, nr]);
  }
  if (entries.length === 0) throw new Error('no __NR_* definitions found');
  entries.sort((a, b) => a[1] - b[1]);
  return entries;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const entries = parseUnistd(fs.readFileSync(header, 'utf8'));
  fs.writeFileSync(out, JSON.stringify(Object.fromEntries(entries), null, 2) + '\n');
  console.log(`wrote ${entries.length} syscalls to ${path.relative(process.cwd(), out) || out}`);
}
