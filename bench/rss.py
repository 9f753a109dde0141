#!/usr/bin/env python3
"""Where a running SmtpLens proxy's resident memory is (Linux /proc, stdlib only; figures, not a test).

  bench/rss.py PID                 # one reading now
  bench/rss.py --peak PID          # sample every 0.1 s until the process exits; print the reading at the RSS peak
  bench/rss.py --peak --wait-for /path/to/smtplens   # wait for a `smtplens proxy` started from that binary

A reading splits VmRSS into anonymous memory (the GC heap, malloc arenas, thread stacks, loader heaps), file-backed
pages (the runtime, the framework's and SmtpLens's assemblies, libcrypto) and shared memory (the JIT's code, mapped
twice by the runtime's W^X double mapping), lists the largest mappings, and counts threads. The GC's own share
(committed bytes, generation sizes) comes from `dotnet-counters monitor -p PID --counters System.Runtime` beside it.
"""
import argparse
import collections
import os
import sys
import time

KB = 1024 / 1e6  # /proc counts kB of 1024 bytes; MB here are 10^6 bytes, as in run.sh


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[key] = int(value.split()[0])
    return out


def mappings(pid):
    """Resident kB per mapping name; anonymous mappings are grouped by their size (GC regions, arenas, stacks)."""
    agg = collections.Counter()
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts[0].endswith(":"):
                if len(parts) > 5:
                    name = os.path.basename(parts[5]) if parts[5].startswith("/") else parts[5]
                else:
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    size = hi - lo
                    name = f"[anon {parts[1]}, {size >> 20} MiB mappings]" if size >= 1 << 20 else f"[anon {parts[1]}, small]"
            elif parts[0] == "Rss:":
                agg[name] += int(parts[1])
    return agg


def threads(pid):
    names = collections.Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names[f.read().strip()] += 1
        except OSError:
            pass
    return names


def show(pid, s, agg, names, top):
    print(f"pid {pid}: VmRSS {s['VmRSS'] * KB:.1f} MB (peak VmHWM {s['VmHWM'] * KB:.1f} MB) = anonymous {s['RssAnon'] * KB:.1f}"
          f" + file {s['RssFile'] * KB:.1f} + shared {s['RssShmem'] * KB:.1f} MB; {s['Threads']} threads")
    for name, kb in agg.most_common(top):
        print(f"  {kb * KB:8.1f} MB  {name}")
    print("  threads: " + ", ".join(f"{n} x{c}" for n, c in names.most_common()))


def find(binary):
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0] == binary.encode() and b"proxy" in argv:
                return int(p)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pid", nargs="?", type=int)
    p.add_argument("--peak", action="store_true", help="sample until the process exits, show the reading at the peak")
    p.add_argument("--wait-for", metavar="BINARY", help="wait for `BINARY proxy ...` to start and use its pid")
    p.add_argument("--top", type=int, default=15)
    a = p.parse_args()
    pid = a.pid
    while pid is None and a.wait_for:
        pid = find(os.path.abspath(a.wait_for))
        time.sleep(0.05)
    if pid is None:
        p.error("a pid or --wait-for")
    if not a.peak:
        show(pid, status(pid), mappings(pid), threads(pid), a.top)
        return 0
    best = None
    most_threads = collections.Counter()
    try:
        while True:
            s = status(pid)
            if best is None or s["VmRSS"] > best[0]["VmRSS"] + 512:
                best = (s, mappings(pid))
            most_threads = max(most_threads, threads(pid), key=lambda c: sum(c.values()))
            time.sleep(0.1)
    except (OSError, KeyError):
        pass
    if best is None:
        return 1
    print("at the RSS peak:")
    show(pid, best[0], best[1], most_threads, a.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
