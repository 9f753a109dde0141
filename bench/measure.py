#!/usr/bin/env python3
"""Measurement helpers for bench/run.sh (stdlib only, Linux only).

Sub-commands (all used by run.sh; run `measure.py SUBCOMMAND -h` for details):

  freeport N            print N distinct free TCP ports on 127.0.0.1 (bind to :0)
  wait-listen           wait until a TCP port is in LISTEN state on 127.0.0.1,
                        held by the given process (or its session)
                        (reads /proc/net/tcp; never connects, so no bogus
                        sessions reach the relay, its transcripts or the sink)
  supervise             run a long-lived process (relay or sink) in its own
                        session/process group, sample the RSS of the whole
                        group, stop it on SIGTERM/SIGINT and write its resource
                        usage (wait4 rusage, incl. reaped children) as JSON
  client                run the load client with a hard timeout, time it with a
                        monotonic clock, record the relay's CPU baseline
  proc-rchar PID        print /proc/PID/io rchar (bytes the process read(2))
  postfix-count         counters of a bench Postfix next hop from its log, in
                        the sink's counter-line format (waits for deliveries)
  idle                  hold N sessions (banner + EHLO) through a relay and
                        report its RSS before, with them open, and per session
  record                combine one run's files into a result line (JSONL)
  summarize             medians per scenario/relay, ratios, target checks,
                        plain-text table and optional JSON report
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1_000_000  # throughput and memory figures use decimal MB (10^6 bytes)


# --------------------------------------------------------------------------- /proc helpers

def system_busy_s() -> float:
    """Busy CPU seconds of the whole machine, all CPUs (from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK


def loadavg1() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the comm field (index 0 == field 3, 'state')."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def cpu_seconds(pid: int) -> float | None:
    """utime+stime+cutime+cstime of pid (cutime/cstime = children it has reaped)."""
    st = read_stat(pid)
    if st is None:
        return None
    # stat fields 14..17 -> indexes 11..14 after dropping pid and comm
    return sum(int(x) for x in st[11:15]) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float | None:
    """cpu_seconds(pid) plus utime+stime of its live session members (children
    that have not been reaped yet, e.g. socat's per-connection processes)."""
    total = cpu_seconds(pid)
    if total is None:
        return None
    for m in session_members(pid):
        if m != pid:
            st = read_stat(m)
            if st is not None:
                total += (int(st[11]) + int(st[12])) / CLK_TCK
    return total


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def session_members(sid: int) -> list[int]:
    """All live pids whose session id is sid (the supervised tree, incl. forks).

    Only pids >= sid are examined: the session leader is the oldest member and
    Linux hands out pids in increasing order, so its descendants have larger
    pids unless pid_max wrapped during the run (then a child could be missed by
    the RSS sampling; CPU is unaffected). Keeps the sampler cheap.
    """
    out = []
    with os.scandir("/proc") as it:
        for e in it:
            name = e.name
            if not name.isdigit() or int(name) < sid:
                continue
            st = read_stat(int(name))
            # index 0 = state, 1 = ppid, 2 = pgrp, 3 = session
            if st is not None and len(st) > 3 and st[3] == str(sid) and st[0] != "Z":
                out.append(int(name))
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def rchar(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def listen_inodes(port: int) -> set[int]:
    """Socket inodes in LISTEN state on TCP port `port` (any address, IPv4/IPv6)."""
    want = f":{port:04X}"
    found = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[1].endswith(want) and parts[3] == "0A":
                        found.add(int(parts[9]))
        except (OSError, IndexError, ValueError):
            pass
    return found


def listening(port: int) -> bool:
    return bool(listen_inodes(port))


def owns_socket(pid: int, inodes: set[int]) -> bool:
    """True if pid or a process of its session holds one of these socket inodes
    (so a port found in LISTEN state is ours and not another program's that
    grabbed it between the free-port probe and our bind)."""
    wanted = {f"socket:[{i}]" for i in inodes}
    for p in session_members(pid) or [pid]:
        try:
            with os.scandir(f"/proc/{p}/fd") as it:
                for e in it:
                    try:
                        if os.readlink(e.path) in wanted:
                            return True
                    except OSError:
                        pass
        except OSError:
            pass
    return False


def alive(pid: int) -> bool:
    st = read_stat(pid)
    return st is not None and st[0] != "Z"


# --------------------------------------------------------------------------- sub-commands

def cmd_freeport(a: argparse.Namespace) -> int:
    socks = []
    try:
        for _ in range(a.n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()
    return 0


def cmd_wait_listen(a: argparse.Namespace) -> int:
    deadline = time.monotonic() + a.timeout
    foreign = False
    while time.monotonic() < deadline:
        inodes = listen_inodes(a.port)
        if inodes:
            if not a.pid or owns_socket(a.pid, inodes):
                return 0
            foreign = True
        if a.pid and not alive(a.pid):
            if foreign:
                print(f"port {a.port} is in use by another program; process {a.pid} exited", file=sys.stderr)
                return 2
            print(f"process {a.pid} exited before listening on {a.port}", file=sys.stderr)
            return 2
        time.sleep(0.05)
    if foreign:
        print(f"timeout: 127.0.0.1:{a.port} is held by another program, not by process {a.pid}", file=sys.stderr)
        return 1
    print(f"timeout: nothing listening on 127.0.0.1:{a.port} after {a.timeout}s", file=sys.stderr)
    return 1


def _pdeathsig() -> None:
    # Child side of fork: die with the supervisor (PR_SET_PDEATHSIG = 1), so a
    # SIGKILLed supervisor can never leave a relay running.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort
        pass


def cmd_supervise(a: argparse.Namespace) -> int:
    stop = {"requested": False, "at": None, "signal": None}

    def on_signal(signum, _frame):
        if not stop["requested"]:
            stop["requested"] = True
            stop["at"] = time.monotonic()
            stop["signal"] = signal.Signals(signum).name

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    reset = {"pending": False}

    def on_usr1(_signum, _frame):
        reset["pending"] = True

    # SIGUSR1: forget the sampled tree peaks so far (sent after the warm-up);
    # VmHWM (lifetime high-water mark of the main process) is kept.
    signal.signal(signal.SIGUSR1, on_usr1)

    started = time.monotonic()
    log = open(a.log, "ab") if a.log else subprocess.DEVNULL
    proc = subprocess.Popen(a.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_pdeathsig)
    pid = proc.pid
    with open(a.pidfile, "w") as f:
        f.write(f"{pid}\n")

    peak_tree_rss = 0
    peak_tree_pss = 0
    peak_tree_procs = 0
    max_procs_seen = 0
    samples = 0
    hwm_kb = 0           # VmHWM of the main process (exact kernel high-water mark)
    child_hwm_kb = 0     # largest VmHWM seen in a sampled child (forked relays)
    status = None
    rusage = None
    died_unexpectedly = False
    phase = "running"  # running -> quiesce -> term -> kill
    phase_deadline = 0.0

    while True:
        wpid, st, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            status, rusage = st, ru
            if not stop["requested"]:
                died_unexpectedly = True
            break
        if reset["pending"]:
            reset["pending"] = False
            peak_tree_rss = peak_tree_pss = peak_tree_procs = max_procs_seen = child_hwm_kb = 0
        # sample the whole session (socat forks one child per connection)
        members = session_members(pid)
        total = sum(rss_bytes(p) for p in members)
        samples += 1
        if total > peak_tree_rss:
            peak_tree_rss, peak_tree_procs = total, len(members)
        max_procs_seen = max(max_procs_seen, len(members))
        if len(members) > 1:
            # PSS splits shared pages (libc, socat's libraries) between the
            # forked processes, so the sum is not inflated like the RSS sum
            peak_tree_pss = max(peak_tree_pss, sum(pss_bytes(p) for p in members))
        h = proc_status_kb(pid, "VmHWM")
        if h:
            hwm_kb = max(hwm_kb, h)
        for m in members:
            if m != pid:
                h = proc_status_kb(m, "VmHWM")
                if h:
                    child_hwm_kb = max(child_hwm_kb, h)
        now = time.monotonic()
        if stop["requested"]:
            if phase == "running":
                # let per-connection children finish so their CPU is reaped
                # into the parent's rusage, then ask the main process to exit
                phase, phase_deadline = "quiesce", now + a.quiesce
            if phase == "quiesce" and (len([m for m in members if m != pid]) == 0 or now >= phase_deadline):
                os.kill(pid, signal.SIGTERM)
                phase, phase_deadline = "term", now + a.grace
            elif phase == "term" and now >= phase_deadline:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                phase = "kill"
        time.sleep(a.interval)

    # anything left in the group (orphaned children) goes too
    leftovers = [p for p in session_members(pid) if p != pid]
    for p in leftovers:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass

    exit_code = os.waitstatus_to_exitcode(status)
    result = {
        "cmd": a.cmd,
        "pid": pid,
        "wall_s": round(time.monotonic() - started, 3),
        "exit_code": exit_code if exit_code >= 0 else None,
        "exit_signal": signal.Signals(-exit_code).name if exit_code < 0 else None,
        "died_unexpectedly": died_unexpectedly,
        "stop_requested_by": stop["signal"],
        "stop_phase": phase,
        "killed_leftover_children": len(leftovers),
        # rusage of the main process plus every descendant it reaped (socat
        # reaps its per-connection children, so they are included)
        "cpu_user_s": rusage.ru_utime,
        "cpu_sys_s": rusage.ru_stime,
        "cpu_total_s": rusage.ru_utime + rusage.ru_stime,
        # ru_maxrss is NOT used for the figures: Linux carries the pre-exec
        # RSS of the forked Python supervisor into it (exec_mmap -> maxrss)
        "ru_maxrss_bytes_unreliable": rusage.ru_maxrss * 1024,
        # VmHWM is per address space and reset by exec: exact for the main
        # process (last read while it was alive); children are sampled
        "vmhwm_main_bytes": hwm_kb * 1024,
        "vmhwm_children_sampled_max_bytes": child_hwm_kb * 1024,
        "max_single_rss_bytes": max(hwm_kb, child_hwm_kb) * 1024,
        # sampled sum of RSS over all processes of the session (fork model)
        "peak_tree_rss_bytes": peak_tree_rss,
        "peak_tree_procs": peak_tree_procs,
        # sampled sum of PSS, only while more than one process existed
        "peak_tree_pss_bytes": peak_tree_pss,
        "max_procs_seen": max_procs_seen,
        "samples": samples,
        "sample_interval_s": a.interval,
    }
    with open(a.stats + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(a.stats + ".tmp", a.stats)
    return 0


def cmd_client(a: argparse.Namespace) -> int:
    load0 = loadavg1()
    busy0 = system_busy_s()
    sink_cpu0 = tree_cpu_seconds(a.sink_pid) if a.sink_pid else None
    relay_cpu0 = tree_cpu_seconds(a.relay_pid) if a.relay_pid else None
    log = open(a.log, "ab") if a.log else subprocess.DEVNULL
    t0 = time.monotonic()
    proc = subprocess.Popen(a.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=_pdeathsig)

    def on_term(signum, _frame):
        # run.sh's cleanup terminates us: take the load client along
        try:
            proc.kill()
            os.waitpid(proc.pid, 0)  # reap it: no zombie left for init
        except (OSError, ChildProcessError):
            pass
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    timed_out = False
    try:
        try:
            _, st, ru = os.wait4(proc.pid, 0) if a.timeout <= 0 else _wait_timeout(proc.pid, a.timeout)
        except TimeoutError:
            timed_out = True
            proc.kill()
            _, st, ru = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        # Ctrl-C: the client got SIGINT too; make sure it is gone, then die
        # from SIGINT ourselves so that bash notices and runs its trap
        try:
            proc.kill()
            os.wait4(proc.pid, 0)
        except (OSError, ChildProcessError):
            pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        raise
    elapsed = time.monotonic() - t0
    relay_cpu1 = tree_cpu_seconds(a.relay_pid) if a.relay_pid else None
    sink_cpu1 = tree_cpu_seconds(a.sink_pid) if a.sink_pid else None
    busy1 = system_busy_s()
    rc = os.waitstatus_to_exitcode(st)
    client_cpu = ru.ru_utime + ru.ru_stime
    # CPU burnt on the machine during the load that is not the client, the sink
    # or the relay's main process (by /proc/stat): softirq network work, the
    # samplers, socat children not yet reaped, and anything else running
    known = client_cpu + ((sink_cpu1 or 0) - (sink_cpu0 or 0)) + ((relay_cpu1 or 0) - (relay_cpu0 or 0))
    with open(a.out, "w") as f:
        json.dump({"cmd": a.cmd, "elapsed_s": elapsed, "exit_code": rc, "timed_out": timed_out,
                   "timeout_s": a.timeout,
                   "client_cpu_s": client_cpu,
                   "sink_cpu_s": None if sink_cpu0 is None else sink_cpu1 - sink_cpu0,
                   "machine_busy_cpu_s": busy1 - busy0, "unattributed_cpu_s": busy1 - busy0 - known,
                   "loadavg1_at_start": load0,
                   "relay_cpu_at_start_s": relay_cpu0, "relay_cpu_at_end_s": relay_cpu1}, f, indent=1)
    return 0 if rc == 0 and not timed_out else 1


def _wait_timeout(pid: int, timeout: float):
    """Blocking wait4 (exact end time) bounded by an interval timer."""
    def on_alarm(_s, _f):
        raise TimeoutError
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return os.wait4(pid, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def cmd_wait_idle(a: argparse.Namespace) -> int:
    """Wait (up to --max-wait s) for a 1 s window with machine CPU use below --threshold."""
    ncpu = os.cpu_count() or 1
    deadline = time.monotonic() + a.max_wait
    frac = 1.0
    while True:
        b0, t0 = system_busy_s(), time.monotonic()
        time.sleep(1.0)
        frac = (system_busy_s() - b0) / ((time.monotonic() - t0) * ncpu)
        if frac < a.threshold:
            return 0
        if time.monotonic() >= deadline:
            print(f"    machine still busy ({frac:.0%} CPU) after waiting {a.max_wait:.0f} s; running anyway")
            return 1


def cmd_quiesce(a: argparse.Namespace) -> int:
    """Wait until the session of PID has no member but PID (forked children done)."""
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if not [m for m in session_members(a.pid) if m != a.pid]:
            return 0
        time.sleep(0.02)
    return 1


def cmd_proc_rchar(a: argparse.Namespace) -> int:
    v = rchar(a.pid)
    if v is None:
        print(f"cannot read /proc/{a.pid}/io", file=sys.stderr)
        return 1
    print(v)
    return 0


def cmd_sink_count(a: argparse.Namespace) -> int:
    c = _sink_counters(a.file)
    print(" ".join(str(c.get(f, 0)) for f in a.fields.split(",")))
    return 0


def cmd_du(a: argparse.Namespace) -> int:
    print(_du(a.path) or 0)
    return 0


def _load(path: str | None) -> dict:
    if not path:
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _sink_counters(path: str) -> dict:
    """Last 'sess=N quit=N mesg=N' counter line printed by smtp-sink -c, or by
    bench/smtptls.py sink, which adds ' tls=N tlsfail=N data=N' (completed and
    failed server-side TLS handshakes, message data bytes) and prints
    'tls-params: VERSION CIPHER' once per negotiated combination."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return {}
    found = re.findall(r"sess=(\d+) quit=(\d+) mesg=(\d+)(?: tls=(\d+) tlsfail=(\d+) data=(\d+))?"
                       r"(?: delivered=(\d+) deferred=(\d+) rejected=(\d+))?", text)
    if not found:
        return {"sessions": 0, "quits": 0, "messages": 0, "tls": 0, "tls_failed": 0}
    s, q, m, t, tf, d, dl, df, rj = found[-1]
    out = {"sessions": int(s), "quits": int(q), "messages": int(m), "tls": int(t or 0), "tls_failed": int(tf or 0)}
    if d:
        out["data_bytes"] = int(d)
    if dl:
        # Postfix next hop (postfix-count): delivered to discard, deferred/bounced, rejected by smtpd
        out.update({"delivered": int(dl), "deferred": int(df), "rejected": int(rj)})
    params = sorted(set(re.findall(r"^tls-params: (\S+) (\S+)", text, re.M)))
    if params:
        out["tls_params"] = [f"{v} {c}" for v, c in params]
    return out


_PF_CONNECT = re.compile(r"postfix/smtpd\[\d+\]: connect from ")
_PF_DISCONNECT_QUIT = re.compile(r"postfix/smtpd\[\d+\]: disconnect from .* quit=\d")
_PF_TLS = re.compile(r"postfix/smtpd\[\d+\]: \w* ?TLS connection established from \S+: (\S+) with cipher (\S+)")
_PF_TLS_FAIL = re.compile(r"postfix/smtpd\[\d+\]: SSL_accept error")
_PF_QUEUED = re.compile(r"postfix/qmgr\[\d+\]: (\w+): from=<[^>]+>, size=(\d+), nrcpt=\d+ \(queue active\)")
_PF_DELIVERED = re.compile(r"postfix/discard\[\d+\]: (\w+): to=<.*status=sent ")
_PF_NOT_DELIVERED = re.compile(r": (\w+): to=<.*status=(?:deferred|bounced) ")
_PF_REJECT = re.compile(r"postfix/smtpd\[\d+\]: \w+: reject: ")


def _postfix_counters(path: str) -> dict:
    """What a bench Postfix next hop logged (smtpd_tls_loglevel = 1): sessions,
    completed sessions (QUIT), TLS handshakes and their parameters, messages
    accepted (qmgr's "queue active": smtpd answered 250 after cleanup wrote
    them) with their queue-file sizes, deliveries to discard(8), deferrals or
    bounces, and smtpd rejections."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    queued = _PF_QUEUED.findall(text)
    tls = _PF_TLS.findall(text)
    return {"sessions": len(_PF_CONNECT.findall(text)), "quits": len(_PF_DISCONNECT_QUIT.findall(text)),
            "messages": len(queued), "data_bytes": sum(int(n) for _, n in queued),
            "tls": len(tls), "tls_failed": len(_PF_TLS_FAIL.findall(text)),
            "tls_params": sorted({f"{v} {c}" for v, c in tls}),
            "delivered": len(_PF_DELIVERED.findall(text)), "deferred": len(_PF_NOT_DELIVERED.findall(text)),
            "rejected": len(_PF_REJECT.findall(text))}


def cmd_postfix_count(a: argparse.Namespace) -> int:
    """Wait until at least --wait-delivered messages are delivered and every
    accepted one is (or, when fewer were accepted, until the log is quiet
    for --quiet s with all accepted ones delivered, or --timeout), then print
    the counter line (smtp-sink -c format plus tls/data/delivered fields)."""
    deadline = time.monotonic() + a.timeout
    last, quiet_since = None, time.monotonic()
    while True:
        c = _postfix_counters(a.log)
        now = time.monotonic()
        settled = c["delivered"] + c["deferred"] >= c["messages"]
        if settled and c["delivered"] >= a.wait_delivered:
            break
        key = (c["sessions"], c["messages"], c["delivered"], c["deferred"])
        if key != last:
            last, quiet_since = key, now
        if (settled and now - quiet_since >= a.quiet) or now >= deadline:
            break
        time.sleep(0.1)
    print(f"sess={c['sessions']} quit={c['quits']} mesg={c['messages']} tls={c['tls']} tlsfail={c['tls_failed']}"
          f" data={c['data_bytes']} delivered={c['delivered']} deferred={c['deferred']} rejected={c['rejected']}")
    for p in c["tls_params"]:
        print(f"tls-params: {p}")
    return 0


def _tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in session_members(pid))


def _settled_rss(pid: int, settle: float) -> int:
    """Median of the relay's summed RSS over the last second of a settle period."""
    time.sleep(max(0.0, settle - 1.0))
    xs = []
    for _ in range(10):
        xs.append(_tree_rss(pid))
        time.sleep(0.1)
    return int(statistics.median(xs))


def cmd_idle(a: argparse.Namespace) -> int:
    """Open --count SMTP sessions through the relay on --port (banner read, EHLO
    sent and answered), hold them, and measure the relay's RSS (sum over its
    processes) before and while they are open. Writes --out (JSON)."""
    import asyncio

    before = _settled_rss(a.relay_pid, a.settle)
    peak = {"rss": before}
    errors: list[str] = []

    async def reply(r: asyncio.StreamReader) -> bytes:
        while True:
            ln = await r.readline()
            if not ln:
                raise ConnectionError("connection closed")
            if len(ln) < 4 or ln[3:4] != b"-":
                return ln

    async def one(i: int, sem: asyncio.Semaphore):
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", a.port), a.io_timeout)
                banner = await asyncio.wait_for(reply(r), a.io_timeout)
                w.write(f"EHLO idle-{i}.bench.invalid\r\n".encode())
                ehlo = await asyncio.wait_for(reply(r), a.io_timeout)
                if not banner.startswith(b"220") or not ehlo.startswith(b"250"):
                    raise ConnectionError(f"banner {banner[:40]!r}, EHLO reply {ehlo[:40]!r}")
                return w
            except (OSError, ConnectionError, asyncio.TimeoutError) as e:
                errors.append(f"session {i}: {type(e).__name__}: {e}")
                return None

    async def sampler(stop: asyncio.Event):
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], _tree_rss(a.relay_pid))
            await asyncio.sleep(0.1)

    async def main():
        sem = asyncio.Semaphore(a.concurrency)
        stop = asyncio.Event()
        samp = asyncio.create_task(sampler(stop))
        t0 = time.monotonic()
        held = [w for w in await asyncio.gather(*(one(i, sem) for i in range(a.count))) if w is not None]
        opened = time.monotonic() - t0
        loop = asyncio.get_running_loop()
        rss = await loop.run_in_executor(None, _settled_rss, a.relay_pid, a.settle)
        relay_up = alive(a.relay_pid)
        stop.set()
        await samp
        for w in held:
            try:
                w.write(b"QUIT\r\n")
                w.close()
            except OSError:
                pass
        await asyncio.sleep(0.5)
        return held, opened, rss, relay_up

    held, opened, rss, relay_alive = asyncio.run(main())
    n = len(held)
    out = {"sessions_wanted": a.count, "sessions_held": n, "open_s": round(opened, 3),
           "rss_before_bytes": before, "rss_held_bytes": rss, "rss_peak_sampled_bytes": max(peak["rss"], rss),
           "cost_bytes": rss - before, "per_session_bytes": round((rss - before) / n) if n else None,
           "relay_alive": relay_alive, "errors": errors[:5], "error_count": len(errors),
           "settle_s": a.settle, "loadavg1_at_end": loadavg1()}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"idle: {n}/{a.count} sessions held (opened in {opened:.1f} s); relay RSS {before / MB:.1f} MB before,"
          f" {rss / MB:.1f} MB with them open: {(rss - before) / MB:.1f} MB,"
          f" {(rss - before) / n / 1000 if n else 0:.1f} KB per session"
          + (f"; {len(errors)} failed, first: {errors[0]}" if errors else ""))
    return 0


def _du(path: str | None) -> int | None:
    if not path or not os.path.isdir(path):
        return None
    total = 0
    for root, _dirs, files in os.walk(path):
        for n in files:
            try:
                total += os.lstat(os.path.join(root, n)).st_size
            except OSError:
                pass
    return total


_CONN_LOG_LINE = re.compile(r"^(tcp|ssl|http|https|autossl|upgrade|pop3|smtp)s? \d")


def _log_tail(path: str | None, n: int = 3) -> list[str]:
    """Last n meaningful lines of a relay log (sslsplit's per-connection lines left out)."""
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    keep = [ln.strip() for ln in lines if ln.strip() and not _CONN_LOG_LINE.match(ln)]
    return [ln[:300] for ln in keep[-n:]]


def cmd_record(a: argparse.Namespace) -> int:
    client = _load(a.client)
    tls_client = _load(a.client_tls)
    relay = _load(a.relay_stats) if a.relay_stats else None
    sink = _sink_counters(a.sink_out)
    rec: dict = {
        "run": a.run, "scenario": a.scenario, "relay": a.relay, "transport": a.transport,
        "messages": a.messages, "length": a.length, "sessions": a.sessions,
        "payload_bytes": a.messages * a.length,
        "ok": True, "problems": [],
    }
    problems = rec["problems"]
    if a.error:
        problems.append(a.error)
    if a.kind == "idle":
        return _record_idle(a, rec, relay)
    if not client:
        problems.append("client did not run")
    else:
        rec["elapsed_s"] = round(client["elapsed_s"], 4)
        if tls_client.get("elapsed_inner_s"):
            # smtptls.py is a Python program: its interpreter start-up and the
            # building of the message are not load. Its own monotonic clock runs
            # from starting the session threads to the last QUIT reply (like
            # smtp-source's wall time, whose start-up is ~1 ms); the wrapper's
            # wall time is kept as elapsed_wrapper_s.
            rec["elapsed_wrapper_s"] = rec["elapsed_s"]
            rec["elapsed_s"] = round(tls_client["elapsed_inner_s"], 4)
        rec["client_cpu_s"] = round(client["client_cpu_s"], 3)
        if client.get("sink_cpu_s") is not None:
            rec["sink_cpu_s"] = round(client["sink_cpu_s"], 3)
        if client.get("unattributed_cpu_s") is not None:
            rec["machine_busy_cpu_s"] = round(client["machine_busy_cpu_s"], 3)
            rec["unattributed_cpu_s"] = round(client["unattributed_cpu_s"], 3)
            rec["loadavg1_at_start"] = client["loadavg1_at_start"]
        if client.get("timed_out"):
            problems.append(f"client timed out after {client['timeout_s']}s")
        elif client.get("exit_code") != 0:
            problems.append(f"load client exit code {client.get('exit_code')}"
                            + (f" ({tls_client['errors'][0][:160]})" if tls_client.get("errors") else ""))
    if tls_client:
        rec["load_client"] = tls_client.get("client")
        rec["handshakes"] = tls_client.get("handshakes")
        rec["client_sessions"] = tls_client.get("sessions")
        rec["messages_sent"] = tls_client.get("messages_sent")
        if tls_client.get("handshake_s_mean") is not None:
            rec["handshake_ms_mean"] = round(tls_client["handshake_s_mean"] * 1000, 2)
        leg = tls_client.get("client_leg") or {}
        if leg:
            rec["tls_client_leg"] = f"{leg.get('version')} {leg.get('cipher')}"
            rec["tls_client_leg_cert_issuer"] = (leg.get("peer_cert") or {}).get("issuer")
    got_msgs = None if sink.get("messages") is None else sink["messages"] - a.sink_messages_before
    rec["sink_messages"] = got_msgs
    rec["sink_sessions_total"] = sink.get("sessions")
    if sink.get("quits") is not None:
        rec["sink_sessions_completed"] = sink["quits"] - a.sink_quits_before
    if client and got_msgs != a.messages:
        problems.append(f"sink received {got_msgs} of {a.messages} messages")
    if a.transport == "starttls":
        tls_got = sink.get("tls", 0) - a.sink_tls_before
        rec["sink_tls_handshakes"] = tls_got
        if sink.get("tls_params"):
            rec["tls_upstream_leg"] = ", ".join(sink["tls_params"])
        sessions = tls_client.get("sessions")
        if client and not problems and sessions is not None and tls_got != sessions:
            # every session must reach the sink encrypted (no plaintext fallback)
            problems.append(f"upstream leg: the sink completed {tls_got} TLS handshakes for {sessions} client sessions")
    if a.sink_kind == "postfix" and client:
        # no lost message: each message the client got 250 for was accepted
        # (queued) by Postfix and delivered once; the queue files held the payload
        rec["sink_delivered"] = sink.get("delivered", 0) - a.sink_delivered_before
        rec["sink_deferred"] = sink.get("deferred", 0)
        rec["sink_rejected"] = sink.get("rejected", 0)
        rec["lost_messages"] = max(0, (tls_client.get("messages_sent") or 0) - rec["sink_delivered"])
        if rec["sink_delivered"] != a.messages:
            problems.append(f"postfix delivered {rec['sink_delivered']} of {a.messages} messages"
                            f" (accepted {got_msgs}, deferred/bounced {rec['sink_deferred']})")
        if rec["sink_rejected"]:
            problems.append(f"postfix rejected {rec['sink_rejected']} command(s)")
        got = sink.get("data_bytes", 0) - a.sink_data_before
        rec["sink_bytes_read"] = got
        if got < a.messages * a.length:
            problems.append(f"postfix queued only {got} bytes < payload {a.messages * a.length}")
    if a.sink_rchar_before is not None and a.sink_rchar_after is not None:
        got = a.sink_rchar_after - a.sink_rchar_before
        rec["sink_bytes_read"] = got
        if client and got < a.messages * a.length:
            problems.append(f"sink read only {got} bytes < payload {a.messages * a.length}")
    if relay is not None:
        if not relay:
            problems.append("relay stats missing (supervisor did not finish)")
        else:
            base = client.get("relay_cpu_at_start_s") or 0.0
            end = client.get("relay_cpu_at_end_s")
            rec["relay_cpu_total_s"] = round(relay["cpu_total_s"], 3)
            if a.relay_cpu == "live" and end is not None and client.get("relay_cpu_at_start_s") is not None:
                # CPU of every live process of the relay (plus children it reaped)
                # at the end of the load minus at its start: sslsplit's worker
                # process is not reaped into the parent's rusage
                rec["relay_cpu_s"] = round(max(0.0, end - base), 3)
                rec["relay_cpu_method"] = "live"
            else:
                rec["relay_cpu_s"] = round(max(0.0, relay["cpu_total_s"] - base), 3)
                rec["relay_cpu_method"] = "exit"
            rec["relay_cpu_user_s"] = round(relay["cpu_user_s"], 3)
            rec["relay_cpu_sys_s"] = round(relay["cpu_sys_s"], 3)
            rec["relay_cpu_before_load_s"] = round(base, 3)
            single = relay["max_single_rss_bytes"]
            rec["relay_max_single_rss_mb"] = round(single / MB, 1)
            rec["relay_peak_tree_rss_mb"] = round(relay["peak_tree_rss_bytes"] / MB, 1)
            if relay.get("peak_tree_pss_bytes"):
                rec["relay_peak_tree_pss_mb"] = round(relay["peak_tree_pss_bytes"] / MB, 1)
            rec["relay_peak_rss_mb"] = round(max(single, relay["peak_tree_rss_bytes"]) / MB, 1)
            rec["relay_max_procs"] = relay["max_procs_seen"]
            rec["relay_exit"] = relay["exit_signal"] or relay["exit_code"]
            if relay["died_unexpectedly"]:
                rec["relay_died"] = {"exit_code": relay["exit_code"], "exit_signal": relay["exit_signal"],
                                     "alive_s": relay["wall_s"], "log_tail": _log_tail(a.relay_log)}
                problems.append("relay process exited unexpectedly (exit "
                                f"{relay['exit_signal'] or relay['exit_code']})")
            if relay["stop_phase"] == "kill":
                rec["note"] = "relay ignored SIGTERM, was SIGKILLed"
    tb = _du(a.transcripts)
    if tb is not None:
        rec["transcript_bytes"] = tb - a.transcript_bytes_before
    if "elapsed_s" in rec and rec["elapsed_s"] > 0:
        rec["msgs_per_s"] = round(a.messages / rec["elapsed_s"], 1)
        rec["mb_per_s"] = round(a.messages * a.length / rec["elapsed_s"] / MB, 2)
        if (rec.get("handshakes") or 0) > 1:
            rec["hs_per_s"] = round(rec["handshakes"] / rec["elapsed_s"], 1)
    rec["ok"] = not problems
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print("  " + _run_line(rec))
    if rec.get("relay_died") and rec["relay_died"]["log_tail"]:
        print("      relay log: " + " | ".join(rec["relay_died"]["log_tail"]))
    return 0


def _record_idle(a: argparse.Namespace, rec: dict, relay: dict | None) -> int:
    """Result line of the idle case (ti): the relay's RSS with N sessions held."""
    problems = rec["problems"]
    rec["kind"] = "idle"
    idle = _load(a.idle)
    if not idle:
        problems.append("idle sessions were not measured")
    else:
        rec.update({k: idle[k] for k in ("sessions_wanted", "sessions_held", "open_s", "error_count") if k in idle})
        rec["rss_before_mb"] = round(idle["rss_before_bytes"] / MB, 1)
        rec["rss_held_mb"] = round(idle["rss_held_bytes"] / MB, 1)
        rec["idle_cost_mb"] = round(idle["cost_bytes"] / MB, 1)
        if idle.get("per_session_bytes") is not None:
            rec["per_session_kb"] = round(idle["per_session_bytes"] / 1000, 1)
        rec["loadavg1_at_start"] = idle.get("loadavg1_at_end")
        if idle["sessions_held"] != idle["sessions_wanted"]:
            problems.append(f"{idle['sessions_held']} of {idle['sessions_wanted']} sessions held"
                            + (f" (first failure: {idle['errors'][0][:160]})" if idle.get("errors") else ""))
    if relay:
        single = relay["max_single_rss_bytes"]
        rec["relay_peak_rss_mb"] = round(max(single, relay["peak_tree_rss_bytes"]) / MB, 1)
        if relay["died_unexpectedly"]:
            rec["relay_died"] = {"exit_code": relay["exit_code"], "exit_signal": relay["exit_signal"],
                                 "alive_s": relay["wall_s"], "log_tail": _log_tail(a.relay_log)}
            problems.append(f"relay process exited unexpectedly (exit {relay['exit_signal'] or relay['exit_code']})")
    elif relay is not None:
        problems.append("relay stats missing (supervisor did not finish)")
    rec["ok"] = not problems
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    head = f"run {rec['run']} {rec['scenario']:<3} {rec['relay']:<12}"
    if problems:
        print(f"  {head} FAILED: {'; '.join(problems)}")
    else:
        print(f"  {head} {rec['sessions_held']} idle sessions: relay RSS {rec['rss_before_mb']:.1f} -> {rec['rss_held_mb']:.1f} MB"
              f" (+{rec['idle_cost_mb']:.1f} MB, {rec.get('per_session_kb', 0):.1f} KB/session), peak {rec['relay_peak_rss_mb']:.1f} MB"
              f"  [load {rec['loadavg1_at_start']:.1f}]")
    return 0


def _fmt(v, spec: str, dash: str = "-") -> str:
    return dash if v is None else format(v, spec)


def _run_line(r: dict) -> str:
    head = f"run {r['run']} {r['scenario']:<3} {r['relay']:<12}"
    if not r["ok"]:
        return f"{head} FAILED: {'; '.join(r['problems'])}"
    s = (f"{head} {r['elapsed_s']:8.3f} s {r['msgs_per_s']:9.1f} msg/s {r['mb_per_s']:8.2f} MB/s")
    if r.get("hs_per_s") is not None:
        s += f" {r['hs_per_s']:7.1f} hs/s"
    if "relay_cpu_s" in r:
        s += (f"  cpu {r['relay_cpu_s']:6.2f} s  peakRSS {r['relay_peak_rss_mb']:6.1f} MB"
              f" (1-proc max {r['relay_max_single_rss_mb']:.1f} MB, procs<= {r['relay_max_procs']})")
    if "relay_peak_tree_pss_mb" in r:
        s += f"  treePSS {r['relay_peak_tree_pss_mb']:.1f} MB"
    if "unattributed_cpu_s" in r:
        s += f"  [other cpu {r['unattributed_cpu_s']:.2f} s, load {r['loadavg1_at_start']:.1f}]"
    if "transcript_bytes" in r:
        s += f"  transcripts {r['transcript_bytes'] / MB:.1f} MB"
    return s


def _noisy(r: dict) -> bool:
    """Other CPU activity during the load above 10% of the machine (>= 0.05 s)."""
    ncpu = os.cpu_count() or 1
    return (r.get("unattributed_cpu_s") is not None and bool(r.get("elapsed_s"))
            and r["unattributed_cpu_s"] > max(0.05, 0.1 * r["elapsed_s"] * ncpu))


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def machine_info() -> dict:
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_mb"] = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return info


def cmd_summarize(a: argparse.Namespace) -> int:
    recs = []
    try:
        with open(a.results) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    except OSError:
        pass
    order_s = a.scenarios.split(",")
    order_r = a.relays.split(",")
    groups: dict = {}
    idle_recs = [r for r in recs if r.get("kind") == "idle"]
    for r in recs:
        if r.get("kind") != "idle":
            groups.setdefault((r["scenario"], r["relay"]), []).append(r)

    summary = []
    for sc in order_s:
        for rl in order_r:
            rs = groups.get((sc, rl))
            if rs is None:
                continue
            ok = [r for r in rs if r["ok"]]
            noisy = [r for r in ok if _noisy(r)]
            if a.drop_noisy:
                ok = [r for r in ok if not _noisy(r)]
            e = _median([r["elapsed_s"] for r in ok])
            first = rs[0]
            row = {"scenario": sc, "relay": rl, "runs": len(rs), "ok_runs": len(ok), "noisy_runs": len(noisy),
                   "messages": first["messages"], "length": first["length"], "sessions": first["sessions"],
                   "elapsed_s_median": e,
                   "elapsed_s_min": min((r["elapsed_s"] for r in ok), default=None),
                   "elapsed_s_max": max((r["elapsed_s"] for r in ok), default=None),
                   "msgs_per_s": round(first["messages"] / e, 1) if e else None,
                   "mb_per_s": round(first["messages"] * first["length"] / e / MB, 2) if e else None,
                   "handshakes": next((r.get("handshakes") for r in ok if r.get("handshakes")), None),
                   "transport": first.get("transport", "plain"),
                   "relay_cpu_s_median": _median([r.get("relay_cpu_s") for r in ok]),
                   "relay_peak_rss_mb_median": _median([r.get("relay_peak_rss_mb") for r in ok]),
                   "relay_peak_rss_mb_max": max((r["relay_peak_rss_mb"] for r in ok if "relay_peak_rss_mb" in r),
                                                default=None),
                   "relay_max_single_rss_mb_median": _median([r.get("relay_max_single_rss_mb") for r in ok]),
                   "relay_peak_tree_pss_mb_median": _median([r.get("relay_peak_tree_pss_mb") for r in ok]),
                   "transcript_bytes_median": _median([r.get("transcript_bytes") for r in ok]),
                   "failures": sorted({p for r in rs for p in r["problems"]})}
            row["hs_per_s"] = round(row["handshakes"] / e, 1) if e and (row["handshakes"] or 0) > 1 else None
            row["ok_run_numbers"] = [r["run"] for r in ok]
            summary.append(row)

    def row_of(sc, rl):
        return next((x for x in summary if x["scenario"] == sc and x["relay"] == rl), None)

    ratios = {}
    for sc in order_s:
        lens, soc = row_of(sc, "smtplens"), row_of(sc, "socat")
        if lens and soc and lens["elapsed_s_median"] and soc["elapsed_s_median"]:
            ratios[sc] = round(soc["elapsed_s_median"] / lens["elapsed_s_median"], 3)
        else:
            ratios[sc] = None

    # TLS: SmtpLens (smtplens-tls) against sslsplit, paired on the runs
    # sslsplit survived (same run numbers: same machine state, same order)
    by_cell = {}
    for r in recs:
        if r.get("kind") != "idle":
            by_cell.setdefault((r["scenario"], r["relay"]), []).append(r)

    def usable(rs):
        return [r for r in rs if r["ok"] and not (a.drop_noisy and _noisy(r))]

    # Plain: the same ratio per run number. The relays of one run number run back to back, so
    # drift in the machine's speed over the whole bench cancels out; shown next to the ratio of medians.
    paired = {}
    for sc in order_s:
        lens = {r["run"]: r["elapsed_s"] for r in usable(by_cell.get((sc, "smtplens"), []))}
        soc = {r["run"]: r["elapsed_s"] for r in usable(by_cell.get((sc, "socat"), []))}
        per_run = [round(soc[n] / lens[n], 3) for n in sorted(lens.keys() & soc.keys()) if lens[n]]
        if per_run:
            paired[sc] = {"median": round(_median(per_run), 3), "runs": per_run}

    tls_ratios = {}
    for sc in (order_s if "sslsplit" in order_r and "smtplens-tls" in order_r else []):
        lens_all = usable(by_cell.get((sc, "smtplens-tls"), []))
        ssl_all = by_cell.get((sc, "sslsplit"), [])
        if not lens_all and not ssl_all:
            continue
        ssl_ok = usable(ssl_all)
        survived = sorted({r["run"] for r in ssl_ok})
        lens = [r for r in lens_all if r["run"] in survived]
        item = {"sslsplit_runs": len(ssl_all), "sslsplit_ok_runs": len(ssl_ok), "paired_runs": survived,
                "smtplens_tls_ok_runs": len(lens_all)}
        if lens and ssl_ok:
            el, es = _median([r["elapsed_s"] for r in lens]), _median([r["elapsed_s"] for r in ssl_ok])
            cl, cs = _median([r.get("relay_cpu_s") for r in lens]), _median([r.get("relay_cpu_s") for r in ssl_ok])
            ml, ms = _median([r.get("relay_peak_rss_mb") for r in lens]), _median([r.get("relay_peak_rss_mb") for r in ssl_ok])
            item.update({
                "throughput": round(es / el, 3),
                "smtplens_tls_elapsed_s": el, "sslsplit_elapsed_s": es,
                "cpu": round(cl / cs, 2) if cl and cs else None,
                "smtplens_tls_cpu_s": cl, "sslsplit_cpu_s": cs,
                "peak_rss": round(ml / ms, 2) if ml and ms else None,
                "smtplens_tls_peak_rss_mb": ml, "sslsplit_peak_rss_mb": ms,
                "paired_smtplens_tls_runs": [r["run"] for r in lens]})
        tls_ratios[sc] = item

    # relays that exited on their own (sslsplit), per run: a finding, not a crash of the bench
    deaths = [r for r in recs if r.get("relay_died")]
    findings = []
    for rl in order_r:
        d = [r for r in deaths if r["relay"] == rl]
        if not d:
            continue
        total = len([r for r in recs if r["relay"] == rl])
        lines = []
        for r in d:
            how = r["relay_died"]["exit_signal"] or f"exit status {r['relay_died']['exit_code']}"
            phase = "during the warm-up" if any("warm-up" in p for p in r["problems"]) else "during the measured load"
            done = r.get("sink_sessions_completed")
            lines.append(f"run {r['run']} scenario {r['scenario']}: {how} {phase}, {r['relay_died']['alive_s']:.1f} s after start"
                         + (f", {done} session(s) of the load completed at the sink" if done is not None and phase != "during the warm-up" else "")
                         + (f"; log: {' | '.join(r['relay_died']['log_tail'])}" if r["relay_died"]["log_tail"] else ""))
        findings.append({"relay": rl, "died_runs": len(d), "runs": total, "details": lines})

    targets = []
    for sc in ("a", "b"):
        if sc in order_s and (row_of(sc, "smtplens") or row_of(sc, "socat")):
            r = ratios.get(sc)
            targets.append({"target": f"({sc}) SmtpLens throughput >= 0.8x socat",
                            "value": r, "holds": None if r is None else r >= 0.8})
    if "b" in order_s and row_of("b", "smtplens"):
        lens = row_of("b", "smtplens")
        v = lens["relay_peak_rss_mb_max"] if lens else None
        targets.append({"target": "(b) SmtpLens peak RSS < 100 MB", "value": v,
                        "holds": None if v is None else v < 100.0})
    if "tb" in order_s and "tb" in tls_ratios:
        v = tls_ratios["tb"].get("throughput")
        targets.append({"target": "(tb) SmtpLens bulk TLS throughput >= sslsplit (ratio >= 1.0, runs sslsplit survived)",
                        "value": v, "holds": None if v is None else v >= 1.0})

    # ------------------------------------------------------------ text output
    out = []
    out.append("")
    out.append("=" * 130)
    used = "successful, non-noisy" if a.drop_noisy else "successful"
    out.append(f"SUMMARY  (median of the {used} runs out of {a.runs} per cell; MB = 10^6 bytes of message payload;"
               f" relay CPU = user+sys during the load)")
    if a.quick:
        out.append("QUICK MODE: reduced message counts/sizes - figures are indicative only")
    out.append("=" * 130)
    hdr = (f"{'scen':<5}{'relay':<13}{'used/runs':>10}{'elapsed s':>11}{'min..max s':>17}{'msg/s':>10}"
           f"{'MB/s':>9}{'hs/s':>8}{'relay cpu s':>12}{'peak RSS MB':>12}{'1-proc MB':>10}{'tree PSS MB':>12}"
           f"{'transcr MB':>11}")
    out.append(hdr)
    out.append("-" * len(hdr))
    for x in summary:
        rng = (f"{x['elapsed_s_min']:.3f}..{x['elapsed_s_max']:.3f}" if x["elapsed_s_min"] is not None else "-")
        tb = x["transcript_bytes_median"]
        out.append(f"{x['scenario']:<5}{x['relay']:<13}{str(x['ok_runs']) + '/' + str(x['runs']):>10}"
                   f"{_fmt(x['elapsed_s_median'], '.3f'):>11}{rng:>17}{_fmt(x['msgs_per_s'], '.1f'):>10}"
                   f"{_fmt(x['mb_per_s'], '.2f'):>9}{_fmt(x['hs_per_s'], '.1f'):>8}"
                   f"{_fmt(x['relay_cpu_s_median'], '.2f'):>12}"
                   f"{_fmt(x['relay_peak_rss_mb_median'], '.1f'):>12}"
                   f"{_fmt(x['relay_max_single_rss_mb_median'], '.1f'):>10}"
                   f"{_fmt(x['relay_peak_tree_pss_mb_median'], '.1f'):>12}"
                   f"{_fmt(None if tb is None else tb / MB, '.1f'):>11}")
        for p in x["failures"]:
            out.append(f"{'':18}! {p}")
        if a.drop_noisy and x["noisy_runs"]:
            out.append(f"{'':18}! {x['noisy_runs']} noisy run(s) left out")
    out.append("")
    out.append("peak RSS MB = max(largest single-process VmHWM, sampled peak of the summed RSS of all processes")
    out.append("              of the relay). Single-process relay (SmtpLens): its VmHWM. socat (fork per connection):")
    out.append("              the sampled sum over parent + live children (measured load only, not the warm-up).")
    out.append("1-proc MB   = largest single process: relay VmHWM; for socat max(parent VmHWM, sampled child VmHWM).")
    out.append("tree PSS MB = sampled peak of the summed PSS (shared pages split) while >1 relay process existed.")
    if any(x["transport"] != "plain" for x in summary):
        out.append("hs/s        = client-side TLS handshakes (one STARTTLS per session) per second; an intercepting")
        out.append("              relay does two per session (client leg + upstream leg). Meaningful in tc (one")
        out.append("              session per message); in ta it is just 20 sessions / elapsed.")
        out.append("TLS rows    : client bench/smtptls.py (Python/OpenSSL; --client smtplib: through smtplib), next hop")
        out.append("              bench/smtptls.py sink or Postfix smtpd (--sink); elapsed = the client's own clock")
        out.append("              (interpreter start-up excluded); sslsplit's transcr MB = its connect+content logs.")
    out.append("")
    for sc in order_s:
        if ratios.get(sc) is not None:
            out.append(f"ratio SmtpLens/socat throughput ({sc}): {ratios[sc]:.3f}x")
            if paired.get(sc):
                pr = paired[sc]["runs"]
                out.append(f"  paired by run ({sc}): median {paired[sc]['median']:.3f}x over {len(pr)} run(s), "
                           f"{min(pr):.3f}..{max(pr):.3f}")
        elif row_of(sc, "smtplens") or row_of(sc, "socat"):
            out.append(f"ratio SmtpLens/socat throughput ({sc}): n/a")
    for sc, t in tls_ratios.items():
        head = f"ratio SmtpLens/sslsplit ({sc})"
        if t.get("throughput") is None:
            if t["sslsplit_runs"] == 0:
                why = "sslsplit not run"
            elif t["sslsplit_ok_runs"] == 0:
                why = f"sslsplit survived 0 of {t['sslsplit_runs']} run(s)"
            elif t["smtplens_tls_ok_runs"] == 0:
                why = "no successful smtplens-tls run"
            else:
                why = f"no successful smtplens-tls run paired with sslsplit's runs {t['paired_runs']}"
            out.append(f"{head}: n/a ({why})")
            continue
        out.append(f"{head}, on run(s) {','.join(map(str, t['paired_runs']))} that sslsplit survived"
                   f" ({t['sslsplit_ok_runs']} of {t['sslsplit_runs']}): throughput {t['throughput']:.3f}x"
                   f" (elapsed {t['smtplens_tls_elapsed_s']:.3f} s vs {t['sslsplit_elapsed_s']:.3f} s),"
                   f" relay CPU {_fmt(t['cpu'], '.2f')}x ({_fmt(t['smtplens_tls_cpu_s'], '.2f')} s vs"
                   f" {_fmt(t['sslsplit_cpu_s'], '.2f')} s), peak RSS {_fmt(t['peak_rss'], '.2f')}x"
                   f" ({_fmt(t['smtplens_tls_peak_rss_mb'], '.1f')} MB vs {_fmt(t['sslsplit_peak_rss_mb'], '.1f')} MB)")
    for sc in order_s:
        base = row_of(sc, "direct-tls")
        if not base or not base["elapsed_s_median"]:
            continue
        parts = []
        for rl in ("sslsplit", "smtplens-tls"):
            x = row_of(sc, rl)
            if x and x["elapsed_s_median"]:
                parts.append(f"{rl} {base['elapsed_s_median'] / x['elapsed_s_median']:.3f}x")
        if parts:
            out.append(f"throughput relative to direct-tls ({sc}): " + ", ".join(parts))
    for sc in order_s:
        parts = []
        for rl in order_r:
            x = row_of(sc, rl)
            if (x and x["transport"] != "plain" and x["relay_cpu_s_median"] is not None
                    and (x["handshakes"] or 0) > 1 and x["handshakes"] == x["messages"]):
                parts.append(f"{rl} {x['relay_cpu_s_median'] / x['handshakes'] * 1000:.2f} ms")
        if parts:
            out.append(f"relay CPU per TLS session ({sc}: median relay cpu s / sessions, 1 message each): " + ", ".join(parts))
    legs = {}
    for r in recs:
        if r.get("transport") == "starttls" and r.get("tls_client_leg") and r["relay"] not in legs:
            legs[r["relay"]] = (f"client leg {r['tls_client_leg']} (certificate issuer: {r.get('tls_client_leg_cert_issuer')}),"
                                f" upstream leg at the sink {r.get('tls_upstream_leg', '?')}")
    for rl in order_r:
        if rl in legs:
            out.append(f"TLS {rl}: {legs[rl]}")
    for t in targets:
        verdict = {True: "HOLDS", False: "MISSED", None: "NOT MEASURED"}[t["holds"]]
        val = "" if t["value"] is None else f" (measured {t['value']})"
        out.append(f"target {t['target']}: {verdict}{val}")
    for f in findings:
        out.append(f"FINDING: {f['relay']} exited on its own in {f['died_runs']} of {f['runs']} run(s)"
                   " (recorded as FAILED runs, left out of the medians; each run starts a fresh relay):")
        for ln in f["details"]:
            out.append(f"    {ln}")
    ncpu = os.cpu_count() or 1
    busy = [r for r in recs if r["ok"] and _noisy(r)]
    if busy:
        out.append(f"WARNING: {len(busy)} of {len(recs)} run(s) saw other CPU activity > 10% of the machine during the"
                   " load (foreign processes, or kernel softirq network work); see 'other cpu' per run"
                   + (" - left out of the medians (--drop-noisy)" if a.drop_noisy else
                      "; --drop-noisy leaves them out of the medians"))
    loads = [r["loadavg1_at_start"] for r in recs if "loadavg1_at_start" in r]
    if loads and max(loads) > 0.5 * ncpu:
        out.append(f"WARNING: 1-min load average up to {max(loads):.1f} on {ncpu} CPUs at the start of a run:"
                   " the machine was probably not idle; figures may be noisy")
    if a.unavailable:
        for u in a.unavailable:
            out.append(f"not run: {u}")
    i14 = _issue14_section(a, recs, idle_recs, usable)
    out.extend(i14["lines"])
    text = "\n".join(out)
    print(text)

    if a.json:
        report = {"machine": machine_info(), "tools": dict(t.split("=", 1) for t in a.tool if "=" in t),
                  "config": {"runs": a.runs, "quick": a.quick, "drop_noisy": a.drop_noisy, "scenarios": order_s, "relays": order_r},
                  "unavailable": a.unavailable or [], "summary": summary,
                  "ratios_smtplens_over_socat_throughput": ratios,
                  "paired_ratios_smtplens_over_socat_throughput": paired,
                  "ratios_smtplens_tls_over_sslsplit": tls_ratios, "findings": findings,
                  "targets": targets, "issue14": {"rows": i14["rows"], "idle": i14["idle"], "targets": i14["targets"]},
                  "runs": recs}
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON report written to {a.json}")
    return 0


# Issue 14's targets for SmtpLens (smtplens-tls): (name, limit, aim, higher_is_better)
_I14_CPU = (4.45, 2.2)       # ms of relay CPU per intercepted one-message session (sslsplit's, half of it)
_I14_SMALL = (0.46, 0.6)     # small-message msg/s as a fraction of direct
_I14_RSS = (100.0, 50.0)     # MB peak RSS, small load and 50 MB
_I14_IDLE = 64.0             # MB for 1,000 idle sessions
_I14_BIG = 1.2               # 50 MB wall time relative to direct


def _issue14_section(a: argparse.Namespace, recs: list, idle_recs: list, usable) -> dict:
    """Issue 14's table: small (tc), 50 MB (td) and idle (ti) cases with ratios to
    direct, haproxy and sslsplit (on the runs sslsplit survived), CPU per message,
    peak RSS, lost messages, and one line per target."""
    tools = dict(t.split("=", 1) for t in a.tool if "=" in t)
    cases = []
    for sc in ("tc", "td"):
        first = next((x for x in recs if x["scenario"] == sc), None)
        if first:
            cases.append((sc, "small" if sc == "tc" else f"{first['length'] / MB:.0f} MB"))
    lines: list[str] = []
    rows: list[dict] = []
    idle_rows: list[dict] = []
    targets: list[dict] = []
    if not cases and not idle_recs:
        return {"lines": lines, "rows": rows, "idle": idle_rows, "targets": targets}
    relays = [r for r in a.relays.split(",") if r in ("direct-tls", "haproxy-tcp", "sslsplit", "smtplens-tls")]
    relays += [r for r in a.relays.split(",") if r not in relays and any(x["relay"] == r for x in recs)]

    def cell(sc, rl):
        return [r for r in recs if r["scenario"] == sc and r["relay"] == rl and r.get("kind") != "idle"]

    lines.append("")
    lines.append("=" * 130)
    lines.append(f"ISSUE 14  TLS {tools.get('tls_max', '?')} on both legs; next hop {tools.get('tls_sink', '?')}"
                 f" ({'Postfix ' + tools.get('postfix', '?') + ' smtpd, STARTTLS' if tools.get('tls_sink') == 'postfix' else 'bench/smtptls.py sink'});"
                 f" load client {'stdlib smtplib' if tools.get('tls_client') == 'smtplib' else 'smtptls.py (raw sockets)'};"
                 f" medians over the successful runs")
    lines.append("=" * 130)
    hdr = (f"{'case':<7}{'path':<14}{'ok/runs':>8}{'wall s':>9}{'msg/s':>9}{'vs direct':>11}{'vs haproxy':>12}"
           f"{'vs sslsplit':>13}{'cpu/msg ms':>12}{'peak RSS MB':>13}{'lost':>6}{'load':>7}")
    for sc, name in cases:
        lines.append(hdr if sc == cases[0][0] else "")
        if sc != cases[0][0]:
            lines.append(hdr)
        lines.append("-" * len(hdr))
        big = sc != "tc"
        ref = {}
        for rl in ("direct-tls", "haproxy-tcp", "sslsplit"):
            ref[rl] = _median([r["elapsed_s"] for r in usable(cell(sc, rl))])
        ssl_ok = sorted({r["run"] for r in usable(cell(sc, "sslsplit"))})
        for rl in relays:
            rs = cell(sc, rl)
            if not rs:
                continue
            ok = usable(rs)
            e = _median([r["elapsed_s"] for r in ok])
            n = rs[0]["messages"]
            cpu = _median([r.get("relay_cpu_s") for r in ok])
            rss = _median([r.get("relay_peak_rss_mb") for r in ok])
            lost = sum(r.get("lost_messages", 0) for r in rs) if any("lost_messages" in r for r in rs) else None

            def ratio(other, mine):
                if not other or not mine:
                    return None
                return round(mine / other, 3) if big else round(other / mine, 3)

            vs = {k: (None if k == rl else ratio(ref[k], e)) for k in ("direct-tls", "haproxy-tcp")}
            if rl == "sslsplit" or not ssl_ok:
                vs["sslsplit"] = None
            else:
                vs["sslsplit"] = ratio(ref["sslsplit"], _median([r["elapsed_s"] for r in ok if r["run"] in ssl_ok]))
            row = {"case": name, "scenario": sc, "relay": rl, "runs": len(rs), "ok_runs": len(ok), "wall_s": e,
                   "msgs_per_s": round(n / e, 1) if e else None,
                   "vs_direct": vs["direct-tls"], "vs_haproxy": vs["haproxy-tcp"], "vs_sslsplit": vs["sslsplit"],
                   "vs_sslsplit_runs": ssl_ok,
                   "cpu_per_msg_ms": round(cpu / n * 1000, 2) if cpu is not None and n else None,
                   "peak_rss_mb": rss, "lost_messages": lost,
                   "load": _median([r.get("loadavg1_at_start") for r in ok])}
            rows.append(row)
            lines.append(f"{name:<7}{rl:<14}{str(len(ok)) + '/' + str(len(rs)):>8}{_fmt(e, '.3f'):>9}"
                         f"{_fmt(row['msgs_per_s'], '.1f'):>9}{_fmt(vs['direct-tls'], '.3f'):>11}"
                         f"{_fmt(vs['haproxy-tcp'], '.3f'):>12}{_fmt(vs['sslsplit'], '.3f'):>13}"
                         f"{_fmt(row['cpu_per_msg_ms'], '.2f'):>12}{_fmt(rss, '.1f'):>13}{_fmt(lost, 'd'):>6}"
                         f"{_fmt(row['load'], '.1f'):>7}")
    if cases:
        lines.append("vs X: small = msg/s ratio (X's wall / this wall, higher is better); 50 MB = wall ratio (this wall /"
                     " X's wall, lower is better); vs sslsplit only on the runs sslsplit survived.")
        lines.append("cpu/msg = relay CPU during the load / messages (small: one message per session, so per intercepted"
                     " session); lost = messages the client got 250 for that the next hop did not deliver (all runs);"
                     " load = 1-min load average at the start of the load.")
    if idle_recs:
        lines.append("")
        ih = (f"{'case':<7}{'path':<14}{'ok/runs':>8}{'sessions':>10}{'open s':>8}{'RSS before MB':>15}{'RSS held MB':>13}"
              f"{'cost MB':>9}{'KB/session':>12}{'vs haproxy':>12}{'vs sslsplit':>13}{'peak MB':>9}{'load':>7}")
        lines.append(ih)
        lines.append("-" * len(ih))
        ref_cost = {rl: _median([r.get("idle_cost_mb") for r in idle_recs if r["relay"] == rl and r["ok"]])
                    for rl in ("haproxy-tcp", "sslsplit")}
        for rl in relays:
            rs = [r for r in idle_recs if r["relay"] == rl]
            if not rs:
                continue
            ok = [r for r in rs if r["ok"]]
            cost = _median([r.get("idle_cost_mb") for r in ok])
            vs = {k: (round(cost / v, 2) if k != rl and cost is not None and v else None) for k, v in ref_cost.items()}
            row = {"relay": rl, "runs": len(rs), "ok_runs": len(ok),
                   "sessions": rs[0].get("sessions_wanted", rs[0]["sessions"]),
                   "rss_before_mb": _median([r.get("rss_before_mb") for r in ok]),
                   "rss_held_mb": _median([r.get("rss_held_mb") for r in ok]),
                   "cost_mb": cost, "open_s": _median([r.get("open_s") for r in ok]),
                   "cost_vs_haproxy": vs["haproxy-tcp"], "cost_vs_sslsplit": vs["sslsplit"],
                   "per_session_kb": _median([r.get("per_session_kb") for r in ok]),
                   "peak_rss_mb": _median([r.get("relay_peak_rss_mb") for r in ok]),
                   "load": _median([r.get("loadavg1_at_start") for r in ok])}
            idle_rows.append(row)
            lines.append(f"{'idle':<7}{rl:<14}{str(len(ok)) + '/' + str(len(rs)):>8}{row['sessions']:>10}"
                         f"{_fmt(row['open_s'], '.1f'):>8}"
                         f"{_fmt(row['rss_before_mb'], '.1f'):>15}{_fmt(row['rss_held_mb'], '.1f'):>13}"
                         f"{_fmt(row['cost_mb'], '.1f'):>9}{_fmt(row['per_session_kb'], '.1f'):>12}"
                         f"{_fmt(vs['haproxy-tcp'], '.2f'):>12}{_fmt(vs['sslsplit'], '.2f'):>13}"
                         f"{_fmt(row['peak_rss_mb'], '.1f'):>9}{_fmt(row['load'], '.1f'):>7}")
            for p in sorted({p for r in rs for p in r["problems"]}):
                lines.append(f"{'':21}! {p}")
        lines.append("idle: sessions held through the relay (banner + EHLO read), opened 50 at a time in 'open s';"
                     " RSS = summed RSS of the relay's processes, median of 1 s after 3 s settling, before opening"
                     " them and with them open; cost = held - before; vs X = cost / X's cost.")

    def row(sc, rl):
        return next((x for x in rows if x["scenario"] == sc and x["relay"] == rl), None)

    def judge(name, value, limit, aim=None, higher=False, unit=""):
        if value is None:
            targets.append({"target": name, "value": None, "holds": None, "aim_holds": None})
            return
        ok = value >= limit if higher else value <= limit
        aim_ok = None if aim is None else (value >= aim if higher else value <= aim)
        targets.append({"target": name, "value": value, "holds": ok, "aim_holds": aim_ok})

    lens_small, lens_big = row("tc", "smtplens-tls"), row("td", "smtplens-tls")
    if lens_small:
        judge("proxy CPU per intercepted session <= 4.45 ms (aim <= 2.2)", lens_small["cpu_per_msg_ms"], *_I14_CPU)
        judge("small msg/s >= 0.46x direct (aim >= 0.6x)", lens_small["vs_direct"], *_I14_SMALL, higher=True)
        judge("peak RSS on the small load <= 100 MB (aim <= 50)", lens_small["peak_rss_mb"], *_I14_RSS)
    if lens_big:
        judge("peak RSS on 50 MB <= 100 MB (aim <= 50)", lens_big["peak_rss_mb"], *_I14_RSS)
        judge("50 MB wall <= 1.2x direct", lens_big["vs_direct"], _I14_BIG)
    lens_idle = next((x for x in idle_rows if x["relay"] == "smtplens-tls"), None)
    if lens_idle:
        cost = lens_idle["cost_mb"]
        if cost is not None and lens_idle["sessions"] != 1000:
            cost = round(cost * 1000 / lens_idle["sessions"], 1)   # scaled to 1,000 sessions
        judge("1,000 idle sessions cost < 64 MB", cost, _I14_IDLE)
    lens_runs = [r for r in recs if r["relay"] == "smtplens-tls" and r["scenario"] in ("tc", "td")]
    if lens_runs:
        lost = sum(r.get("lost_messages", 0) for r in lens_runs)
        short = [r for r in lens_runs if r.get("sink_messages") is not None and r["sink_messages"] != r["messages"]]
        judge("no lost message in any run (messages not delivered + runs short of messages)", lost + len(short), 0)
    if targets:
        lines.append("")
        lines.append(f"targets (issue 14, SmtpLens = smtplens-tls, TLS {tools.get('tls_max', '?')}):")
        for t in targets:
            verdict = {True: "held", False: "MISSED", None: "not measured"}[t["holds"]]
            aim = "" if t["aim_holds"] is None else f"; aim {'held' if t['aim_holds'] else 'missed'}"
            val = "" if t["value"] is None else f" (measured {t['value']}{aim})"
            lines.append(f"  target {t['target']}: {verdict}{val}")
        if not a.quick and a.runs < 3:
            lines.append(f"  (issue 14 judges medians of at least three runs; this bench ran {a.runs})")
    return {"lines": lines, "rows": rows, "idle": idle_rows, "targets": targets}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)

    s = sub.add_parser("freeport")
    s.add_argument("n", type=int, nargs="?", default=1)
    s.set_defaults(fn=cmd_freeport)

    s = sub.add_parser("wait-listen")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--pid", type=int, default=0, help="fail early if this process exits")
    s.add_argument("--timeout", type=float, default=30)
    s.set_defaults(fn=cmd_wait_listen)

    s = sub.add_parser("supervise")
    s.add_argument("--stats", required=True, help="JSON written when the process has exited")
    s.add_argument("--pidfile", required=True)
    s.add_argument("--log", help="stdout+stderr of the process")
    s.add_argument("--interval", type=float, default=0.1, help="RSS sampling interval (s)")
    s.add_argument("--quiesce", type=float, default=3.0,
                   help="on stop: wait up to this long for forked children to finish")
    s.add_argument("--grace", type=float, default=10.0, help="SIGTERM -> SIGKILL grace (s)")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_supervise)

    s = sub.add_parser("client")
    s.add_argument("--out", required=True)
    s.add_argument("--log")
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("--relay-pid", type=int, default=0)
    s.add_argument("--sink-pid", type=int, default=0)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_client)

    s = sub.add_parser("wait-idle")
    s.add_argument("--max-wait", type=float, default=60)
    s.add_argument("--threshold", type=float, default=0.15)
    s.set_defaults(fn=cmd_wait_idle)

    s = sub.add_parser("quiesce")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--timeout", type=float, default=3)
    s.set_defaults(fn=cmd_quiesce)

    s = sub.add_parser("proc-rchar")
    s.add_argument("pid", type=int)
    s.set_defaults(fn=cmd_proc_rchar)

    s = sub.add_parser("sink-count", help="counters so far in smtp-sink -c (or smtptls.py sink) output")
    s.add_argument("--fields", default="messages", help="comma separated: sessions,quits,messages,tls,tls_failed,data_bytes,delivered")
    s.add_argument("file")
    s.set_defaults(fn=cmd_sink_count)

    s = sub.add_parser("postfix-count", help="counter line of a bench Postfix next hop, from its log")
    s.add_argument("--log", required=True)
    s.add_argument("--wait-delivered", type=int, default=0, help="wait until this many messages are delivered")
    s.add_argument("--quiet", type=float, default=3.0, help="or until the log has been quiet this long")
    s.add_argument("--timeout", type=float, default=60.0)
    s.set_defaults(fn=cmd_postfix_count)

    s = sub.add_parser("idle", help="hold N sessions through a relay, report its RSS per session")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=1000)
    s.add_argument("--relay-pid", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--concurrency", type=int, default=50, help="sessions being opened at a time")
    s.add_argument("--settle", type=float, default=3.0, help="seconds before each RSS reading")
    s.add_argument("--io-timeout", type=float, default=30.0)
    s.set_defaults(fn=cmd_idle)

    s = sub.add_parser("du", help="total size of the files under a directory")
    s.add_argument("path")
    s.set_defaults(fn=cmd_du)

    s = sub.add_parser("record")
    s.add_argument("--results", required=True)
    s.add_argument("--run", type=int, required=True)
    s.add_argument("--scenario", required=True)
    s.add_argument("--relay", required=True)
    s.add_argument("--messages", type=int, required=True)
    s.add_argument("--length", type=int, required=True)
    s.add_argument("--sessions", type=int, required=True)
    s.add_argument("--client")
    s.add_argument("--relay-stats")
    s.add_argument("--sink-out", required=True)
    s.add_argument("--sink-messages-before", type=int, default=0,
                   help="sink counter before the measured load (warm-up messages)")
    s.add_argument("--sink-rchar-before", type=int)
    s.add_argument("--sink-rchar-after", type=int)
    s.add_argument("--transcripts")
    s.add_argument("--transcript-bytes-before", type=int, default=0)
    s.add_argument("--transport", default="plain")
    s.add_argument("--client-tls", help="JSON report of bench/smtptls.py client")
    s.add_argument("--sink-tls-before", type=int, default=0)
    s.add_argument("--sink-quits-before", type=int, default=0)
    s.add_argument("--relay-log")
    s.add_argument("--relay-cpu", choices=("exit", "live"), default="exit")
    s.add_argument("--sink-kind", default="smtp_sink", help="smtp_sink | smtptls | postfix")
    s.add_argument("--sink-data-before", type=int, default=0)
    s.add_argument("--sink-delivered-before", type=int, default=0)
    s.add_argument("--kind", choices=("load", "idle"), default="load")
    s.add_argument("--idle", help="JSON of measure.py idle (kind idle)")
    s.add_argument("--error")
    s.set_defaults(fn=cmd_record)

    s = sub.add_parser("summarize")
    s.add_argument("--results", required=True)
    s.add_argument("--scenarios", required=True)
    s.add_argument("--relays", required=True)
    s.add_argument("--runs", type=int, required=True)
    s.add_argument("--quick", action="store_true")
    s.add_argument("--drop-noisy", action="store_true", help="leave noisy runs out of the medians")
    s.add_argument("--json")
    s.add_argument("--tool", action="append", default=[], help="KEY=VALUE (tool versions etc.), repeatable")
    s.add_argument("--unavailable", action="append")
    s.set_defaults(fn=cmd_summarize)

    a = p.parse_args()
    if getattr(a, "cmd", None) and a.cmd and a.cmd[0] == "--":
        a.cmd = a.cmd[1:]
    try:
        return a.fn(a)
    except KeyboardInterrupt:
        # no traceback on Ctrl-C; die from SIGINT so the calling shell sees it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130


if __name__ == "__main__":
    sys.exit(main())
