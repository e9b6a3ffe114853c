//! GEO commands against redis-server, byte for byte: scores, positions, distances and
//! geohashes; every option and error of GEOSEARCH/GEOSEARCHSTORE and the GEORADIUS family;
//! and seeded random point sets around several places (poles, the antimeridian, the equator)
//! searched with radii and boxes from metres to thousands of kilometres, where even unsorted
//! results must come in Redis's order (it depends on the cells Redis scans).

mod common;
use common::*;

#[test]
fn geo_commands_answer_as_redis() {
    let mut d = Diff::new();
    d.check_lines(
        "
        GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        ZRANGE Sicily 0 -1 WITHSCORES
        GEOADD Sicily NX 13.361389 38.115556 Palermo 1 1 Null
        GEOADD Sicily XX CH 13.5 38.1 Palermo 1 2 Nowhere
        GEOADD Sicily CH XX 13.361389 38.115556 Palermo
        GEOADD Sicily NX XX 1 1 a
        GEOADD Sicily 1 1
        GEOADD Sicily 1 1 a 2
        GEOADD Sicily XX CH CH
        GEOADD Sicily 181 1 a
        GEOADD Sicily 1 85.06 a 1 1 b
        GEOADD Sicily x 1 a
        GEOADD Sicily 1 nan a
        GEOADD Sicily -180 -85.05112878 corner 180 85.05112878 other
        GEOPOS Sicily Palermo Catania NonExisting corner other Null
        GEOPOS Sicily
        GEOPOS nokey a b
        GEOHASH Sicily Palermo Catania corner other nope
        GEOHASH nokey a
        GEODIST Sicily Palermo Catania
        GEODIST Sicily Palermo Catania km
        GEODIST Sicily Palermo Catania MI
        GEODIST Sicily Palermo Catania ft
        GEODIST Sicily Palermo Catania yards
        GEODIST Sicily Palermo Catania km x
        GEODIST Sicily Palermo nope
        GEODIST nokey a b
        GEODIST Sicily corner other
        SET str x
        GEOADD str 1 1 a
        GEOPOS str a
        GEODIST str a b
        GEOHASH str a
        GEOSEARCH str FROMLONLAT 1 1 BYRADIUS 1 m
        GEORADIUS str 1 x 1 m
        # Options and their errors, in Redis's order.
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km DESC WITHCOORD WITHDIST WITHHASH
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST
        GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 100 km WITHDIST
        GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 100 km
        GEOSEARCH nokey FROMMEMBER nope BYRADIUS 100 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1 ANY
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 0
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT x
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ANY
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS -1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS x km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 parsecs
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 x km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km
        GEOSEARCH Sicily BYRADIUS 1 km ASC
        GEOSEARCH Sicily FROMLONLAT 15 37 ASC WITHDIST
        GEOSEARCH Sicily FROMLONLAT 200 37 BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km STOREDIST
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km STORE x
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST ASC COUNT 1
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST
        GEOSEARCHSTORE dst Sicily FROMLONLAT 0 0 BYRADIUS 1 km
        EXISTS dst
        SET dst x
        GEOSEARCHSTORE dst nokey FROMLONLAT 0 0 BYRADIUS 1 km
        EXISTS dst
        GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD ASC
        GEORADIUS Sicily 15 37 200 km STORE gr
        ZRANGE gr 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STOREDIST gr DESC
        ZRANGE gr 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STORE gr WITHHASH
        GEORADIUS Sicily 15 37 200 km STORE
        GEORADIUS Sicily 15 37 200 km FROMLONLAT 1 1
        GEORADIUS_RO Sicily 15 37 200 km STORE gr
        GEORADIUS_RO Sicily 15 37 200 km WITHDIST COUNT 1
        GEORADIUS Sicily 15 99 200 km
        GEORADIUS Sicily 15 37 -2 km
        GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST
        GEORADIUSBYMEMBER Sicily nope -1 km
        GEORADIUSBYMEMBER nokey nope -1 km
        GEORADIUSBYMEMBER nokey nope 1 km STORE gr
        EXISTS gr
        GEORADIUSBYMEMBER_RO Sicily Palermo 300 km DESC WITHHASH
        GEOSEARCH Sicily FROMLONLAT 0 0 BYRADIUS 0 m
        GEOSEARCH Sicily FROMMEMBER corner BYRADIUS 0 m
        GEOSEARCH Sicily FROMMEMBER corner BYRADIUS 25000 km
        ",
    );
    // RESP3: coordinates are doubles, distances stay strings.
    d.both(&["HELLO", "3"]);
    d.check_lines(
        "
        GEOPOS Sicily Palermo nope
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHCOORD WITHDIST WITHHASH
        GEODIST Sicily Palermo Catania
        ",
    );
}

