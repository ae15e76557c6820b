#!/usr/bin/env node
// Generates syscall-tables/gvisor.json: gVisor's published amd64 support
// status for every syscall in numbers.json.
//
//   node syscall-tables/gen-gvisor.mjs <gvisor git dir | gvisor checkout | path/to/linux64.go> [--rev "<sha> <date>"]
//
// Only statuses are read from gVisor (no text or code of gVisor's): an entry
// built with Supported* is "full", PartiallySupported* is "partial", an
// error form (Error, ErrorWithEvent, CapError, ...) is "unsupported", and a
// number absent from gVisor's AMD64 table is "unimplemented" (gVisor returns
// ENOSYS). The notes of partial and unsupported calls come from the
// hand-kept gvisor-notes.json (tsvisor's words); every such call needs one.
// Entries are keyed by the Linux name of their number in numbers.json, so
// gVisor's own spellings (e.g. "sysctl" for _sysctl) do not matter.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const TABLE = 'pkg/sentry/syscalls/linux/linux64.go';

/** Returns the body of the `Table:` map literal inside `var AMD64 = ...{`. */
export function amd64TableBody(src) {
  const start = src.indexOf('var AMD64 ');
  if (start < 0) throw new Error('var AMD64 not found');
  const tableAt = src.indexOf('Table:', start);
  if (tableAt < 0) throw new Error('AMD64 Table not found');
  const open = src.indexOf('{', tableAt);
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === '`') {
      // skip a string literal
      const q = c;
      for (i++; i < src.length && src[i] !== q; i++) if (q === '"' && src[i] === '\\') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return src.slice(open + 1, i);
  }
  throw new Error('unterminated AMD64 Table');
}

/** Maps a syscalls.<Constructor> name to a status. */
export function statusOf(ctor) {
  if (/^Supported/.test(ctor)) return 'full';
  if (/^PartiallySupported/.test(ctor)) return 'partial';
  if (/Error/.test(ctor)) return 'unsupported';
  throw new Error(`unknown gVisor syscall constructor syscalls.${ctor}`);
}

/** { number: { ctor, status } } for every entry of the AMD64 table. */
export function parseAmd64(src) {
  const body = amd64TableBody(src);
  const out = new Map();
  for (const m of body.matchAll(/^\s*(\d+)\s*:\s*syscalls\.(\w+)\(/gm)) {
    const nr = Number(m[1]);
    if (out.has(nr)) throw new Error(`syscall ${nr} listed twice`);
    out.set(nr, { ctor: m[2], status: statusOf(m[2]) });
  }
  // every `N:` key of the map must have been understood
  const keys = [...body.matchAll(/^\s*(\d+)\s*:/gm)].length;
  if (keys !== out.size) throw new Error(`parsed ${out.size} of ${keys} AMD64 entries`);
  if (out.size === 0) throw new Error('empty AMD64 table');
  return out;
}

/** The notes of the partial and unsupported calls of `amd64`, by name; throws when one lacks a note or a note has no such call. */
export function mergeNotes(amd64, notes) {
  const needs = Object.keys(amd64).filter((name) => amd64[name] === 'partial' || amd64[name] === 'unsupported');
  const missing = needs.filter((name) => typeof notes[name] !== 'string' || notes[name].trim() === '');
  if (missing.length) throw new Error(`gvisor-notes.json has no note for ${missing.join(', ')} (partial or unsupported in gVisor)`);
  const stray = Object.keys(notes).filter((name) => !needs.includes(name));
  if (stray.length) throw new Error(`gvisor-notes.json has notes for ${stray.map((n) => `${n} (${amd64[n] ?? 'not a syscall'})`).join(', ')}: only partial and unsupported calls take one`);
  return Object.fromEntries(needs.map((name) => [name, notes[name]]));
}

function git(gitDir, ...args) {
  return execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Reads linux64.go and its revision from a git dir, a checkout or a file. */
function load(input, rev) {
  const st = fs.statSync(input);
  let gitDir;
  if (st.isDirectory()) {
    if (fs.existsSync(path.join(input, '.git'))) gitDir = path.join(input, '.git');
    else if (fs.existsSync(path.join(input, 'HEAD')) && fs.existsSync(path.join(input, 'objects'))) gitDir = input;
    else throw new Error(`${input} is neither a git directory nor a checkout`);
    if (fs.existsSync(path.join(input, TABLE)) && !rev) {
      // a checkout: read the working file, but only if it is unmodified
      const dirty = git(gitDir, '--work-tree', input, 'status', '--porcelain', '--', TABLE).trim();
      if (dirty) throw new Error(`${TABLE} has local changes; commit or pass --rev`);
    }
    const src = git(gitDir, 'show', `HEAD:${TABLE}`);
    const [sha, date] = git(gitDir, 'log', '-1', '--format=%H %cs', 'HEAD').trim().split(' ');
    return { src, source: `google/gvisor ${sha} ${date} ${TABLE}` };
  }
  if (!rev) throw new Error('reading a bare linux64.go needs --rev "<commit sha> <commit date>"');
  return { src: fs.readFileSync(input, 'utf8'), source: `google/gvisor ${rev} ${TABLE}` };
}

function main(argv) {
  let input;
  let rev;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rev') rev = argv[++i];
    else if (input === undefined) input = argv[i];
    else throw new Error(`unexpected argument ${argv[i]}`);
  }
  if (!input) throw new Error('usage: gen-gvisor.mjs <gvisor git dir | checkout | linux64.go> [--rev "<sha> <date>"]');
  const { src, source } = load(input, rev);
  const numbers = JSON.parse(fs.readFileSync(path.join(here, 'numbers.json'), 'utf8'));
  const table = parseAmd64(src);
  const byNr = new Map(Object.entries(numbers).map(([name, nr]) => [nr, name]));
  for (const nr of table.keys()) {
    if (!byNr.has(nr)) console.warn(`gVisor lists syscall ${nr}, which numbers.json does not have; skipped`);
  }
  const amd64 = {};
  const counts = { full: 0, partial: 0, unsupported: 0, unimplemented: 0 };
  for (const [name, nr] of Object.entries(numbers).sort((a, b) => a[1] - b[1])) {
    const status = table.get(nr)?.status ?? 'unimplemented';
    amd64[name] = status;
    counts[status]++;
  }
  const notes = mergeNotes(amd64, JSON.parse(fs.readFileSync(path.join(here, 'gvisor-notes.json'), 'utf8')).notes);
  const out = path.join(here, 'gvisor.json');
  fs.writeFileSync(out, JSON.stringify({ source, amd64, notes }, null, 2) + '\n');
  console.log(`wrote ${out}: ${JSON.stringify(counts)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(`gen-gvisor: ${e.message}`);
    process.exit(1);
  }
}
