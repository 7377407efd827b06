#!/usr/bin/env python3
"""tests/bench/png_check.py - count the pixels of a colour in horizontal
bands of a PNG screenshot (8-bit RGB or RGBA, not interlaced: what
chromium writes), with zlib from the standard library only.
usage: png_check.py FILE.png RRGGBB TOP1 BOTTOM1 [TOP2 BOTTOM2 ...]
prints: "size W H", then "band TOP BOTTOM COUNT" per band."""
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
rows, prev, i = [], bytearray(stride), 0
for _ in range(h):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[x] = (line[x] + pr) & 255
    rows.append(line)
    prev = line
col = bytes.fromhex(sys.argv[2])
print("size", w, h)
args = [int(a) for a in sys.argv[3:]]
for top, bot in zip(args[0::2], args[1::2]):
    n = 0
    for y in range(max(0, top), min(h, bot)):
        line = rows[y]
        for x in range(0, stride, bpp):
            if all(abs(line[x + k] - col[k]) <= 40 for k in range(3)):
                n += 1
    print("band", top, bot, n)
