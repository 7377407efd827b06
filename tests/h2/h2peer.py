#!/usr/bin/env python3
"""tests/h2/h2peer.py - a hostile HTTP/2 server over raw frames (RFC 9113),
for tests/h2/test_h2_hostile.c.

Listens on 127.0.0.1 port 0, prints the port on stdout, serves one
connection in the mode given as argv[1], then exits. HPACK (RFC 7541) is
written by hand: indexed :status 200 (0x88) and literal fields without
indexing, never Huffman-coded.

Modes:
  settings_flood       SETTINGS frames without end
  window_closed        SETTINGS_INITIAL_WINDOW_SIZE 0, never a WINDOW_UPDATE
  rst_mid_body         a head, 5 bytes of body, then RST_STREAM INTERNAL_ERROR
  goaway_inflight      answers stream 1 of three, then GOAWAY last_stream_id 1
  big_headers          a response head of 25 fields of 4,000 bytes (HEADERS+CONTINUATION)
  continuation_flood   HEADERS without END_HEADERS, then CONTINUATION frames
"""
import os
import socket
import struct
import sys

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hint(n, prefix_bits, first=0):
    """An HPACK integer (RFC 7541 section 5.1)."""
    top = (1 << prefix_bits) - 1
    if n < top:
        return bytes([first | n])
    out = [first | top]
    n -= top
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def literal(name, value):
    """Literal header field without indexing, new name (section 6.2.2)."""
    return b"\x00" + hint(len(name), 7) + name + hint(len(value), 7) + value


# Every header block this peer sends starts here: a dynamic table size
# update to 0 (RFC 7541 section 6.3; it indexes nothing, and says so at a
# block's start, as section 4.2 requires of an encoder whose peer asked
# for a smaller table: coil-bench asks for none), then ":status: 200".
STATUS_200 = b"\x20\x88"


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        hd = self.need(9)
        length = int.from_bytes(hd[0:3], "big")
        return hd[3], hd[4], int.from_bytes(hd[5:9], "big") & 0x7fffffff, \
            self.need(length)

    def send(self, b):
        self.s.sendall(b)

    def preface(self, settings=b""):
        if self.need(24) != b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":
            raise ValueError("bad preface")
        self.send(frame(SETTINGS, 0, 0, settings))

    def until_headers(self, count=1):
        """Read frames (acking SETTINGS) until @count HEADERS arrived."""
        sids = []
        while len(sids) < count:
            t, f, sid, _ = self.read_frame()
            if t == SETTINGS and not f & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif t == HEADERS:
                sids.append(sid)
        return sids

    def drain(self):
        """Read until the client closes."""
        try:
            while True:
                t, f, sid, _ = self.read_frame()
                if t == SETTINGS and not f & ACK:
                    self.send(frame(SETTINGS, ACK, 0))
        except (EOFError, OSError):
            pass


def settings_flood(c):
    c.preface()
    try:
        for _ in range(100000):
            c.send(frame(SETTINGS, 0, 0) * 64)
    except OSError:
        pass


def window_closed(c):
    c.preface(struct.pack(">HI", 4, 0))  # INITIAL_WINDOW_SIZE 0
    c.drain()


def rst_mid_body(c):
    c.preface()
    sid = c.until_headers()[0]
    c.send(frame(HEADERS, END_HEADERS, sid,
                 STATUS_200 + literal(b"content-length", b"100")) +
           frame(DATA, 0, sid, b"hello") +
           frame(RST_STREAM, 0, sid, struct.pack(">I", 2)))
    c.drain()


def goaway_inflight(c):
    c.preface()
    sids = c.until_headers(3)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, sids[0], STATUS_200) +
           frame(GOAWAY, 0, 0, struct.pack(">II", sids[0], 0)))
    c.drain()


def big_headers(c):
    c.preface()
    sid = c.until_headers()[0]
    block = STATUS_200 + b"".join(
        literal(b"x-big-%d" % i, b"a" * 4000) for i in range(25))
    chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)]
    out = frame(HEADERS, END_HEADERS if len(chunks) == 1 else 0, sid,
                chunks[0])
    for i, ch in enumerate(chunks[1:]):
        last = i == len(chunks) - 2
        out += frame(CONTINUATION, END_HEADERS if last else 0, sid, ch)
    c.send(out)
    c.drain()


def continuation_flood(c):
    c.preface()
    sid = c.until_headers()[0]
    c.send(frame(HEADERS, 0, sid, STATUS_200))
    try:
        for i in range(100000):
            c.send(frame(CONTINUATION, 0, sid, literal(b"x-a", b"b")) * 16)
    except OSError:
        pass


def main():
    mode = globals()[sys.argv[1]]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    os.write(1, b"%d\n" % ls.getsockname()[1])  # one write: the test
    os.close(1)  # reads it once and closes its end
    ls.settimeout(20)
    sock, _ = ls.accept()
    sock.settimeout(20)
    try:
        mode(Conn(sock))
    except (EOFError, OSError, ValueError):
        pass
    sock.close()


if __name__ == "__main__":
    main()
