#!/usr/bin/env python3
"""SmtpLens soak and idle-memory benchmark (stdlib only, Linux, loopback only).

It produces figures, it is not a test (exit 0 unless the environment is broken).
It starts the proxy itself (Release binary, transcripts on, TLS interception
with a throw-away CA) in front of an in-process scripted upstream on
127.0.0.1, then:

  soak   (default) holds --idle connections open (banner + EHLO read) while
         --sessions sessions run, --concurrency at a time, a random mix of
         healthy sessions and faults (client close / reset / stall at a
         random stage, garbage, over-long lines, TLS garbage after STARTTLS,
         upstream close / reset / stall at a random stage, keyed by the EHLO
         name). Prints sessions/s, peak RSS, threads, banner latency
         percentiles of the healthy sessions, RSS baseline before and after,
         and whether any healthy message was lost or any message falsely
         acknowledged (a 250 the upstream never sent).
  idle   (--idle-only) opens --idle connections and reports the RSS per idle
         session. With --idle-tls 1.2|1.3 each idle connection first does
         STARTTLS (TLS on both legs: the scripted upstream answers with the
         throw-away CA's certificate), then EHLO again, and sits.

Run it through bench/soak.sh (builds the proxy first).
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
CLIENT_STAGES = ["connect", "banner", "ehlo", "mail", "rcpt", "data", "body", "dot"]
UPSTREAM_STAGES = ["ehlo", "mail", "rcpt", "data", "dot"]
HEALTHY_TIMEOUT = 60.0  # a healthy session that takes longer counts as failed
FAULT_TIMEOUT = 8.0     # how long a faulted client waits for the proxy before giving up


# --------------------------------------------------------------------------- /proc

def status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def mb(kb: int | None) -> str:
    return "?" if kb is None else f"{kb / 1000:.1f}"


# --------------------------------------------------------------------------- helpers

def rst(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


def close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
    except Exception:  # noqa: BLE001 - already gone
        pass


async def reply(reader: asyncio.StreamReader, timeout: float) -> tuple[int, bytes]:
    """One SMTP reply (multi-line aware): (code, last line)."""
    while True:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
        if len(line) < 4 or line[3:4] != b"-":
            try:
                return int(line[:3]), line
            except ValueError:
                return -1, line


def message(n: int, rng: random.Random) -> tuple[str, bytes]:
    """A message whose bytes exercise dot-stuffing, 8-bit and long-ish lines; returns (id, wire payload)."""
    mid = f"soak-{n}-{rng.getrandbits(32):08x}@bench.test"
    lines = [f"Message-ID: <{mid}>", "From: <a@bench.test>", "To: <b@bench.test>", "Subject: soak", ""]
    size = rng.choice([300, 2_000, 8_000, 40_000])
    body = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.1:
            line = ".." + "x" * rng.randint(0, 40)          # dot-stuffed line
        elif kind < 0.15:
            line = "caf\u00e9 \u00fcber " * rng.randint(1, 5)  # 8-bit
        else:
            line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(0, 998)))
        body.append(line)
        total += len(line) + 2
    payload = ("\r\n".join(lines + body) + "\r\n").encode("utf-8")
    return mid, payload


# --------------------------------------------------------------------------- upstream

class Upstream:
    """Scripted next hop: accepts everything, or faults at the stage named in the EHLO argument
    (EHLO u-KIND-STAGE.test with KIND close|reset|stall)."""

    def __init__(self, stall: float) -> None:
        self.acked: dict[str, str] = {}  # Message-ID -> sha256 of the payload it answered 250 to
        self.stall = stall
        self.connections = 0
        self.tls: ssl.SSLContext | None = None  # set for --idle-tls: STARTTLS from an idle-tls EHLO gets real TLS
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, HOST, 0, limit=1 << 20, backlog=1024)
        return self.server.sockets[0].getsockname()[1]

    async def fault(self, plan, stage, writer) -> bool:
        if plan is None or plan[1] != stage:
            return False
        if plan[0] == "stall":
            await asyncio.sleep(self.stall)
        if plan[0] == "reset":
            rst(writer)
        else:
            close(writer)
        return True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        plan = None
        try:
            writer.write(b"220 upstream.bench.test ESMTP soak\r\n")
            while True:
                line = await reader.readuntil(b"\n")
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    m = re.match(rb"u-(close|reset|stall)-(\w+)\.", line[5:].strip())
                    plan = (m.group(1).decode(), m.group(2).decode()) if m else None
                    if line[5:].strip() == IDLE_TLS_NAME:
                        plan = ("tls", "")
                    if await self.fault(plan, "ehlo", writer):
                        return
                    writer.write(b"250-upstream.bench.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SIZE 100000000\r\n")
                elif verb == b"MAIL":
                    if await self.fault(plan, "mail", writer):
                        return
                    writer.write(b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    if await self.fault(plan, "rcpt", writer):
                        return
                    writer.write(b"250 2.1.5 ok\r\n")
                elif verb == b"DATA":
                    if await self.fault(plan, "data", writer):
                        return
                    writer.write(b"354 go ahead\r\n")
                    data = await reader.readuntil(b"\r\n.\r\n")
                    payload = data[:-3]
                    if await self.fault(plan, "dot", writer):
                        return
                    m = re.search(rb"Message-ID: <([^>]+)>", payload)
                    if m:
                        self.acked[m.group(1).decode()] = hashlib.sha256(payload).hexdigest()
                    writer.write(b"250 2.0.0 queued\r\n")
                elif verb == b"STAR":
                    writer.write(b"220 2.0.0 ready to start TLS\r\n")
                    await writer.drain()
                    if plan == ("tls", "") and self.tls is not None:
                        await writer.start_tls(self.tls)
                        plan = None
                        continue
                    # No TLS here: anything that arrives (a ClientHello from the proxy) is refused by closing.
                    await reader.read(1)
                    return
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 bye\r\n")
                    await writer.drain()
                    return
                elif verb in (b"NOOP", b"RSET"):
                    writer.write(b"250 2.0.0 ok\r\n")
                else:
                    writer.write(b"500 5.5.2 unrecognized\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            pass
        finally:
            close(writer)


# --------------------------------------------------------------------------- clients

class Stats:
    def __init__(self) -> None:
        self.banner_ms: list[float] = []
        self.healthy = 0
        self.healthy_ok = 0
        self.healthy_failed: dict[str, int] = {}
        self.sent: dict[str, str] = {}        # healthy Message-ID -> sha256 of what the client sent
        self.client_acked: dict[str, bool] = {}  # every Message-ID the client got a 250 for -> healthy?
        self.faults: dict[str, int] = {}
        self.fault_errors = 0


async def healthy_session(port: int, n: int, rng: random.Random, st: Stats) -> None:
    st.healthy += 1
    stage = "connect"
    writer = None
    try:
        t0 = time.monotonic()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), HEALTHY_TIMEOUT)
        stage = "banner"
        code, _ = await reply(reader, HEALTHY_TIMEOUT)
        st.banner_ms.append((time.monotonic() - t0) * 1000)
        assert code == 220, f"banner {code}"
        for stage, cmd, want in (("ehlo", f"EHLO h-{n}.test", 250), ("mail", "MAIL FROM:<a@bench.test>", 250),
                                 ("rcpt", "RCPT TO:<b@bench.test>", 250), ("data", "DATA", 354)):
            writer.write(cmd.encode() + b"\r\n")
            code, _ = await reply(reader, HEALTHY_TIMEOUT)
            assert code == want, f"{stage} {code}"
        mid, payload = message(n, rng)
        st.sent[mid] = hashlib.sha256(payload).hexdigest()
        stage = "dot"
        writer.write(payload + b".\r\n")
        code, _ = await reply(reader, HEALTHY_TIMEOUT)
        if code == 250:
            st.client_acked[mid] = True
        assert code == 250, f"dot {code}"
        stage = "quit"
        writer.write(b"QUIT\r\n")
        code, _ = await reply(reader, HEALTHY_TIMEOUT)
        assert code == 221, f"quit {code}"
        st.healthy_ok += 1
    except (AssertionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as e:
        key = f"{stage}: {type(e).__name__} {e}".strip()[:80]
        st.healthy_failed[key] = st.healthy_failed.get(key, 0) + 1
    finally:
        if writer is not None:
            close(writer)


async def end(writer, how: str, rng: random.Random) -> None:
    if how == "stall":
        await asyncio.sleep(rng.uniform(1.0, 5.0))
        close(writer)
    elif how == "reset":
        rst(writer)
    else:
        close(writer)


async def faulty_session(port: int, n: int, rng: random.Random, st: Stats) -> None:
    kind = rng.choice(["client", "client", "client", "upstream", "upstream", "garbage", "overlong", "tls-garbage"])
    how = rng.choice(["close", "reset", "stall"])
    stage = rng.choice(CLIENT_STAGES) if kind == "client" else rng.choice(UPSTREAM_STAGES) if kind == "upstream" else ""
    label = f"{kind}-{how}-{stage}" if kind in ("client", "upstream") else kind
    st.faults[label] = st.faults.get(label, 0) + 1
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), FAULT_TIMEOUT)
        if kind == "client" and stage == "connect":
            return await end(writer, how, rng)
        await reply(reader, FAULT_TIMEOUT)
        if kind == "client" and stage == "banner":
            return await end(writer, how, rng)
        if kind == "garbage":
            writer.write(os.urandom(rng.randint(16, 4096)))
            await writer.drain()
            await asyncio.sleep(0.2)
            return close(writer)
        name = f"u-{how}-{stage}.test" if kind == "upstream" else f"f-{n}.test"
        writer.write(f"EHLO {name}\r\n".encode())
        await reply(reader, FAULT_TIMEOUT)
        if kind == "client" and stage == "ehlo":
            return await end(writer, how, rng)
        if kind == "overlong":
            writer.write(b"MAIL FROM:<" + b"o" * rng.randint(17_000, 70_000) + b"@bench.test>\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.read(4096), FAULT_TIMEOUT)
            return close(writer)
        if kind == "tls-garbage":
            writer.write(b"STARTTLS\r\n")
            code, _ = await reply(reader, FAULT_TIMEOUT)
            if code == 220:
                writer.write(os.urandom(rng.randint(5, 3000)))
                await writer.drain()
                await asyncio.wait_for(reader.read(4096), FAULT_TIMEOUT)
            return close(writer)
        for step, cmd in (("mail", "MAIL FROM:<a@bench.test>"), ("rcpt", "RCPT TO:<b@bench.test>"), ("data", "DATA")):
            writer.write(cmd.encode() + b"\r\n")
            code, _ = await reply(reader, FAULT_TIMEOUT)
            if kind == "client" and stage == step:
                return await end(writer, how, rng)
            if code < 200 or code >= 400:
                return close(writer)
        mid, payload = message(n, rng)
        if kind == "client" and stage == "body":
            writer.write(payload[: len(payload) // 2])
            await writer.drain()
            return await end(writer, how, rng)
        writer.write(payload + b".\r\n")
        await writer.drain()
        if kind == "client" and stage == "dot":
            return await end(writer, how, rng)
        code, _ = await reply(reader, FAULT_TIMEOUT)
        if code == 250:
            st.client_acked[mid] = False
        writer.write(b"QUIT\r\n")
        await reply(reader, FAULT_TIMEOUT)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError, ValueError):
        st.fault_errors += 1  # expected: the fault ended the session
    finally:
        if writer is not None:
            close(writer)


IDLE_TLS_NAME = b"idle-tls.test"


class Idle:
    """Connections that read the banner, say EHLO (with tls: STARTTLS, the handshake and EHLO again) and then sit."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.failed = 0
        self.tls = tls

    async def open(self, port: int, count: int) -> None:
        async def one() -> None:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
                await reply(reader, 60)
                writer.write(b"EHLO " + (b"idle.test" if self.tls is None else IDLE_TLS_NAME) + b"\r\n")
                await reply(reader, 60)
                if self.tls is not None:
                    writer.write(b"STARTTLS\r\n")
                    code, _ = await reply(reader, 60)
                    if code != 220:
                        raise ConnectionError(f"STARTTLS {code}")
                    await asyncio.wait_for(writer.start_tls(self.tls, server_hostname="upstream.bench.test"), 60)
                    writer.write(b"EHLO " + IDLE_TLS_NAME + b"\r\n")
                    await reply(reader, 60)
                self.conns.append((reader, writer))
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError):
                self.failed += 1

        for i in range(0, count, 100):
            await asyncio.gather(*(one() for _ in range(min(100, count - i))))

    async def close(self) -> int:
        """NOOP on every connection (is it still relayed?), then QUIT; returns how many answered."""
        alive = 0

        async def one(reader, writer) -> None:
            nonlocal alive
            try:
                writer.write(b"NOOP\r\n")
                code, _ = await reply(reader, 30)
                alive += code == 250
                writer.write(b"QUIT\r\n")
                await reply(reader, 30)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
                pass
            finally:
                close(writer)

        for i in range(0, len(self.conns), 100):
            await asyncio.gather(*(one(r, w) for r, w in self.conns[i:i + 100]))
        self.conns.clear()
        return alive