#[test]
fn random_searches_find_what_redis_finds_in_its_order() {
    let mut d = Diff::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // (longitude, latitude, spread in degrees) of each cloud of points.
    let places = [
        (13.36, 38.11, 2.0),  // Sicily
        (0.0, 0.0, 5.0),      // the equator and the prime meridian
        (179.5, 10.0, 1.0),   // the antimeridian
        (-70.0, 80.0, 4.0),   // near the pole (wider cells)
        (139.7, 35.7, 0.05),  // a dense city
        (-58.4, -34.6, 30.0), // southern hemisphere, continental spread
    ];
    let (mut searches, mut found_some) = (0, 0);
    for (k, &(lon, lat, spread)) in places.iter().enumerate() {
        let key = format!("places{k}");
        let mut args: Vec<String> = vec!["GEOADD".into(), key.clone()];
        for i in 0..300 {
            let x = (lon + rng.float(-spread, spread)).clamp(-180.0, 180.0);
            let y = (lat + rng.float(-spread, spread)).clamp(-85.0, 85.0);
            args.extend([format!("{x:.6}"), format!("{y:.6}"), format!("m{i}")]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        d.check(&refs);
        let center = (format!("{lon:.4}"), format!("{lat:.4}"));
        for radius in ["0.5", "5", "40", "150", "900", "3000", "7000"] {
            for (shape, extra) in [
                (vec!["BYRADIUS", radius, "km"], vec![]),
                (vec!["BYBOX", radius, radius, "km"], vec!["WITHDIST"]),
                (vec!["BYBOX", radius, "10", "km"], vec![]),
                (vec!["BYRADIUS", radius, "mi"], vec!["COUNT", "7", "ANY"]),
                (
                    vec!["BYRADIUS", radius, "km"],
                    vec!["COUNT", "5", "DESC", "WITHCOORD"],
                ),
            ] {
                let mut cmd = vec![
                    "GEOSEARCH",
                    key.as_str(),
                    "FROMLONLAT",
                    &center.0,
                    &center.1,
                ];
                cmd.extend(shape.iter().copied());
                cmd.extend(extra.iter().copied());
                let reply = d.check(&cmd);
                searches += 1;
                if !reply.starts_with(b"*0\r\n") {
                    found_some += 1;
                }
            }
            let cmd = vec![
                "GEOSEARCH",
                key.as_str(),
                "FROMMEMBER",
                "m17",
                "BYRADIUS",
                radius,
                "km",
            ];
            d.check(&cmd);
            let mut store = vec!["GEOSEARCHSTORE", "stored", key.as_str()];
            store.extend_from_slice(&cmd[2..]);
            store.push("STOREDIST");
            d.check(&store);
            d.check(&["ZRANGE", "stored", "0", "-1", "WITHSCORES"]);
        }
        d.check(&["GEOHASH", &key, "m0", "m1", "m299"]);
        d.check(&["GEOPOS", &key, "m5", "m6"]);
        d.check(&["GEODIST", &key, "m5", "m6", "km"]);
    }
    // The searches must mostly find something, or the comparison proves little.
    assert!(
        found_some * 3 >= searches * 2,
        "only {found_some} of {searches} searches found points"
    );
}
