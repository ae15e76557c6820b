#!/bin/sh
# Builds LTP's syscall tests (testcases/kernel/syscalls) from a fetched copy
# of the LTP repository, outside the tsvisor tree. The copy is not touched:
# the build happens in a copy of it under OUT/src (LTP builds in its tree).
#
#   scripts/conformance/build-ltp.sh LTP_CHECKOUT OUT [JOBS]
#
# Needs: apt-get install gcc make autoconf automake m4 bison flex pkg-config
#        libcap-dev libaio-dev libacl1-dev libnuma-dev libkeyutils-dev libssl-dev
# Output: OUT/install/testcases/bin (the test programs), OUT/install/runtest/syscalls
# (the list the runner reads), OUT/install/metadata/ltp.json (what each test
# declares it needs), OUT/build.log, OUT/commit.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 LTP_CHECKOUT OUT [JOBS]" >&2; exit 2; }
SRC=$(realpath "$1")
mkdir -p "$2"
OUT=$(realpath "$2")
JOBS=${3:-2}
for tool in autoconf automake make gcc pkg-config; do
  command -v $tool >/dev/null || { echo "missing $tool (see the apt-get line in $0)" >&2; exit 2; }
done

COMMIT=$(git -C "$SRC" rev-parse HEAD)
# A build of another commit starts again; the same commit resumes (make).
if [ "$(cat "$OUT/commit" 2>/dev/null)" != "$COMMIT" ]; then
  rm -rf "$OUT/src" "$OUT/install"
  git clone -q --shared "$SRC" "$OUT/src"
  git -C "$OUT/src" checkout -q "$COMMIT"
  echo "$COMMIT" > "$OUT/commit"
fi
cd "$OUT/src"
{
  [ -f include/mk/config.mk ] || { make autotools && ./configure --prefix="$OUT/install"; }
  # -k: a test that does not compile here is reported by the runner as
  # missing; the others are still built.
  nice make -k -j"$JOBS" -C testcases/kernel/syscalls || true
  nice make -k -C testcases/kernel/syscalls install || true
  # Each test's declared needs (root, a block device, filesystems, timeout),
  # which the runner uses to classify and to serialise device users.
  make -C metadata ltp.json
} > "$OUT/build.log" 2>&1 || { echo "build failed: see $OUT/build.log" >&2; exit 1; }
mkdir -p "$OUT/install/runtest" "$OUT/install/metadata"
cp runtest/syscalls "$OUT/install/runtest/syscalls"
cp metadata/ltp.json "$OUT/install/metadata/ltp.json"
echo "built $(ls "$OUT/install/testcases/bin" | wc -l) programs in $OUT/install/testcases/bin (log: $OUT/build.log)"
