#!/bin/sh
# Fetches and prepares the three third-party test suites that
# test/e2e/real-suites.test.ts and bench/suites.mjs run natively and under
# tsvisor (issue 11), into a cache directory outside the repository:
#
#   gzip      GNU gzip 1.12 from Debian's source package, configured and
#             built here; the suite is its own `make check` (automake tests)
#   networkx  NetworkX 2.8.8's own tests, shipped inside Debian's
#             python3-networkx package, run with Debian's pytest
#   qs        the qs 6.13.0 npm package (which ships its tests) with its
#             devDependencies; the suite is its own runner, tape
#
# Only Debian's archive and the npm registry are needed.  Idempotent: a
# suite whose .ready stamp exists is left alone.  Run as root (apt-get).
#
#   scripts/testrun/fetch-suites.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $TSVISOR_SUITES_DIR, then /var/cache/tsvisor-suites.
# Each suite's pristine tree is CACHE_DIR/pristine/NAME; runs happen in
# copies (see scripts/testrun/suites.mjs).
set -eu

CACHE=${1:-${TSVISOR_SUITES_DIR:-/var/cache/tsvisor-suites}}
mkdir -p "$CACHE/pristine" "$CACHE/dl"
CACHE=$(cd "$CACHE" && pwd)
export DEBIAN_FRONTEND=noninteractive

say() { echo "fetch-suites: $*" >&2; }

# Tools the suites need from Debian: the build of gzip (its tests use
# less for zless, and diff/cmp), pytest for networkx, Debian's python3.
need=""
for pkg in build-essential python3 python3-pytest less diffutils xz-utils; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need="$need $pkg"
done
if [ -n "$need" ]; then
  say "installing$need"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# Debian source packages through a private apt configuration in the cache:
# the host's own sources.list is not touched (no deb-src line is added).
APT_DIR=$CACHE/apt
apt_src() {
  apt-get -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" "$@"
}

fetch_gzip() {
  dest=$CACHE/pristine/gzip
  [ -e "$dest/.ready" ] && return 0
  say "gzip: Debian source package, configure, make"
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  echo 'deb-src http://deb.debian.org/debian bookworm main' > "$APT_DIR/sources.list"
  apt_src update -qq
  rm -rf "$CACHE/dl/gzip" "$dest"
  mkdir -p "$CACHE/dl/gzip"
  (cd "$CACHE/dl/gzip" && apt_src source --download-only -qq gzip=1.12-1)
  dpkg-source --no-copy --skip-patches -x "$CACHE/dl/gzip/gzip_1.12-1.dsc" "$dest" >/dev/null
  # The build is native and outside every measurement; the suite is
  # `make check`, which then finds everything up to date.
  (cd "$dest" && ./configure --quiet >/dev/null && make -s -j2 >/dev/null 2>&1 && make -s -C tests check TESTS= >/dev/null 2>&1)
  touch "$dest/.ready"
}

fetch_networkx() {
  dest=$CACHE/pristine/networkx
  [ -e "$dest/.ready" ] && return 0
  say "networkx: Debian's python3-networkx (ships the upstream tests)"
  rm -rf "$CACHE/dl/networkx" "$dest"
  mkdir -p "$CACHE/dl/networkx" "$dest"
  (cd "$CACHE/dl/networkx" && apt-get download -qq python3-networkx=2.8.8-1)
  dpkg-deb -x "$CACHE"/dl/networkx/python3-networkx_*.deb "$CACHE/dl/networkx/root"
  # The package itself is the suite's directory: pytest runs networkx's
  # tests from it, with the package imported from the same place.
  cp -a "$CACHE/dl/networkx/root/usr/lib/python3/dist-packages/networkx" "$dest/networkx"
  touch "$dest/.ready"
}

fetch_qs() {
  dest=$CACHE/pristine/qs
  [ -e "$dest/.ready" ] && return 0
  say "qs: npm package qs@6.13.0 and its devDependencies"
  rm -rf "$CACHE/dl/qs" "$dest"
  mkdir -p "$CACHE/dl/qs"
  (cd "$CACHE/dl/qs" && npm pack --silent qs@6.13.0 >/dev/null)
  mkdir -p "$dest"
  tar -xzf "$CACHE"/dl/qs/qs-6.13.0.tgz -C "$dest" --strip-components=1
  # Not `npm install` in the package: some devDependencies (lint, bundling)
  # come from git repositories, which are out of reach.  Installed instead,
  # at package.json's own version ranges: its dependencies, tape, and the
  # modules the tests require.
  specs=$(node -e '
    const p = require(process.argv[1]);
    const dev = ["tape", "es-value-fixtures", "for-each", "has-override-mistake", "has-property-descriptors",
      "has-symbols", "iconv-lite", "mock-property", "object-inspect", "safer-buffer"];
    const all = { ...p.dependencies, ...Object.fromEntries(dev.map((d) => [d, p.devDependencies[d]])) };
    console.log(Object.entries(all).map(([n, r]) => `${n}@${r}`).join(" "));' "$dest/package.json")
  mkdir -p "$CACHE/dl/qs/deps"
  (cd "$CACHE/dl/qs/deps" && echo '{}' > package.json && npm install --silent --ignore-scripts --no-audit --no-fund --no-package-lock $specs)
  mv "$CACHE/dl/qs/deps/node_modules" "$dest/node_modules"
  touch "$dest/.ready"
}

fetch_gzip
fetch_networkx
fetch_qs
say "ready in $CACHE/pristine: gzip networkx qs"
