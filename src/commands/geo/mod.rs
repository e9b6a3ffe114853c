//! GEO commands: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE and the older
//! GEORADIUS family. A geo index is a sorted set whose scores are 52-bit geohashes
//! (`hash.rs`), so ZRANGE, ZREM … work on it as in Redis.
//!
//! Invariant: arguments are parsed and checked in Redis's order (its first error wins) before
//! anything is read or written, and a search scans the cells Redis scans in its order, so
//! even unsorted results come back in Redis's order.

mod hash;

use super::flags::*;
use super::zsets::get_zset;
use super::*;
use crate::error::{CmdResult, CommandError};
use crate::keyspace::{Value, ZSet};
use hash::{Shape, ShapeKind};

const G: Group = Group::Geo;

pub const COMMANDS: &[Command] = &[
    Command::new("geoadd", -5, WRITE | DENYOOM, G, geoadd).keys(1, 1, 1),
    Command::new("geopos", -2, READONLY, G, geopos).keys(1, 1, 1),
    Command::new("geodist", -4, READONLY, G, geodist).keys(1, 1, 1),
    Command::new("geohash", -2, READONLY, G, geohash).keys(1, 1, 1),
    Command::new("geosearch", -7, READONLY, G, geosearch).keys(1, 1, 1),
    Command::new("geosearchstore", -8, WRITE | DENYOOM, G, geosearchstore).keys(1, 2, 1),
    Command::new("georadius", -6, WRITE | DENYOOM, G, georadius).custom_keys(radius_keys),
    Command::new("georadius_ro", -6, READONLY, G, georadius_ro).keys(1, 1, 1),
    Command::new(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM,
        G,
        georadiusbymember,
    )
    .custom_keys(radius_keys),
    Command::new(
        "georadiusbymember_ro",
        -5,
        READONLY,
        G,
        georadiusbymember_ro,
    )
    .keys(1, 1, 1),
];

/// GEORADIUS[BYMEMBER]'s keys: the source, and the last STORE/STOREDIST target.
fn radius_keys(args: &[Bytes]) -> Vec<usize> {
    let mut store = None;
    let mut i = 5;
    while i < args.len() {
        if (is(&args[i], "STORE") || is(&args[i], "STOREDIST")) && i + 1 < args.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    std::iter::once(1).chain(store).collect()
}

/// A float argument; `what` names it in the error (`need numeric radius`), else the generic
/// float error.
fn float(arg: &[u8], what: Option<&str>) -> CmdResult<f64> {
    parse_f64(arg).ok_or_else(|| match what {
        Some(w) => CommandError::err(format!("ERR {w}")),
        None => CommandError::NotFloat,
    })
}

/// A longitude and latitude pair within the storable range.
fn lon_lat(lon: &[u8], lat: &[u8]) -> CmdResult<(f64, f64)> {
    let (x, y) = (float(lon, None)?, float(lat, None)?);
    if !hash::valid(x, y) {
        return Err(CommandError::err(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok((x, y))
}

/// Metres per `unit`.
fn unit(arg: &[u8]) -> CmdResult<f64> {
    Ok(if is(arg, "m") {
        1.0
    } else if is(arg, "km") {
        1000.0
    } else if is(arg, "ft") {
        0.3048
    } else if is(arg, "mi") {
        1609.34
    } else {
        return Err(CommandError::err(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ));
    })
}

/// `radius unit`: the radius and metres per unit.
fn radius(args: &[Bytes]) -> CmdResult<(f64, f64)> {
    let r = float(&args[0], Some("need numeric radius"))?;
    if r < 0.0 {
        return Err(CommandError::err("ERR radius cannot be negative"));
    }
    Ok((r, unit(&args[1])?))
}

/// A coordinate as Redis answers it: 17 decimals, trailing zeros dropped; a bulk string in
/// RESP2, a double in RESP3.
fn coord(resp: u8, x: f64) -> Reply {
    let mut s = format!("{x:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    if resp >= 3 {
        Reply::Raw(Bytes::from(format!(",{s}\r\n")))
    } else {
        Reply::Bulk(Bytes::from(s))
    }
}

/// A distance as Redis answers it: four decimals, always a bulk string.
fn dist_reply(d: f64) -> Reply {
    Reply::Bulk(Bytes::from(format!("{d:.4}")))
}

fn pos_reply(resp: u8, score: f64) -> Reply {
    let (lon, lat) = hash::position(hash::score_bits(score));
    Reply::Array(vec![coord(resp, lon), coord(resp, lat)])
}

fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < args.len() {
        let a = &args[first];
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if !is(a, "CH") {
            break;
        }
        first += 1;
    }
    let triples = &args[first..];
    if !triples.len().is_multiple_of(3) || (nx && xx) {
        return Err(CommandError::Syntax);
    }
    // As Redis: every pair is checked, then the whole becomes one ZADD.
    let mut zadd_args: Vec<Bytes> = Vec::with_capacity(first + triples.len() / 3 * 2);
    zadd_args.push(Bytes::from_static(b"zadd"));
    zadd_args.extend_from_slice(&args[1..first]);
    for t in triples.chunks(3) {
        let (lon, lat) = lon_lat(&t[0], &t[1])?;
        let score = hash::score_of(lon, lat).unwrap_or(0);
        zadd_args.push(Bytes::from(score.to_string()));
        zadd_args.push(t[2].clone());
    }
    super::zsets::zadd(ctx, &zadd_args)
}

fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let resp = ctx.resp;
    let z = get_zset(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => pos_reply(resp, s),
                None => Reply::NilArray,
            })
            .collect(),
    ))
}

fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let to_m = match args.len() {
        4 => 1.0,
        5 => unit(&args[4])?,
        _ => return Err(CommandError::Syntax),
    };
    let Some(z) = get_zset(ctx, &args[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(a), Some(b)) = (z.score(&args[2]), z.score(&args[3])) else {
        return Ok(Reply::Nil);
    };
    let ((x1, y1), (x2, y2)) = (
        hash::position(hash::score_bits(a)),
        hash::position(hash::score_bits(b)),
    );
    Ok(dist_reply(hash::distance(x1, y1, x2, y2) / to_m))
}

fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let z = get_zset(ctx, &args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => Reply::Bulk(Bytes::from(hash::geohash_string(hash::score_bits(s)))),
                None => Reply::Nil,
            })
            .collect(),
    ))
}

/// Which command a search is, for its syntax and errors.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS key lon lat radius unit …
    RadiusCoords { store: bool },
    /// GEORADIUSBYMEMBER key member radius unit …
    RadiusMember { store: bool },
    /// GEOSEARCH key … / GEOSEARCHSTORE dst key …
    Search { store: bool },
}

fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search(ctx, args, Form::RadiusCoords { store: true })
}
fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search(ctx, args, Form::RadiusCoords { store: false })
}
fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search(ctx, args, Form::RadiusMember { store: true })
}
fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search(ctx, args, Form::RadiusMember { store: false })
}
fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search(ctx, args, Form::Search { store: false })
}
fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search(ctx, args, Form::Search { store: true })
}

