#!/bin/sh
# Issue 9's Docker acceptance, by hand (too slow for CI: debootstrap
# downloads a Debian root): a private dockerd with the tsvisor runtime, a
# Debian bookworm root imported as an image, and `apt-get update && apt-get
# install` of a small package in it under runc and under tsvisor.
#
#   sh scripts/docker-apt-check.sh [ROOT.tar]    (as root; docker.io and debootstrap installed)
#
# Without ROOT.tar, debootstrap --variant=minbase makes one first.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /var/tmp/tsv-apt-XXXX)
trap 'kill "$DP" 2>/dev/null; sleep 3; kill -9 "$DP" 2>/dev/null; rm -rf "$T"' EXIT
tar=${1:-}
if [ -z "$tar" ]; then
  debootstrap --variant=minbase bookworm "$T/root" http://deb.debian.org/debian > "$T/debootstrap.log" 2>&1 || { tail "$T/debootstrap.log"; exit 1; }
  tar -C "$T/root" -cf "$T/root.tar" . && rm -rf "$T/root"
  tar=$T/root.tar
fi
echo '{}' > "$T/daemon.json"
dockerd --config-file "$T/daemon.json" --data-root "$T/data" --exec-root "$T/exec" --pidfile "$T/docker.pid" \
  -H "unix://$T/docker.sock" --storage-driver overlay2 --add-runtime "tsvisor=$repo/runsc-compat/runsc" > "$T/dockerd.log" 2>&1 &
DP=$!
D="docker -H unix://$T/docker.sock"
for _ in $(seq 60); do $D info > /dev/null 2>&1 && break; sleep 1; done
$D import "$tar" local/debian > /dev/null || exit 1
status=0
for rt in runc tsvisor; do
  echo "=== $rt"
  $D run --rm --runtime=$rt local/debian sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends hello > /tmp/log 2>&1 || { tail /tmp/log; exit 1; }; hello && dpkg-query -W -f="\${Status}\n" hello' || status=1
done
exit $status
