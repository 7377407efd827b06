#!/usr/bin/env python3
"""tests/client/h2srv.py - a scripted HTTP/2 server over raw frames (RFC
9113) for tests/client/test_client_h2_peer.c: it counts what the HTTP
client does from the server's side. Frames, HPACK literals and the
connection reader come from tests/h2/h2peer.py.

    h2srv.py REPORT MODE [ARGS...]

Listens on 127.0.0.1 port 0, prints the port on stdout, serves
connections (each in a thread) until every expected request was answered
and the client closed, or 20 s passed, then writes REPORT, lines of
"key value": conns (connections accepted), served (streams answered),
max_open (most request streams open at once on one connection), and one
"rst SID CODE" per RST_STREAM received. Request streams are told apart
by their order (1, 3, 5 ...), so no HPACK decoding is needed. A response
is 200 with body b"conn=C sid=S" and its content-length.

Modes:
  limit MAX ANSWER_AT TOTAL  SETTINGS_MAX_CONCURRENT_STREAMS MAX; holds
      requests until ANSWER_AT are open (or all TOTAL came), reading what
      else is already on its way first, then answers them all
  slow TOTAL    never answers stream 1 (waits for its RST_STREAM); answers
                the others at once
  rst TOTAL     answers stream 1 with RST_STREAM INTERNAL_ERROR, the
                others with 200
  goaway TOTAL  connection 1: waits for 3 requests, answers the first,
                then GOAWAY naming it as the last stream; later
                connections answer everything
  drop TOTAL    connection 1: waits for 2 requests, then closes without a
                word; later connections answer everything
"""
import os
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "h2"))
from h2peer import (ACK, DATA, END_HEADERS, END_STREAM, GOAWAY,  # noqa: E402
                    HEADERS, RST_STREAM, SETTINGS, STATUS_200, Conn, frame,
                    literal)

lock = threading.Lock()
state = {"conns": 0, "served": 0, "max_open": 0, "rst": []}


def respond(c, conn_no, sid):
    body = b"conn=%d sid=%d" % (conn_no, sid)
    c.send(frame(HEADERS, END_HEADERS, sid,
                 STATUS_200 + literal(b"content-length", b"%d" % len(body))) +
           frame(DATA, END_STREAM, sid, body))
    with lock:
        state["served"] += 1


class Peer:
    """One connection: reads frames, tracks the open request streams."""

    def __init__(self, c, conn_no):
        self.c = c
        self.no = conn_no
        self.open = []

    def step(self, timeout=None):
        """Read and handle one frame; returns its (type, sid) or None when
        nothing came within @timeout."""
        if timeout is not None and not self.c.buf:
            r, _, _ = select.select([self.c.s], [], [], timeout)
            if not r:
                return None
        t, f, sid, payload = self.c.read_frame()
        if t == SETTINGS and not f & ACK:
            self.c.send(frame(SETTINGS, ACK, 0))
        elif t == HEADERS:
            self.open.append(sid)
            with lock:
                state["max_open"] = max(state["max_open"], len(self.open))
        elif t == RST_STREAM:
            code = struct.unpack(">I", payload[:4])[0]
            with lock:
                state["rst"].append((sid, code))
            if sid in self.open:
                self.open.remove(sid)
        return t, sid


def mode_limit(p, args):
    answer_at, total = int(args[1]), int(args[2])
    while True:
        p.step()
        with lock:
            left = total - state["served"]
        if p.open and (len(p.open) >= answer_at or len(p.open) >= left):
            # a client over the limit has sent more already: read it too
            while p.step(0.05) is not None:
                pass
            for sid in p.open:
                respond(p.c, p.no, sid)
            p.open = []


def mode_slow(p, args):
    while True:
        p.step()
        for sid in [s for s in p.open if s != 1]:
            respond(p.c, p.no, sid)
            p.open.remove(sid)


def mode_rst(p, args):
    while True:
        p.step()
        for sid in list(p.open):
            if sid == 1:
                p.c.send(frame(RST_STREAM, 0, 1, struct.pack(">I", 2)))
            else:
                respond(p.c, p.no, sid)
            p.open.remove(sid)


def mode_goaway(p, args):
    if p.no == 1:
        while len(p.open) < 3:
            p.step()
        first = p.open[0]
        respond(p.c, p.no, first)
        p.c.send(frame(GOAWAY, 0, 0, struct.pack(">II", first, 0)))
        while True:
            p.step()
    answer_all(p)


def mode_drop(p, args):
    if p.no == 1:
        while len(p.open) < 2:
            p.step()
        p.c.s.shutdown(socket.SHUT_RDWR)
        return
    answer_all(p)


def answer_all(p):
    while True:
        p.step()
        for sid in list(p.open):
            respond(p.c, p.no, sid)
            p.open.remove(sid)


def settings_for(mode, args):
    if mode == "limit":
        return struct.pack(">HI", 3, int(args[0]))  # MAX_CONCURRENT_STREAMS
    return b""


def serve(sock, conn_no, mode, args):
    sock.settimeout(20)
    c = Conn(sock)
    try:
        c.preface(settings_for(mode, args))
        globals()["mode_" + mode](Peer(c, conn_no), args)
    except (EOFError, OSError, ValueError):
        pass
    sock.close()


def main():
    report, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    total = int(args[-1])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    os.write(1, b"%d\n" % ls.getsockname()[1])
    os.close(1)
    threads = []
    end = time.monotonic() + 20
    while time.monotonic() < end:
        r, _, _ = select.select([ls], [], [], 0.1)
        if r:
            sock, _ = ls.accept()
            with lock:
                state["conns"] += 1
                no = state["conns"]
            th = threading.Thread(target=serve, args=(sock, no, mode, args),
                                  daemon=True)
            th.start()
            threads.append(th)
        with lock:
            served = state["served"]
        if served >= total and not any(t.is_alive() for t in threads):
            break
    with lock:
        lines = ["conns %d" % state["conns"], "served %d" % state["served"],
                 "max_open %d" % state["max_open"]]
        lines += ["rst %d %d" % r for r in state["rst"]]
    with open(report + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(report + ".tmp", report)


if __name__ == "__main__":
    main()
