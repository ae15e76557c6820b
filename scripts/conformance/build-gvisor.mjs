// Builds gVisor's syscall tests (test/syscalls/linux) from a fetched copy of
// the gVisor repository with g++ against Debian's googletest, googlemock and
// Abseil, without Bazel. The BUILD files are read for each target's sources
// and dependencies; a Makefile is generated and run with `make -k`, so a
// test that does not compile here is recorded with its error and the others
// are still built.
//
//   node scripts/conformance/build-gvisor.mjs --src DIR --out DIR [--jobs N] [--only a_test,b_test]
//
// Output: OUT/runfiles/test/syscalls/linux/<name>_test (and the helper
// programs the tests execute, at the paths the tests ask RunfilePath for),
// OUT/manifest.json listing every test of test/syscalls/BUILD, built or not.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBuild } from './starlark.mjs';

const { values: opts } = parseArgs({
  options: {
    src: { type: 'string' },
    out: { type: 'string' },
    jobs: { type: 'string', default: '2' },
    only: { type: 'string' },
  },
});
if (!opts.src || !opts.out) {
  console.error('usage: build-gvisor.mjs --src GVISOR_CHECKOUT --out BUILD_DIR [--jobs N]');
  process.exit(2);
}
const SRC = resolve(opts.src);
const OUT = resolve(opts.out);
const RUNFILES = join(OUT, 'runfiles');
const LINUX = 'test/syscalls/linux';
const RUNFILES_SHIM = join(OUT, 'runfiles.cc');

for (const header of ['gtest/gtest.h', 'gmock/gmock.h', 'absl/strings/str_cat.h', 'benchmark/benchmark.h']) {
  if (!existsSync(join('/usr/include', header))) {
    console.error(`missing /usr/include/${header}: apt-get install libgtest-dev libgmock-dev libabsl-dev libbenchmark-dev`);
    process.exit(2);
  }
}

const read = (p) => parseBuild(readFileSync(join(SRC, p, 'BUILD'), 'utf8'));
// label -> target, for the packages a syscall test can depend on.
const targets = new Map();
for (const pkg of ['test/util', LINUX, `${LINUX}/rseq`]) {
  for (const r of read(pkg)) if (r.name) targets.set(`//${pkg}:${r.name}`, { ...r, pkg });
}

function label(pkg, dep) {
  if (dep.startsWith(':')) return `//${pkg}${dep}`;
  if (dep.startsWith('//') && !dep.includes(':')) return `${dep}:${dep.split('/').pop()}`;
  return dep;
}

// Libraries that come from Debian (linked as a whole below) or that the
// test binaries get another way.
const external = (l) => l.startsWith('@com_google_absl//') || l.startsWith('@com_google_googletest//');

// Object file -> its source, for every object some test needs.
const objects = new Map();
const objOf = (src) => {
  const o = join('obj', src.replace(/\.(cc|S)$/, '.o'));
  objects.set(o, join(SRC, src));
  return o;
};
const sourcesOf = (t) => (t.srcs ?? []).filter((s) => /\.(cc|S)$/.test(s)).map((s) => `${t.pkg}/${s}`);

/**
 * Objects of a target and its transitive deps, and its unsatisfiable deps.
 * As with Bazel, the binary's own sources, `alwayslink` libraries and the
 * malloc are linked whole (`objs`); other libraries are an archive (`lib`),
 * from which the linker takes what is referenced: test_main's main() only
 * when the test has none of its own.
 */
