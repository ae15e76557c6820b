#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal, as a person at a terminal would.

usage: ptydrive.py [--rows N --cols N] [--timeout S] [--expect REGEX --send TEXT]... -- ARGV...

Each --expect waits (on everything the command printed so far) for REGEX
before the --send that follows it is typed; "\\r" in TEXT is the Enter key.
Like a terminal, it answers cursor position queries (ESC [6n), which line
editors such as busybox ash send before they read a line.
Prints one JSON object: {"output": all that was printed, "status": exit
status (128+N for signal N), "timedOut": bool}.
"""
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


QUIET = 0.2  # seconds without output before typing


def cursor_report(out: bytes) -> bytes:
    """ESC [row;colR for a cursor after the last line printed (escape sequences take no room)."""
    line = re.split(rb"[\r\n]", out)[-1]
    line = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", line)
    return b"\x1b[1;%dR" % (len(line) + 1)


def main() -> int:
    args = sys.argv[1:]
    if "--" not in args:
        print("ptydrive: missing -- before the command", file=sys.stderr)
        return 2
    sep = args.index("--")
    opts, argv = args[:sep], args[sep + 1:]
    rows, cols, timeout = 24, 80, 30.0
    steps = []
    i = 0
    while i < len(opts):
        flag, value = opts[i], opts[i + 1]
        if flag == "--rows":
            rows = int(value)
        elif flag == "--cols":
            cols = int(value)
        elif flag == "--timeout":
            timeout = float(value)
        elif flag == "--expect":
            steps.append(("expect", value))
        elif flag == "--send":
            steps.append(("send", value.encode().decode("unicode_escape")))
        else:
            print(f"ptydrive: unknown flag {flag}", file=sys.stderr)
            return 2
        i += 2

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    deadline = time.time() + timeout
    timed_out = False
    last_output = time.time()
    step = 0
    searched_from = 0
    while True:
        while step < len(steps):
            kind, value = steps[step]
            if kind == "send":
                # Typed only once the command has been quiet a moment, so it is
                # never taken for the answer to a query it has just sent.
                if time.time() - last_output < QUIET:
                    break
                os.write(fd, value.encode())
                step += 1
                continue
            m = re.search(value.encode(), out[searched_from:])
            if not m:
                break
            searched_from += m.end()
            step += 1
        if time.time() > deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
            last_output = time.time()
            for _ in range(data.count(b"\x1b[6n")):
                os.write(fd, cursor_report(out))
    _, st = os.waitpid(pid, 0)
    status = os.waitstatus_to_exitcode(st)
    print(json.dumps({"output": out.decode("utf-8", "replace"), "status": 128 - status if status < 0 else status, "timedOut": timed_out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
