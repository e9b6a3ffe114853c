//! More of the randomized differential test's command table: GEO, SORT and streams (kept
//! apart from `table.rs` to keep each file short). Same invariant: every entry is
//! deterministic on both servers given the same prior commands.

use crate::gen::{cmd, cmd_with, gen, Gen, Generator, Order::*};

/// A coordinate pair, sometimes out of range or not a number.
fn lon_lat(g: &mut Gen) -> [String; 2] {
    [
        g.one(&["13.36", "15.08", "0", "-179.9", "180", "2.35", "181", "x"]),
        g.one(&[
            "38.11", "37.5", "0", "85.05", "-85.05", "48.85", "86", "nan",
        ]),
    ]
}

fn unit(g: &mut Gen) -> String {
    g.one(&["m", "km", "mi", "ft", "KM", "parsecs"])
}

/// An explicit stream id from a small domain (so ids collide and go backwards).
fn stream_id(g: &mut Gen) -> String {
    g.one(&[
        "1-1", "1-2", "2-0", "5", "5-1", "10-0", "0-1", "3-*", "-", "+", "x",
    ])
}

pub const MORE: &[Generator] = &[
    // ---- GEO (on the shared keys: a sorted set of any scores decodes as Redis decodes it).
    gen("GEOADD", 3, Exact, |g| {
        let mut rest = vec![g.key()];
        for opt in ["NX", "XX", "CH"] {
            if g.chance(6) {
                rest.push(opt.to_string());
            }
        }
        for _ in 0..1 + g.below(3) {
            rest.extend(lon_lat(g));
            rest.push(g.member());
        }
        cmd_with(&["GEOADD"], rest)
    }),
    gen("GEOPOS", 1, Exact, |g| {
        cmd(&["GEOPOS", &g.key(), &g.member(), &g.member()])
    }),
    gen("GEOHASH", 1, Exact, |g| {
        cmd(&["GEOHASH", &g.key(), &g.member(), &g.member()])
    }),
    gen("GEODIST", 1, Exact, |g| {
        let mut c = vec!["GEODIST".to_string(), g.key(), g.member(), g.member()];
        if g.chance(2) {
            c.push(unit(g));
        }
        cmd_with(&[], c)
    }),
    gen("GEOSEARCH", 2, Exact, |g| {
        let store = g.chance(4);
        let mut rest = if store {
            vec!["GEOSEARCHSTORE".to_string(), g.key(), g.key()]
        } else {
            vec!["GEOSEARCH".to_string(), g.key()]
        };
        if g.chance(2) {
            rest.extend(["FROMMEMBER".to_string(), g.member()]);
        } else {
            rest.push("FROMLONLAT".to_string());
            rest.extend(lon_lat(g));
        }
        if g.chance(2) {
            rest.extend([
                "BYRADIUS".to_string(),
                g.one(&["0", "50", "300", "5000", "-1"]),
                unit(g),
            ]);
        } else {
            rest.push("BYBOX".to_string());
            rest.push(g.one(&["100", "600", "20000"]));
            rest.push(g.one(&["100", "600", "x"]));
            rest.push(unit(g));
        }
        if g.chance(3) {
            rest.push(g.one(&["ASC", "DESC"]));
        }
        if g.chance(3) {
            rest.extend(["COUNT".to_string(), g.one(&["1", "2", "0"])]);
            if g.chance(3) {
                rest.push("ANY".to_string());
            }
        }
        if store {
            if g.chance(2) {
                rest.push("STOREDIST".to_string());
            }
        } else {
            for opt in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
                if g.chance(3) {
                    rest.push(opt.to_string());
                }
            }
        }
        cmd_with(&[], rest)
    }),
    // ---- SORT (lists, sets and sorted sets of the shared keys; BY/GET patterns reach
    // strings and hashes among them).
    gen("SORT", 3, Exact, |g| {
        let name = g.one(&["SORT", "SORT", "SORT_RO"]);
        let mut rest = vec![g.key()];
        // Numeric BY only: numeric ties fall back to the elements' bytes, where ALPHA ties
        // (and BY nosort) keep a set's own order, which differs between the servers.
        let by = g.chance(3);
        if by {
            rest.extend(["BY".to_string(), g.one(&["k*", "*->f1"])]);
        }
        if g.chance(3) {
            rest.extend(["LIMIT".to_string(), g.int(-1, 3), g.int(-1, 3)]);
        }
        for _ in 0..g.below(3) {
            rest.extend(["GET".to_string(), g.one(&["#", "k*", "*->f1", "nokey*"])]);
        }
        if g.chance(2) {
            rest.push(g.one(&["ASC", "DESC"]));
        }
        if !by && g.chance(2) {
            rest.push("ALPHA".to_string());
        }
        if name == "SORT" && g.chance(4) {
            rest.extend(["STORE".to_string(), g.key()]);
        }
        cmd_with(&[&name], rest)
    }),
    // ---- Streams (explicit ids only: generated ones carry the clock).
    gen("XADD", 3, Exact, |g| {
        let mut rest = vec![g.key()];
        if g.chance(5) {
            rest.push("NOMKSTREAM".to_string());
        }
        if g.chance(4) {
            rest.extend(["MAXLEN".to_string(), g.one(&["=", "~"]), g.int(0, 3)]);
        }
        rest.push(stream_id(g));
        for _ in 0..1 + g.below(2) {
            rest.extend([g.one(&["f1", "f2"]), g.val()]);
        }
        cmd_with(&["XADD"], rest)
    }),
    gen("XRANGE", 2, Exact, |g| {
        let name = g.one(&["XRANGE", "XREVRANGE"]);
        let mut rest = vec![g.key(), stream_id(g), stream_id(g)];
        if g.chance(2) {
            rest.extend(["COUNT".to_string(), g.int(0, 3)]);
        }
        cmd_with(&[&name], rest)
    }),
    gen("XLEN", 1, Exact, |g| cmd(&["XLEN", &g.key()])),
    gen("XDEL", 1, Exact, |g| {
        cmd(&["XDEL", &g.key(), &stream_id(g), &stream_id(g)])
    }),
    gen("XTRIM", 1, Exact, |g| {
        let strategy = g.one(&["MAXLEN", "MINID"]);
        let threshold = if strategy == "MAXLEN" {
            g.int(0, 3)
        } else {
            stream_id(g)
        };
        cmd(&["XTRIM", &g.key(), &strategy, &threshold])
    }),
    gen("XREAD", 1, Exact, |g| {
        cmd(&["XREAD", "COUNT", "2", "STREAMS", &g.key(), &stream_id(g)])
    }),
];