function closure(t) {
  const objs = new Set();
  const lib = new Set();
  const missing = new Set();
  const seen = new Set();
  const visit = (target) => {
    const into = target === t || target.alwayslink ? objs : lib;
    for (const s of sourcesOf(target)) {
      // Bazel's runfiles library; replaced by runfiles.cc below.
      if (s === 'test/util/test_util_runfiles.cc') {
        objects.set('obj/runfiles.o', RUNFILES_SHIM);
        into.add('obj/runfiles.o');
      } else {
        into.add(objOf(s));
      }
    }
    for (const d of target.deps ?? []) {
      // gbenchmark(_internal) in the BUILD files: Debian's libbenchmark.
      if (typeof d !== 'string') continue;
      const l = label(target.pkg, d);
      if (external(l) || seen.has(l)) continue;
      seen.add(l);
      if (l === '@bazel_tools//tools/cpp/runfiles') continue;
      const dep = targets.get(l);
      if (!dep || dep.rule !== 'cc_library') missing.add(l);
      else visit(dep);
    }
  };
  visit(t);
  if (t.malloc) {
    const m = targets.get(label(t.pkg, t.malloc));
    for (const s of sourcesOf(m)) objs.add(objOf(s));
  }
  return { objs: [...objs], lib: [...lib].filter((o) => !objs.has(o)), missing: [...missing] };
}

// The suite: every syscall_test of test/syscalls/BUILD, with the attributes
// the runner needs (one process per case, host fixtures, native allowed).
const suite = read('test/syscalls').filter((r) => r.rule === 'syscall_test').map((r) => ({
  name: r.test.split(':')[1],
  oneSandbox: r.one_sandbox !== false,
  container: r.container === true,
  allowNative: r.allow_native !== false,
  useTmpfs: r.use_tmpfs === true,
  hostFixtures: ['add_host_uds', 'add_host_connector', 'add_host_fifo', 'add_host_tty'].filter((k) => r[k] === true),
})).filter((t) => !opts.only || opts.only.split(',').includes(t.name));