# --------------------------------------------------------------------------- proxy

class Proxy:
    def __init__(self, binary: str, upstream_port: int, workdir: str, idle_timeout: int, transcripts: bool, extra: list[str]) -> None:
        self.transcripts = os.path.join(workdir, "transcripts")
        ca = self.ca = os.path.join(workdir, "ca")
        subprocess.run([binary, "ca", "init", "--dir", ca], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log_path = os.path.join(workdir, "proxy.log")
        cmd = [binary, "proxy", "--listen", f"{HOST}:0", "--upstream", f"{HOST}:{upstream_port}",
               "--idle-timeout", str(idle_timeout), "--tls", "intercept", "--ca-dir", ca, *extra]
        if transcripts:
            cmd += ["--transcripts", self.transcripts]
        self.cmd = cmd
        self.log = open(self.log_path, "wb")
        libc = ctypes.CDLL(None, use_errno=True)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
                                     preexec_fn=lambda: libc.prctl(1, signal.SIGTERM))  # PR_SET_PDEATHSIG
        self.pid = self.proc.pid
        self.port = 0

    async def ready(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode}; see {self.log_path}")
            with open(self.log_path, "rb") as f:
                m = re.search(rb"on 127\.0\.0\.1:(\d+) -> upstream", f.read())
            if m:
                self.port = int(m.group(1))
                return self.port
            await asyncio.sleep(0.1)
        raise RuntimeError("proxy did not report its listener")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self.peak_threads = 0
        self.task: asyncio.Task | None = None

    def sample(self) -> dict[str, int]:
        s = status(self.pid)
        self.peak_rss = max(self.peak_rss, s.get("VmRSS", 0))
        self.peak_threads = max(self.peak_threads, s.get("Threads", 0))
        return s

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    def reset(self) -> None:
        self.peak_rss = self.peak_threads = 0


