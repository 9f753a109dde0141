#!/usr/bin/env python3
"""STARTTLS load client and discard sink for bench/run.sh (Python stdlib only).

Postfix's smtp-source and smtp-sink (3.7) have no TLS support, so the TLS
scenarios use these two instead. Both mimic the postfix tools closely:

  client   like `smtp-source [-d] -s SESSIONS -m MESSAGES -l LENGTH host:port`,
           plus one STARTTLS per SMTP session (EHLO, STARTTLS, EHLO, then
           MAIL/RCPT/DATA per message, QUIT). One thread per concurrent session,
           blocking sockets, no PIPELINING (each command waits for its reply),
           no TLS session resumption (every session does a full handshake),
           certificates are not verified (the relays forge them).
           --smtplib: the same dialogue through the standard library's
           smtplib (SMTP.ehlo, starttls, sendmail per message, quit), as a
           plain smtplib sender does it (SIZE= on MAIL when offered, dot
           quoting done by smtplib, no TCP_NODELAY).
  sink     like `smtp-sink -c`: accepts everything, offers STARTTLS with the
           given certificate, discards the message data, and prints the
           counter line `sess=N quit=N mesg=N tls=N tlsfail=N data=N` after
           every change (smtp-sink -c's format, plus completed and failed
           server-side TLS handshakes and message data bytes), and
           `tls-params: VERSION CIPHER` once per negotiated combination.
           One thread per connection.

The TLS work itself is done by OpenSSL (Python's ssl module releases the GIL
around SSL_read/SSL_write/SSL_do_handshake). Measured cost on a 2-vCPU VM:
~1.8 ms client + ~2.0 ms sink CPU per session with one message (mostly the
handshake), ~0.2 s each for a 100 MiB message; see bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import socket
import ssl
import sys
import tempfile
import threading
import time

RECV_SIZE = 65536
SEND_BLOCK_LINES = 13107   # 13107 x 80 bytes = ~1 MiB per sendall
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class LineConn:
    """A socket (plain, later TLS) with a read buffer for CRLF lines."""

    __slots__ = ("sock", "buf", "rmv")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        # recv_into a reused buffer: sock.recv(big) allocates (and for big sizes
        # mmaps) a fresh object per call, which halved the bulk TLS throughput
        self.rmv = memoryview(bytearray(RECV_SIZE))

    def fill(self) -> bool:
        n = self.sock.recv_into(self.rmv)
        if not n:
            return False
        self.buf += self.rmv[:n]
        return True

    def line(self) -> bytes | None:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                ln = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return ln
            if len(self.buf) > 65536:
                raise OSError("line too long")
            if not self.fill():
                return None

    def reply(self) -> tuple[int, list[bytes]]:
        """Read one (possibly multi-line) SMTP reply -> (code, lines)."""
        lines = []
        while True:
            ln = self.line()
            if ln is None:
                raise ConnectionError("connection closed while waiting for a reply"
                                      + (f" (after {lines[-1]!r})" if lines else ""))
            lines.append(ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                try:
                    return int(ln[:3]), lines
                except ValueError:
                    raise ConnectionError(f"malformed reply {ln[:80]!r}") from None


# --------------------------------------------------------------------------- client

def make_body(length: int) -> bytes:
    """length bytes of lines of 78 characters + CRLF (like smtp-source -l); no line starts with '.'."""
    if length < 2:
        raise ValueError("message length must be at least 2 bytes")
    line = (b"abcdefghijklmnopqrstuvwxyz" * 3)[:78] + b"\r\n"
    n, rest = divmod(length, len(line))
    if rest == 1:                      # last full line one character longer
        n, rest = n - 1, rest + len(line)
    body = line * n
    if rest:
        body += b"X" * (rest - 2) + b"\r\n"
    assert len(body) == length
    return body


def cert_info(der: bytes | None) -> dict:
    """Subject/issuer/key of a DER certificate (stdlib: ssl's test decoder via a temp file)."""
    if not der:
        return {}
    info: dict = {"der_bytes": len(der)}
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
            path = f.name
        try:
            d = ssl._ssl._test_decode_cert(path)  # noqa: SLF001 - stdlib, no cryptography module
        finally:
            os.unlink(path)
        flat = lambda rdns: ", ".join(f"{k}={v}" for rdn in rdns for k, v in rdn)  # noqa: E731
        info["subject"] = flat(d.get("subject", ()))
        info["issuer"] = flat(d.get("issuer", ()))
    except Exception as e:  # noqa: BLE001 - informational only
        info["decode_error"] = str(e)
    return info


class Client:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.host, self.port = _hostport(a.server)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE           # relays forge certificates
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.maximum_version = TLS_VERSIONS[a.tls_max]
        self.ctx.options |= ssl.OP_NO_TICKET            # no resumption: full handshakes
        hdr = (f"From: <{a.sender}>\r\nTo: <{a.recipient}>\r\nSubject: bench\r\n"
               f"Message-Id: <bench@{a.helo}>\r\n\r\n").encode()
        # the message as a list of sendall() blocks: small messages in one
        # block, big ones as ~1 MiB blocks of the same line pattern (the body
        # is never built as one 100 MiB object)
        block = SEND_BLOCK_LINES * 80
        if a.length <= block:
            self.data = [hdr + make_body(a.length) + b".\r\n"]
        else:
            full, rest = divmod(a.length - 2 * 80, block)   # keep >= 160 bytes for the last block
            blk = make_body(block)
            self.data = [hdr] + [blk] * full + [make_body(rest + 2 * 80) + b".\r\n"]
        self.data_len = sum(map(len, self.data))
        # smtplib.sendmail wants the whole message as one object (it adds the
        # terminator and quotes leading dots itself)
        self.message = b"".join(self.data)[:-3] if a.smtplib else b""
        self.lock = threading.Lock()
        self.remaining = a.messages
        self.sent = 0
        self.sessions = 0
        self.handshakes = 0
        self.handshake_s = 0.0
        self.errors: list[str] = []
        self.params: dict = {}
        self.stop = False

    def take(self) -> bool:
        with self.lock:
            if self.stop or self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def expect(self, c: LineConn, want: int, what: str) -> list[bytes]:
        code, lines = c.reply()
        if code != want:
            raise ConnectionError(f"{what}: expected {want}, got {lines[-1].decode('latin-1').strip()}")
        return lines

    def cmd(self, c: LineConn, text: bytes, want: int, what: str) -> list[bytes]:
        c.sock.sendall(text)
        return self.expect(c, want, what)

    def session(self, first_message_taken: bool) -> int:
        """One SMTP session with STARTTLS; sends messages while the pool has some (-d) or one."""
        a = self.a
        raw = socket.create_connection((self.host, self.port), timeout=a.io_timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = LineConn(raw)
        sent = 0
        try:
            self.expect(c, 220, "banner")
            ehlo = self.cmd(c, f"EHLO {a.helo}\r\n".encode(), 250, "EHLO")
            if not any(ln[4:].strip().upper().startswith(b"STARTTLS") for ln in ehlo):
                raise ConnectionError("server does not offer STARTTLS")
            self.cmd(c, b"STARTTLS\r\n", 220, "STARTTLS")
            if c.buf:
                raise ConnectionError("data after the STARTTLS reply")
            t0 = time.monotonic()
            tls = self.ctx.wrap_socket(raw, server_hostname=None, do_handshake_on_connect=False)
            tls.do_handshake()
            dt = time.monotonic() - t0
            c.sock = tls
            with self.lock:
                self.handshakes += 1
                self.handshake_s += dt
                if not self.params:
                    self.params = {"version": tls.version(), "cipher": tls.cipher()[0],
                                   "peer_cert": cert_info(tls.getpeercert(binary_form=True))}
            self.cmd(c, f"EHLO {a.helo}\r\n".encode(), 250, "EHLO after STARTTLS")
            have = first_message_taken
            while have:
                self.cmd(c, f"MAIL FROM:<{a.sender}>\r\n".encode(), 250, "MAIL")
                self.cmd(c, f"RCPT TO:<{a.recipient}>\r\n".encode(), 250, "RCPT")
                self.cmd(c, b"DATA\r\n", 354, "DATA")
                for part in self.data:
                    c.sock.sendall(part)
                self.expect(c, 250, "end of data")
                sent += 1
                with self.lock:
                    self.sent += 1
                have = a.reuse and self.take()
            self.cmd(c, b"QUIT\r\n", 221, "QUIT")
        finally:
            try:
                c.sock.close()
            except OSError:
                pass
        with self.lock:
            self.sessions += 1
        return sent

    def session_smtplib(self, first_message_taken: bool) -> int:
        """One session through smtplib: EHLO, STARTTLS, EHLO, sendmail per message, QUIT."""
        a = self.a
        s = smtplib.SMTP(self.host, self.port, local_hostname=a.helo, timeout=a.io_timeout)
        sent = 0
        try:
            s.ehlo()
            if not s.has_extn("starttls"):
                raise ConnectionError("server does not offer STARTTLS")
            t0 = time.monotonic()
            s.starttls(context=self.ctx)       # STARTTLS round trip + handshake
            dt = time.monotonic() - t0
            tls = s.sock
            with self.lock:
                self.handshakes += 1
                self.handshake_s += dt
                if not self.params:
                    self.params = {"version": tls.version(), "cipher": tls.cipher()[0],
                                   "peer_cert": cert_info(tls.getpeercert(binary_form=True))}
            s.ehlo()
            have = first_message_taken
            while have:
                refused = s.sendmail(a.sender, [a.recipient], self.message)
                if refused:
                    raise ConnectionError(f"recipient refused: {refused}")
                sent += 1
                with self.lock:
                    self.sent += 1
                have = a.reuse and self.take()
            s.quit()
        finally:
            s.close()
        with self.lock:
            self.sessions += 1
        return sent

    def worker(self) -> None:
        run = self.session_smtplib if self.a.smtplib else self.session
        try:
            while self.take():
                run(True)
        except Exception as e:  # noqa: BLE001 - any failure fails the run
            with self.lock:
                self.stop = True
                self.errors.append(f"{type(e).__name__}: {e}")

    def run(self) -> int:
        t0 = time.monotonic()
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.a.sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        ok = not self.errors and self.sent == self.a.messages
        report = {"client": "smtptls.py --smtplib" if self.a.smtplib else "smtptls.py", "messages_sent": self.sent, "messages_wanted": self.a.messages,
                  "sessions": self.sessions, "handshakes": self.handshakes,
                  "handshake_s_mean": round(self.handshake_s / self.handshakes, 6) if self.handshakes else None,
                  "elapsed_inner_s": round(elapsed, 4), "tls_max": self.a.tls_max,
                  "client_leg": self.params, "errors": self.errors[:5], "error_count": len(self.errors), "ok": ok}
        if self.a.report:
            with open(self.a.report + ".tmp", "w") as f:
                json.dump(report, f, indent=1)
            os.replace(self.a.report + ".tmp", self.a.report)
        print(f"smtptls client: {self.sent}/{self.a.messages} messages, {self.sessions} sessions,"
              f" {self.handshakes} handshakes in {elapsed:.3f} s; client leg {self.params.get('version')}"
              f" {self.params.get('cipher')}, cert issuer {self.params.get('peer_cert', {}).get('issuer')}")
        for e in self.errors[:5]:
            print(f"smtptls client: fatal: {e}")
        sys.stdout.flush()
        return 0 if ok else 1


def cmd_client(a: argparse.Namespace) -> int:
    return Client(a).run()


# --------------------------------------------------------------------------- sink

class Sink:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(a.cert, a.key)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.maximum_version = TLS_VERSIONS[a.tls_max]
        self.ctx.options |= ssl.OP_NO_TICKET
        self.lock = threading.Lock()
        self.sess = self.quit = self.mesg = self.tls = self.tls_fail = 0
        self.data_bytes = 0
        self.seen_params: set = set()
        self.out = sys.stdout

    def counters(self) -> None:
        # caller holds the lock; same "sess= quit= mesg=" format as smtp-sink -c
        self.out.write(f"sess={self.sess} quit={self.quit} mesg={self.mesg} tls={self.tls}"
                       f" tlsfail={self.tls_fail} data={self.data_bytes}\n")
        self.out.flush()

    def serve(self) -> int:
        host, port = _hostport(self.a.listen)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(self.a.backlog)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        while True:
            conn, _ = ls.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.a.io_timeout)
        with self.lock:
            self.sess += 1
            self.counters()
        c = LineConn(sock)
        in_tls = False
        try:
            if self.a.banner_delay > 0:
                time.sleep(self.a.banner_delay)
            sock.sendall(b"220 sink.bench.invalid ESMTP smtptls sink\r\n")
            while True:
                ln = c.line()
                if ln is None:
                    return
                verb = ln[:4].upper()
                if verb == b"EHLO":
                    ext = b"" if in_tls else b"250-STARTTLS\r\n"
                    c.sock.sendall(b"250-sink.bench.invalid\r\n250-8BITMIME\r\n" + ext + b"250 SIZE 0\r\n")
                elif verb == b"HELO":
                    c.sock.sendall(b"250 sink.bench.invalid\r\n")
                elif verb == b"STAR" and ln[:8].upper() == b"STARTTLS" and not in_tls:
                    c.sock.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                    try:
                        tls = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                        tls.do_handshake()
                    except (OSError, ssl.SSLError):
                        with self.lock:
                            self.tls_fail += 1
                            self.counters()
                        return
                    c.sock, in_tls = tls, True
                    c.buf.clear()
                    p = (tls.version(), tls.cipher()[0])
                    with self.lock:
                        self.tls += 1
                        if p not in self.seen_params:
                            self.seen_params.add(p)
                            self.out.write(f"tls-params: {p[0]} {p[1]}\n")
                        self.counters()
                elif verb == b"DATA":
                    c.sock.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    n = self.read_data(c)
                    if n is None:
                        return
                    c.sock.sendall(b"250 2.0.0 Ok: queued as BENCH\r\n")
                    with self.lock:
                        self.mesg += 1
                        self.data_bytes += n
                        self.counters()
                elif verb == b"QUIT":
                    c.sock.sendall(b"221 2.0.0 Bye\r\n")
                    with self.lock:
                        self.quit += 1
                        self.counters()
                    return
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    c.sock.sendall(b"250 2.0.0 Ok\r\n")
                else:
                    c.sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")
        except (OSError, ssl.SSLError, ConnectionError):
            return
        finally:
            try:
                c.sock.close()
            except OSError:
                pass

    @staticmethod
    def read_data(c: LineConn) -> int | None:
        """Discard message data up to CRLF.CRLF; returns the data bytes (terminator excluded)."""
        tail = b"\r\n"          # the DATA command line ended in CRLF
        total = 0
        buf = bytes(c.buf)
        c.buf.clear()
        n = len(buf)
        while True:
            if n:
                window = tail + buf[:n]
                i = window.find(b"\r\n.\r\n")
                if i >= 0:
                    end = i - len(tail) + 5        # index in buf just after the terminator
                    total += i - len(tail) + 2     # may be negative: undo counted terminator bytes
                    c.buf += buf[end:n]
                    return total
                total += n
                tail = bytes(window[-4:])
            buf = c.rmv
            n = c.sock.recv_into(buf)
            if not n:
                return None


def cmd_sink(a: argparse.Namespace) -> int:
    return Sink(a).serve()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)

    s = sub.add_parser("client", help="STARTTLS load client (smtp-source look-alike)")
    s.add_argument("-s", "--sessions", type=int, default=1, help="concurrent sessions (threads)")
    s.add_argument("-m", "--messages", type=int, default=1)
    s.add_argument("-l", "--length", type=int, default=4096, help="payload bytes per message (body)")
    s.add_argument("-d", dest="reuse", action="store_true",
                   help="keep sessions open and send many messages per session (smtp-source -d)")
    s.add_argument("--tls-max", choices=sorted(TLS_VERSIONS), default="1.2")
    s.add_argument("--helo", default="client.bench.invalid")
    s.add_argument("--sender", default="bench@client.bench.invalid")
    s.add_argument("--recipient", default="sink@sink.bench.invalid")
    s.add_argument("--io-timeout", type=float, default=120.0)
    s.add_argument("--report", help="write a JSON report here")
    s.add_argument("--smtplib", action="store_true",
                   help="speak SMTP through the stdlib smtplib module (one SMTP object per session)")
    s.add_argument("server", help="HOST:PORT")
    s.set_defaults(fn=cmd_client)

    s = sub.add_parser("sink", help="STARTTLS discard sink (smtp-sink -c look-alike)")
    s.add_argument("--listen", required=True, help="HOST:PORT")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--tls-max", choices=sorted(TLS_VERSIONS), default="1.3")
    s.add_argument("--backlog", type=int, default=1024)
    s.add_argument("--banner-delay", type=float, default=0.0,
                   help="seconds to wait before the 220 banner (diagnostic; default 0 = at once, like smtp-sink)")
    s.add_argument("--io-timeout", type=float, default=300.0)
    s.set_defaults(fn=cmd_sink)

    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
