#!/usr/bin/env python3
"""Generate random script-library cases and record what a reference Redis answers.

Output has the format of tests/data/lualibs_cases.txt (EXPR<TAB>ESCAPED RESULT), so it can
be replayed against luagate's libraries:

    redis-server --port 16390 --save '' --appendonly no &
    python3 tests/data/lualibs_fuzz.py --seed 1 --port 16390 > /tmp/fuzz.txt
    LUALIBS_CASES=/tmp/fuzz.txt cargo test --test lualibs_cases

Every case is `pcall`-wrapped and serialises all results (tables in `pairs` order), so
errors and table iteration order are compared too. Cases whose script fails to compile or
run on Redis are dropped.
"""
import argparse
import json
import random
import socket

# Serialises any number of values: strings via %q, numbers via %.17g, tables in pairs order.
SER = (
    "(function(...) local function s(v, d) local t = type(v) "
    "if t == 'table' then if d > 20 then return '...' end local p = {} "
    "for k, x in pairs(v) do p[#p+1] = s(k, d+1) .. '=' .. s(x, d+1) end "
    "return '{' .. table.concat(p, ',') .. '}' "
    "elseif t == 'string' then return string.format('%q', v) "
    "elseif t == 'number' then return string.format('%.17g', v) "
    "else return tostring(v) end end "
    "local r = {} for i = 1, select('#', ...) do r[i] = s((select(i, ...)), 0) end "
    "return table.concat(r, ' ') end)"
)


def lua_str(b):
    """A Lua string literal for arbitrary bytes (3-digit decimal escapes)."""
    out = []
    for c in b:
        ch = chr(c)
        if ch.isalnum() or ch in " []{},:.+-_=#@!":
            out.append(ch)
        else:
            out.append("\\%03d" % c)
    return '"' + "".join(out) + '"'


def rnum(r):
    return r.choice([
        "0", "1", "-1", "127", "128", "255", "256", "-32", "-33", "-128", "-129", "65535",
        "65536", "-32768", "-32769", "4294967295", "4294967296", "2^31", "-2^31", "2^53",
        "2^63", "-2^63", "2^64", "0.5", "1.5", "-2.25", "0.1", "1e300", "-1e-300", "1/0",
        "-1/0", "0/0", "3.4028234663852886e38", "16777217",
        str(r.randint(-10**12, 10**12)), repr(r.uniform(-1e6, 1e6)),
    ])


def rvalue(r, d=0):
    x = r.random()
    if d < 4 and x < 0.3:
        n = r.randint(0, 5)
        if r.random() < 0.5:
            return "{" + ",".join(rvalue(r, d + 1) for _ in range(n)) + "}"
        keys = ["a", "b", "c", "key", "x1", "[1]", "[2]", "[3]", "[1.5]", "[-1]", "[0]",
                "[100]", '["1"]']
        return "{" + ",".join("%s=%s" % (r.choice(keys), rvalue(r, d + 1))
                              for _ in range(n)) + "}"
    if x < 0.6:
        return rnum(r)
    if x < 0.75:
        return lua_str(bytes(r.randint(0, 255) for _ in range(r.randint(0, 6))))
    if x < 0.85:
        return r.choice(["true", "false", "nil", "cjson.null"])
    return lua_str(b"x" * r.choice([31, 32, 255, 256]))


def rjson(r, d=0):
    x = r.random()
    if d < 5 and x < 0.35:
        if r.random() < 0.5:
            return [rjson(r, d + 1) for _ in range(r.randint(0, 5))]
        return {r.choice(["a", "b", "k", "", "\u00e9", "\u0001", "/x", "1", "2"]): rjson(r, d + 1)
                for _ in range(r.randint(0, 5))}
    return r.choice([
        None, True, False, 0, -0.0, 1, -1, 1.5, 1e100, 123456789012345678, 0.1, 1e-7, "str",
        "a/b", 'q"uote', "back\\slash", "tab\t", "\u00e9\u4e2d", "\U0001f600", "\u0000",
        "\u007f", r.random() * 10 ** r.randint(-10, 20), r.randint(-2**40, 2**40),
    ])