async def settle(sampler: Sampler, seconds: float) -> dict[str, int]:
    """Waits, then returns the lowest RSS seen in the last second (GC and trimming may lag)."""
    await asyncio.sleep(max(0.0, seconds - 1))
    low = None
    for _ in range(5):
        s = sampler.sample()
        if low is None or s.get("VmRSS", 0) < low.get("VmRSS", 0):
            low = s
        await asyncio.sleep(0.2)
    return low or {}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def idle_tls_client(version: str | None) -> ssl.SSLContext | None:
    """The idle clients' TLS: certificates are not checked (the proxy forges them), highest version as asked."""
    if not version:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    return ctx


async def warm_up(port: int, rng: random.Random, count: int) -> None:
    st = Stats()
    await asyncio.gather(*(healthy_session(port, -1 - i, rng, st) for i in range(count)))


async def main_async(a: argparse.Namespace) -> int:
    rng = random.Random(a.seed)
    workdir = tempfile.mkdtemp(prefix="smtplens-soak-")
    upstream = Upstream(stall=a.stall)
    up_port = await upstream.start()
    proxy = Proxy(a.smtplens, up_port, workdir, a.idle_timeout, not a.no_transcripts, a.proxy_arg or [])
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv),
                    "proxy": " ".join(proxy.cmd), "seed": a.seed}
    try:
        port = await proxy.ready()
        sampler = Sampler(proxy.pid)
        sampler.start()
        await warm_up(port, rng, a.warmup)
        base = await settle(sampler, a.settle)
        result["rss_baseline_kb"] = base.get("VmRSS")
        result["threads_baseline"] = base.get("Threads")
        print(f"baseline after {a.warmup} warm-up sessions: RSS {mb(base.get('VmRSS'))} MB, threads {base.get('Threads')}", flush=True)

        idle = Idle(idle_tls_client(a.idle_tls))
        if a.idle_tls:
            upstream.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            upstream.tls.load_cert_chain(os.path.join(proxy.ca, "smtplens-ca.pem"), os.path.join(proxy.ca, "smtplens-ca.key"))
        t = time.monotonic()
        await idle.open(port, a.idle)
        with_idle = await settle(sampler, a.settle)
        per = (with_idle.get("VmRSS", 0) - base.get("VmRSS", 0)) / max(1, len(idle.conns))
        result.update(idle_tls=a.idle_tls, idle_open=len(idle.conns), idle_failed=idle.failed, rss_idle_kb=with_idle.get("VmRSS"),
                      threads_idle=with_idle.get("Threads"), idle_kb_per_session=round(per, 1))
        print(f"{len(idle.conns)} idle connections{f' (TLS {a.idle_tls} on both legs)' if a.idle_tls else ''} open ({idle.failed} failed, {time.monotonic() - t:.1f} s): "
              f"RSS {mb(with_idle.get('VmRSS'))} MB, threads {with_idle.get('Threads')}, {per:.1f} KB per idle session", flush=True)

        st = Stats()
        for rnd in range(0 if a.idle_only else a.rounds):
            if rnd > 0:
                between = await settle(sampler, a.settle_after)
                result.setdefault("rss_between_rounds_kb", []).append(between.get("VmRSS"))
                print(f"after round {rnd} ({a.settle_after:.0f} s settle): RSS {mb(between.get('VmRSS'))} MB, threads {between.get('Threads')}", flush=True)
            sampler.reset()
            counter = iter(range(rnd * a.sessions, (rnd + 1) * a.sessions))
            t0 = time.monotonic()
            deadline = t0 + a.time_limit
            done = 0

            async def worker() -> None:
                nonlocal done
                for n in counter:
                    if time.monotonic() > deadline:
                        return
                    wrng = random.Random(rng.getrandbits(64))
                    if wrng.random() < a.healthy_share:
                        await healthy_session(port, n, wrng, st)
                    else:
                        await faulty_session(port, n, wrng, st)
                    done += 1

            async def progress() -> None:
                while True:
                    await asyncio.sleep(10)
                    s = sampler.sample()
                    print(f"  {time.monotonic() - t0:5.0f} s: {done} sessions, RSS {mb(s.get('VmRSS'))} MB, threads {s.get('Threads')}", flush=True)

            prog = asyncio.get_running_loop().create_task(progress())
            await asyncio.gather(*(worker() for _ in range(a.concurrency)))
            prog.cancel()
            elapsed = time.monotonic() - t0
            result.setdefault("rounds", []).append(dict(
                sessions=done, elapsed_s=round(elapsed, 1), sessions_per_s=round(done / elapsed, 1), timed_out=done < a.sessions,
                peak_rss_kb=sampler.peak_rss, peak_threads=sampler.peak_threads))
            print(f"soak{f' round {rnd + 1}' if a.rounds > 1 else ''}: {done} sessions in {elapsed:.1f} s = {done / elapsed:.1f} sessions/s"
                  f"{' (time limit reached)' if done < a.sessions else ''}; peak RSS {mb(sampler.peak_rss)} MB, "
                  f"peak threads {sampler.peak_threads}", flush=True)
        alive = await idle.close()
        result["idle_alive_at_end"] = alive
        if not a.idle_only:
            print(f"idle connections still relayed at the end: {alive}/{result['idle_open']}", flush=True)

        after = await settle(sampler, a.settle_after)
        hwm = status(proxy.pid).get("VmHWM")
        result.update(rss_after_kb=after.get("VmRSS"), threads_after=after.get("Threads"), vmhwm_kb=hwm)
        print(f"after ({a.settle_after:.0f} s settle): RSS {mb(after.get('VmRSS'))} MB (baseline {mb(base.get('VmRSS'))} MB, "
              f"{(after.get('VmRSS', 0) / max(1, base.get('VmRSS', 1))):.2f}x), threads {after.get('Threads')}, VmHWM {mb(hwm)} MB", flush=True)

        if not a.idle_only:
            lat = st.banner_ms
            lost = [m for m in st.sent if st.client_acked.get(m) and upstream.acked.get(m) != st.sent[m]]
            false_acks = [m for m in st.client_acked if m not in upstream.acked]
            result.update(healthy=st.healthy, healthy_ok=st.healthy_ok, healthy_failed=st.healthy_failed,
                          banner_ms={p: round(pct(lat, p), 1) for p in (50, 90, 99, 100)},
                          lost_or_corrupted=len(lost), false_acks=len(false_acks), faults=st.faults)
            print(f"healthy sessions: {st.healthy_ok}/{st.healthy} completed; banner latency ms p50 {pct(lat, 50):.1f} "
                  f"p90 {pct(lat, 90):.1f} p99 {pct(lat, 99):.1f} max {pct(lat, 100):.1f}")
            if st.healthy_failed:
                print("healthy failures: " + "; ".join(f"{k} x{v}" for k, v in sorted(st.healthy_failed.items())))
            print(f"messages: {len(st.sent)} healthy sent, {sum(st.client_acked.values())} acknowledged to the client; "
                  f"lost or corrupted after 250: {len(lost)}; false acknowledgements (250 the upstream never sent): {len(false_acks)}")
            print(f"faults injected: {sum(st.faults.values())} in {len(st.faults)} kinds (" +
                  ", ".join(f"{k} {v}" for k, v in sorted(st.faults.items(), key=lambda kv: -kv[1])[:8]) + ", ...)")
    finally:
        code = proxy.stop()
        result["proxy_exit"] = code
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1)
        if a.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"proxy exit code after SIGTERM: {code}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smtplens", required=True, help="smtplens binary (Release)")
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--idle", type=int, default=1_000, help="idle connections held open")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--healthy-share", type=float, default=0.4)
    p.add_argument("--time-limit", type=float, default=900, help="stop starting sessions after this many seconds (per round)")
    p.add_argument("--rounds", type=int, default=1, help="repeat the sessions, with an RSS reading after each (a leak grows round after round)")
    p.add_argument("--stall", type=float, default=4.0, help="seconds a stalling upstream waits before closing")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--settle", type=float, default=5.0)
    p.add_argument("--settle-after", type=float, default=20.0)
    p.add_argument("--idle-timeout", type=int, default=1800, help="proxy --idle-timeout (idle connections must outlive the soak)")
    p.add_argument("--idle-only", action="store_true", help="only measure the idle connections' memory")
    p.add_argument("--idle-tls", choices=["1.2", "1.3"], help="idle connections do STARTTLS (TLS on both legs, at most this version) before they sit")
    p.add_argument("--no-transcripts", action="store_true")
    p.add_argument("--proxy-arg", action="append", help="extra proxy argument (repeat)")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--json")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    try:
        return asyncio.run(main_async(a))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
