#!/bin/sh
# runsc as the BinaryName of containerd's runc shim (bench/cri.mjs's handler
# "runsc"): `runsc-cri.sh RUNSC-ARGS...` runs `runsc RUNSC-ARGS...`, and makes
# up for three ways runsc differs from runc that containerd's runc shim relies
# on. gVisor's own shim (containerd-shim-runsc-v1, not in Debian's runsc
# package) handles them itself.
#
# - stdio: runsc gives a pod's further containers (all but the pause
#   container, which makes the sandbox) the stdin, stdout and stderr of
#   `runsc start` (runsc/container/container.go, Start); runc takes them at
#   `create`. The runc shim hands the container's pipes to `create` only and
#   runs `start` with its output captured (go-runc's Start), so the
#   container's output never reaches its CRI log.
# - exit: runsc writes the sandbox's pid as every container's pid, and the
#   runc shim learns that a container exited when that pid does: never, for
#   a further container of a pod whose sandbox goes on.
# - kill: runsc says "sandbox is not running" where runc says "container not
#   running" (a container whose sandbox has exited, as the pause container's
#   after SIGKILL): the runc shim takes only the latter for a process already
#   gone, and fails the pod's teardown on the former.
#
# So for a further container `create` starts a waiter that keeps create's
# stdio open and stands as the container's pid (it replaces runsc's in
# --pid-file); `start` reopens that stdio through /proc/WAITER/fd/N for runsc
# start, then lets the waiter run `runsc wait`, whose exit status it exits
# with; and `kill` reports runsc's "sandbox is not running" in runc's words.
#
# runsc's global flags are passed on unquoted: they must hold no spaces.
globals='' cmd='' id='' bundle='' pidfile='' root='' prev=''
for a; do
  case $prev in
    --root) root=$a ;;
    --bundle | -b) bundle=$a ;;
    --pid-file) pidfile=$a ;;
  esac
  case $a in
    --root=*) root=${a#--root=} ;;
    --bundle=*) bundle=${a#--bundle=} ;;
    --pid-file=*) pidfile=${a#--pid-file=} ;;
    create | start | kill | delete) [ -n "$cmd" ] || cmd=$a ;;
  esac
  [ -n "$cmd" ] || globals="$globals $a"
  prev=$a id=$a
done
dir=$root.cri
waiter=$dir/$id.pid
fifo=$dir/$id.started

release() {
  if [ -f "$waiter" ]; then
    kill "$(cat "$waiter")" 2>/dev/null
    rm -f "$waiter" "$fifo"
  fi
}

case $cmd in
  create)
    grep -Eq '"io\.kubernetes\.cri\.container-type": *"container"' "$bundle/config.json" || exec runsc "$@"
    runsc "$@" || exit
    mkdir -p "$dir"
    rm -f "$fifo"
    mkfifo "$fifo"
    # An asynchronous command's stdin is /dev/null unless redirected: it gets ours through fd 3.
    exec 3<&0
    (
      read -r _ <"$fifo"
      rm -f "$fifo"
      exec </dev/null >/dev/null 2>&1
      st=$(runsc $globals wait "$id" | sed -n 's/.*"exitStatus":\([0-9]*\).*/\1/p')
      exit "${st:-255}"
    ) <&3 3<&- &
    exec 3<&-
    echo $! >"$waiter"
    printf %s $! >"$pidfile"
    ;;
  start)
    [ -f "$waiter" ] || exec runsc "$@"
    w=$(cat "$waiter")
    runsc "$@" </proc/"$w"/fd/0 >/proc/"$w"/fd/1 2>/proc/"$w"/fd/2
    st=$?
    rm -f "$waiter"
    # Read-write: never blocks, whether or not the waiter still reads.
    echo 1<>"$fifo"
    exit $st
    ;;
  kill)
    err=$(runsc "$@" 2>&1 >/dev/null) && exit 0
    st=$?
    case $err in
      *'sandbox is not running'*) echo 'container not running' >&2 ;;
      *) printf '%s\n' "$err" >&2 ;;
    esac
    exit $st
    ;;
  delete)
    release
    exec runsc "$@"
    ;;
  *) exec runsc "$@" ;;
esac