def cases(r, n):
    out = []
    json_alpha = list(b'[]{},:"\\ 0123456789.eE+-tfnrulsaINixXy\t\n/b') + [0xc3, 0xa9, 0, 1]
    json_frags = [b"true", b"false", b"null", b'"a"', b"\\u00e9", b"\\ud83d\\ude00", b"1e5",
                  b"-0", b"[", b"]", b"{", b"}", b'"k":', b",", b"0x1F", b"inf", b"nan",
                  b"1.5", b"\\u"]
    mp_bytes = [0xc0, 0xc2, 0xc3, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb,
                0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x91, 0x92, 0x93, 0x80, 0x81,
                0x82, 0xa0, 0xa1, 0xa3, 0x00, 0x01, 0x7f, 0xff, 0xe0, 0x41, 0x61, 0xc1, 0xc4,
                0xd4, 0x3f]
    fmt_alpha = list("<>!bBhHlLTiIfdsxc0123489 ") + ["i3", "i16", "I5", "!4", "!2", "c0",
                                                     "c3", "z"]
    ops = ["tobit", "bnot", "band", "bor", "bxor", "lshift", "rshift", "arshift", "rol",
           "ror", "bswap", "tohex"]
    for _ in range(n):
        kind = r.randrange(8)
        if kind == 0:  # JSON-ish noise
            s = b""
            for _ in range(r.randint(0, 12)):
                s += r.choice(json_frags) if r.random() < 0.5 else bytes([r.choice(json_alpha)])
            out.append("%s(pcall(function() return cjson.encode(cjson.decode(%s)) end))"
                       % (SER, lua_str(s)))
        elif kind == 1:  # valid (or lightly corrupted) JSON
            text = json.dumps(rjson(r), ensure_ascii=r.random() < 0.5,
                              indent=r.choice([None, 1, "\t"]))
            b = text.encode("utf-8")
            if r.random() < 0.2 and b:
                i = r.randrange(len(b))
                b = b[:i] + bytes([r.choice(b'[]{},:"\\x0 ')]) + b[i + 1:]
            out.append("%s(pcall(function() local v = cjson.decode(%s) "
                       "return cjson.encode(v), cmsgpack.unpack(cmsgpack.pack(v)) end))"
                       % (SER, lua_str(b)))
        elif kind == 2:  # msgpack noise
            s = bytes(r.choice(mp_bytes) if r.random() < 0.7 else r.randint(0, 255)
                      for _ in range(r.randint(0, 14)))
            call = r.choice(["cmsgpack.unpack(S)", "cmsgpack.unpack_one(S, %d)" % r.randint(0, 5),
                             "cmsgpack.unpack_limit(S, %d, %d)" % (r.randint(0, 3),
                                                                   r.randint(0, 4))])
            out.append("%s(pcall(function() return %s end))"
                       % (SER, call.replace("S", lua_str(s))))
        elif kind == 3:  # Lua values through both encoders
            v = rvalue(r)
            out.append("%s(pcall(cmsgpack.pack, %s))" % (SER, v))
            out.append("%s(pcall(function() return cmsgpack.unpack(cmsgpack.pack(%s)) end))"
                       % (SER, v))
            out.append("%s(pcall(cjson.encode, %s))" % (SER, v))
        elif kind in (4, 5):  # struct
            f = "".join(r.choice(fmt_alpha) for _ in range(r.randint(0, 6))).encode()
            args = ",".join(r.choice([rnum(r), lua_str(b"abc"), lua_str(b""),
                                      lua_str(b"hello\0world")])
                            for _ in range(r.randint(0, 4)))
            out.append("%s(pcall(struct.pack, %s%s))" % (SER, lua_str(f), "," + args if args else ""))
            data = bytes(r.randint(0, 255) if r.random() < 0.7 else 0
                         for _ in range(r.randint(0, 20)))
            off = r.choice(["", ", 1", ", 2", ", 0", ", -1", ", 3.5"])
            out.append("%s(pcall(struct.unpack, %s, %s%s))" % (SER, lua_str(f), lua_str(data), off))
            out.append("%s(pcall(struct.size, %s))" % (SER, lua_str(f)))
        else:  # bit
            args = ",".join(r.choice([rnum(r), '"12"', '"0x10"', '"x"', "nil", "{}",
                                      repr(r.uniform(-5e9, 5e9)), str(r.randint(-40, 40))])
                            for _ in range(r.randint(0, 3)))
            out.append("%s(pcall(bit.%s%s))" % (SER, r.choice(ops), ", " + args if args else ""))
    return out


def escape(b):
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 10:
            out.append("\\n")
        elif c == 9:
            out.append("\\t")
        elif c == 13:
            out.append("\\r")
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    def eval(self, body):
        args = [b"EVAL", body.encode(), b"0"]
        req = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        self.sock.sendall(req)
        line = self.f.readline()
        if line[:1] == b"$":
            n = int(line[1:-2])
            return None if n < 0 else self.f.read(n + 2)[:-2]
        return None  # errors and other reply types are not recorded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    c = Client(a.port)
    print("-- generated by lualibs_fuzz.py --seed %d --count %d" % (a.seed, a.count))
    for expr in cases(random.Random(a.seed), a.count):
        got = c.eval("return tostring(%s)" % expr)
        if got is not None:
            print("%s\t%s" % (expr, escape(got)))


if __name__ == "__main__":
    main()