// gVisor builds against Abseil 2025, Debian 12 has 2022. The newer calls the
// tests make are inline conveniences over older ones; copies of the two
// Debian headers concerned get them (inline members only, so the objects
// still match Debian's compiled library).
const COMPAT = join(OUT, 'compat');
const ABSL_ADDITIONS = [
  {
    header: 'absl/synchronization/mutex.h',
    edits: [
      [/^class ABSL_LOCKABLE Mutex \{\n public:\n/m,
        '  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { Lock(); }\n' +
        '  void unlock() ABSL_UNLOCK_FUNCTION() { Unlock(); }\n' +
        '  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return TryLock(); }\n' +
        '  void lock_shared() ABSL_SHARED_LOCK_FUNCTION() { ReaderLock(); }\n' +
        '  void unlock_shared() ABSL_UNLOCK_FUNCTION() { ReaderUnlock(); }\n'],
      ...['MutexLock', 'ReaderMutexLock', 'WriterMutexLock'].map((c) => [
        new RegExp(`^class ABSL_SCOPED_LOCKABLE ${c} \\{\\n public:\\n`, 'm'),
        `  explicit ${c}(Mutex &mu) : ${c}(&mu) {}\n`,
      ]),
    ],
  },
  {
    header: 'absl/strings/string_view.h',
    edits: [
      [/^#else {2}\/\/ ABSL_USES_STD_STRING_VIEW\n/m, '#include <string_view>\n'],
      [/^class string_view \{\n public:\n/m,
        '  constexpr string_view(std::string_view s) noexcept : ptr_(s.data()), length_(s.size()) {}\n' +
        '  operator std::string_view() const noexcept { return std::string_view(ptr_, length_); }\n'],
    ],
  },
];
for (const { header, edits } of ABSL_ADDITIONS) {
  let text = readFileSync(join('/usr/include', header), 'utf8');
  for (const [anchor, addition] of edits) {
    if (!anchor.test(text)) {
      console.error(`warning: ${header} has no ${anchor}; not extended`);
      continue;
    }
    text = text.replace(anchor, (m) => m + addition);
  }
  writeIfChanged(join(COMPAT, header), text);
}

// absl/base/no_destructor.h (2023) is not in Debian 12: a value built once
// and never destroyed, reached through * and ->.
writeIfChanged(
  join(COMPAT, 'absl/base/no_destructor.h'),
  [
    '// Written by build-gvisor.mjs.',
    '#pragma once',
    '#include <new>',
    '#include <utility>',
    '#include "absl/base/config.h"',
    'namespace absl {',
    'ABSL_NAMESPACE_BEGIN',
    'template <typename T>',
    'class NoDestructor {',
    ' public:',
    '  template <typename... Args>',
    '  explicit NoDestructor(Args&&... args) { new (storage_) T(std::forward<Args>(args)...); }',
    '  const T& operator*() const { return *get(); }',
    '  T& operator*() { return *get(); }',
    '  const T* operator->() const { return get(); }',
    '  T* operator->() { return get(); }',
    '  const T* get() const { return std::launder(reinterpret_cast<const T*>(storage_)); }',
    '  T* get() { return std::launder(reinterpret_cast<T*>(storage_)); }',
    '',
    ' private:',
    '  alignas(T) unsigned char storage_[sizeof(T)];',
    '};',
    'ABSL_NAMESPACE_END',
    '}  // namespace absl',
    '',
  ].join('\n'),
);

// absl/log (2023) is not in Debian 12; the tests only write LOG(INFO) lines.
writeIfChanged(
  join(COMPAT, 'absl/log/log.h'),
  [
    '// Written by build-gvisor.mjs: LOG(severity) << ... as one line on stderr.',
    '#pragma once',
    '#include <iostream>',
    'namespace conformance_compat {',
    'struct LogLine {',
    '  ~LogLine() { std::cerr << std::endl; }',
    '  std::ostream& stream() { return std::cerr; }',
    '};',
    '}  // namespace conformance_compat',
    '#define LOG(severity) ::conformance_compat::LogLine().stream()',
    '',
  ].join('\n'),
);

// Generated files keep their time when unchanged, so make rebuilds nothing.
function writeIfChanged(file, text) {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

const mk = [];
const CXXFLAGS = `-std=c++17 -O1 -g0 -pthread -D__linux__ -I${COMPAT} -I${SRC} -Wno-deprecated-declarations -MMD -MP`;
mk.push(`CXX ?= g++`, `CXXFLAGS := ${CXXFLAGS}`);
mk.push(`ABSL := -Wl,--as-needed ${absl().join(' ')} -Wl,--no-as-needed`);
mk.push(`LIBS := -lgmock -lgtest -lbenchmark $(ABSL) -lpthread -lrt`, '.DELETE_ON_ERROR:', 'all:');
// Each rule keeps its compiler output next to the target, so the manifest can
// quote the error of a test that did not build.
const compile = (o, s, extra = '') =>
  `${o}: ${s}\n\t@mkdir -p $(@D)\n\t@$(CXX) $(CXXFLAGS) ${extra} -c $< -o $@ 2> $@.log || { cat $@.log; exit 1; }`;

function absl() {
  const dir = '/usr/lib/x86_64-linux-gnu';
  return readdirSync(dir).filter((f) => /^libabsl_.*\.so$/.test(f)).map((f) => `-l${f.slice(3, -3)}`);
}

const programs = new Map(); // runfiles path -> { deps, recipe }
const manifest = [];

function addBinary(t) {
  const { objs, lib, missing } = closure(t);
  const out = join('runfiles', t.pkg, t.name);
  programs.set(out, {
    deps: [...objs, ...lib],
    recipe:
      `@rm -f $@.a && ar rcs $@.a ${lib.join(' ')} && ` +
      `$(CXX) -pthread -o $@ ${objs.join(' ')} $@.a $(LIBS) 2> $@.log || { cat $@.log; exit 1; }`,
  });
  for (const d of t.data ?? []) addData(label(t.pkg, d), missing);
  return { out, missing };
}

function addData(l, missing) {
  const t = targets.get(l);
  const out = join('runfiles', (l.slice(2).split(':')[0]), l.split(':')[1]);
  if (programs.has(out)) return;
  if (t?.rule === 'cc_binary') {
    addBinary(t);
  } else if (t?.rule === 'sh_binary') {
    programs.set(out, { deps: [join(SRC, t.pkg, t.srcs[0])], recipe: 'install -D -m 755 $< $@' });
  } else if (l === `//${LINUX}/rseq:rseq`) {
    // The genrule of rseq/BUILD: a freestanding static program (rseq must
    // not come from a libc that registers rseq itself).
    const dir = join(SRC, LINUX, 'rseq');
    const srcs = ['critical_amd64.S', 'start_amd64.S', 'rseq.cc'].map((f) => join(dir, f));
    programs.set(out, {
      deps: srcs,
      recipe: `@mkdir -p $(@D); $(CXX) -I${SRC} -Wall -O2 -std=c++17 -static -nostdlib -ffreestanding -fno-exceptions -no-pie -fno-pic -o $@ ${srcs.join(' ')} 2> $@.log || { cat $@.log; exit 1; }`,
    });
  } else {
    missing.push(l);
  }
}

for (const test of suite) {
  const t = targets.get(`//${LINUX}:${test.name}`);
  const { out, missing } = addBinary(t);
  manifest.push({ ...test, binary: join(OUT, out), missing });
}

writeIfChanged(
  RUNFILES_SHIM,
  [
    '// Written by build-gvisor.mjs: helper programs live under one directory,',
    '// at the paths the tests name.',
    '#include <string>',
    'namespace gvisor {',
    'namespace testing {',
    `std::string RunfilePath(std::string path) { return ${JSON.stringify(RUNFILES + '/')} + path; }`,
    '}  // namespace testing',
    '}  // namespace gvisor',
    '',
  ].join('\n'),
);
for (const [o, src] of objects) mk.push(compile(o, src));
for (const [out, { deps, recipe }] of programs) {
  mk.push(`all: ${out}`, `${out}: ${deps.join(' ')}\n\t@mkdir -p $(@D)\n\t${recipe}`);
}
mk.push(`-include $(shell find obj -name '*.d' 2>/dev/null)`);
writeIfChanged(join(OUT, 'Makefile'), mk.join('\n') + '\n');

console.error(`building ${manifest.length} tests (${objects.size} objects) in ${OUT}`);
spawnSync('nice', ['make', '-k', `-j${opts.jobs}`, '-C', OUT], { stdio: 'inherit' });

// Why a test did not build: its own missing dependencies, else the first
// error of the first object or link step that failed.
function firstError(file) {
  const log = readFileSync(`${file}.log`, 'utf8').split('\n');
  return log.find((l) => /error|undefined reference/.test(l))?.trim() ?? log[0];
}
for (const m of manifest) {
  m.built = existsSync(m.binary);
  if (m.built) continue;
  const t = targets.get(`//${LINUX}:${m.name}`);
  const { objs, lib } = closure(t);
  const broken = [...objs, ...lib].find((o) => !existsSync(join(OUT, o)) && existsSync(join(OUT, `${o}.log`)));
  m.reason = broken
    ? `${broken.slice(4).replace(/\.o$/, '')}: ${firstError(join(OUT, broken)).replace(SRC + '/', '')}`
    : existsSync(`${m.binary}.log`)
      ? `link: ${firstError(m.binary)}`
      : 'not built';
}
const gitHead = (dir) => execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
writeFileSync(
  join(OUT, 'manifest.json'),
  JSON.stringify({ suite: 'gvisor', commit: gitHead(SRC), runfiles: RUNFILES, tests: manifest }, null, 1) + '\n',
);
const failed = manifest.filter((m) => !m.built);
console.error(`built ${manifest.length - failed.length}/${manifest.length} tests`);
for (const m of failed) console.error(`  not built: ${m.name}: ${m.reason}`);