/// One point found by a search.
struct Found {
    member: Bytes,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

const MEMBER_GONE: &str = "ERR could not decode requested zset member";

/// The position of `member` in the set, as FROMMEMBER and GEORADIUSBYMEMBER read it.
fn member_position(z: &ZSet, member: &[u8]) -> CmdResult<(f64, f64)> {
    z.score(member)
        .map(|s| hash::position(hash::score_bits(s)))
        .ok_or_else(|| CommandError::err(MEMBER_GONE))
}

/// Every search command: options parsed as Redis parses them, then the scan of the cells
/// around the centre, then sorting, COUNT and the reply or the stored set.
fn search(ctx: &mut Ctx<'_>, args: &[Bytes], form: Form) -> CmdResult<Reply> {
    let src_at = match form {
        Form::Search { store: true } => 2,
        _ => 1,
    };
    let src = args[src_at].clone();
    // The centre and the shape, for the GEORADIUS forms from fixed positions.
    let mut center: Option<(f64, f64)> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut to_m = 1.0;
    let exists = get_zset(ctx, &src)?.is_some();
    let base = match form {
        Form::RadiusCoords { .. } => {
            center = Some(lon_lat(&args[2], &args[3])?);
            let (r, u) = radius(&args[4..6])?;
            (kind, to_m) = (Some(ShapeKind::Radius(r)), u);
            6
        }
        Form::RadiusMember { .. } => {
            // The member first, as Redis looks it up before reading the radius; without a
            // set Redis 7.0 reads no radius at all (only the options).
            if exists {
                let z = get_zset(ctx, &src)?.ok_or(CommandError::WrongType)?;
                center = Some(member_position(z, &args[2])?);
                let (r, u) = radius(&args[3..5])?;
                (kind, to_m) = (Some(ShapeKind::Radius(r)), u);
            }
            5
        }
        Form::Search { store } => {
            if store {
                3
            } else {
                2
            }
        }
    };
    let search_form = matches!(form, Form::Search { .. });
    let may_store_key = matches!(
        form,
        Form::RadiusCoords { store: true } | Form::RadiusMember { store: true }
    );
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let mut sort: Option<bool> = None; // Some(true) = ascending
    let mut count: i64 = 0;
    let mut store_key: Option<Bytes> = match form {
        Form::Search { store: true } => Some(args[1].clone()),
        _ => None,
    };
    let mut storedist = false;
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let rest = &args[base..];
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        let left = rest.len() - i - 1;
        if is(a, "WITHDIST") {
            withdist = true;
        } else if is(a, "WITHHASH") {
            withhash = true;
        } else if is(a, "WITHCOORD") {
            withcoord = true;
        } else if is(a, "ANY") {
            any = true;
        } else if is(a, "ASC") {
            sort = Some(true);
        } else if is(a, "DESC") {
            sort = Some(false);
        } else if is(a, "COUNT") && left >= 1 {
            count = int_arg(&rest[i + 1])?;
            if count <= 0 {
                return Err(CommandError::err("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(a, "STORE") || is(a, "STOREDIST")) && left >= 1 && may_store_key {
            store_key = Some(rest[i + 1].clone());
            storedist = is(a, "STOREDIST");
            i += 1;
        } else if is(a, "STOREDIST") && matches!(form, Form::Search { store: true }) {
            storedist = true;
        } else if is(a, "FROMMEMBER") && left >= 1 && search_form && !fromloc {
            if exists {
                let z = get_zset(ctx, &src)?.ok_or(CommandError::WrongType)?;
                center = Some(member_position(z, &rest[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if is(a, "FROMLONLAT") && left >= 2 && search_form && !frommember {
            center = Some(lon_lat(&rest[i + 1], &rest[i + 2])?);
            fromloc = true;
            i += 2;
        } else if is(a, "BYRADIUS") && left >= 2 && search_form && !bybox {
            let (r, u) = radius(&rest[i + 1..i + 3])?;
            (kind, to_m) = (Some(ShapeKind::Radius(r)), u);
            byradius = true;
            i += 2;
        } else if is(a, "BYBOX") && left >= 3 && search_form && !byradius {
            let w = float(&rest[i + 1], Some("need numeric width"))?;
            let h = float(&rest[i + 2], Some("need numeric height"))?;
            if h < 0.0 || w < 0.0 {
                return Err(CommandError::err("ERR height or width cannot be negative"));
            }
            to_m = unit(&rest[i + 3])?;
            kind = Some(ShapeKind::Box {
                width: w,
                height: h,
            });
            bybox = true;
            i += 3;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if store_key.is_some() && (withdist || withhash || withcoord) {
        let what = if search_form {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CommandError::err(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    if search_form && !(frommember || fromloc) {
        return Err(CommandError::err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            String::from_utf8_lossy(&args[0])
        )));
    }
    if search_form && !(byradius || bybox) {
        return Err(CommandError::err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            String::from_utf8_lossy(&args[0])
        )));
    }
    if any && count == 0 {
        return Err(CommandError::err(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    let (Some((lon, lat)), Some(kind), true) = (center, kind, exists) else {
        // No source set: nothing found (a store target is deleted).
        return match store_key {
            Some(dst) => {
                let db = ctx.db(&dst)?;
                if db.remove(&dst).is_some() {
                    db.signal(&dst);
                    ctx.dirty(1);
                }
                Ok(Reply::Int(0))
            }
            None => Ok(Reply::Array(Vec::new())),
        };
    };
    // COUNT without ANY returns the nearest: sort ascending unless told otherwise.
    if count != 0 && sort.is_none() && !any {
        sort = Some(true);
    }
    let shape = Shape {
        lon,
        lat,
        to_m,
        kind,
    };
    let limit = if any { count as usize } else { 0 };
    let z = get_zset(ctx, &src)?.ok_or(CommandError::WrongType)?;
    let mut found = scan(z, &shape, limit);
    if found.is_empty() && store_key.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    let returned = if count == 0 {
        found.len()
    } else {
        found.len().min(count as usize)
    };
    if let Some(asc) = sort {
        found.sort_by(|a, b| {
            let o = a
                .dist
                .partial_cmp(&b.dist)
                .unwrap_or(std::cmp::Ordering::Equal);
            if asc {
                o
            } else {
                o.reverse()
            }
        });
    }
    found.truncate(returned);
    for f in &mut found {
        f.dist /= to_m;
    }
    let Some(dst) = store_key else {
        let resp = ctx.resp;
        let extras = [withdist, withhash, withcoord]
            .iter()
            .filter(|&&b| b)
            .count();
        let out = found
            .into_iter()
            .map(|f| {
                if extras == 0 {
                    return Reply::Bulk(f.member);
                }
                let mut item = vec![Reply::Bulk(f.member)];
                if withdist {
                    item.push(dist_reply(f.dist));
                }
                if withhash {
                    item.push(Reply::Int(f.score as i64));
                }
                if withcoord {
                    item.push(Reply::Array(vec![coord(resp, f.lon), coord(resp, f.lat)]));
                }
                Reply::Array(item)
            })
            .collect();
        return Ok(Reply::Array(out));
    };
    let n = found.len();
    let db = ctx.db(&dst)?;
    if n > 0 {
        let mut set = ZSet::default();
        for f in &found {
            set.insert(&f.member, if storedist { f.dist } else { f.score });
        }
        db.set(&dst, Value::ZSet(Box::new(set)));
        // Only the target is written (the source is read): it alone wakes WATCH and waiters.
        db.signal(&dst);
        ctx.dirty(n as u64);
    } else if db.remove(&dst).is_some() {
        db.signal(&dst);
        ctx.dirty(1);
    }
    Ok(Reply::Int(n as i64))
}

/// The members inside `shape`, cell by cell in Redis's order and by score within a cell;
/// with `limit`, stops once that many are found (ANY).
fn scan(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    for cell in hash::cells_to_scan(&hash::search_cells(shape)) {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = cell.score_range();
        let (min, max) = (min as f64, max as f64);
        let start = z.count_before(|s, _| s < min);
        for (member, score) in z.iter_from(start) {
            if score >= max {
                break;
            }
            let (lon, lat) = hash::position(hash::score_bits(score));
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Found {
                    member: member.to_bytes(),
                    score,
                    dist,
                    lon,
                    lat,
                });
                if limit > 0 && found.len() >= limit {
                    break;
                }
            }
        }
    }
    found
}
