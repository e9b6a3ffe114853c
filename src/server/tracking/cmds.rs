//! CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and NO-TOUCH: parsing, Redis's checks in
//! Redis's order and error texts, and the replies. Each handler changes only the calling
//! connection's own state and its entry in the registry.

use super::{Options, Tracker};
use crate::commands::{self, is};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::server::connection::Conn;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

fn err(msg: &str) -> CommandError {
    CommandError::err(format!("ERR {msg}"))
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP].
pub fn tracking(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut opts = Options::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let a = &args[i];
        if is(a, "REDIRECT") && more {
            i += 1;
            if opts.redirect != 0 {
                return Err(err("A client can only redirect to a single other client"));
            }
            let id = commands::parse_i64(&args[i]).ok_or(CommandError::NotInteger)?;
            let exists = u64::try_from(id)
                .ok()
                .filter(|&id| id != 0)
                .is_some_and(|id| conn.server.clients.get(id).is_some());
            if !exists {
                return Err(err("The client ID you want redirect to does not exist"));
            }
            opts.redirect = id as u64;
        } else if is(a, "BCAST") {
            opts.bcast = true;
        } else if is(a, "OPTIN") {
            opts.optin = true;
        } else if is(a, "OPTOUT") {
            opts.optout = true;
        } else if is(a, "NOLOOP") {
            opts.noloop = true;
        } else if is(a, "PREFIX") && more {
            i += 1;
            prefixes.push(args[i].clone());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if is(&args[2], "OFF") {
        turn_off(conn);
        return Ok(Reply::ok());
    }
    if !is(&args[2], "ON") {
        return Err(CommandError::Syntax);
    }
    if !opts.bcast && !prefixes.is_empty() {
        return Err(err("PREFIX option requires BCAST mode to be enabled"));
    }
    let current = conn.tracking.clone();
    if let Some(cur) = &current {
        if cur.opts.bcast != opts.bcast {
            return Err(err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
    }
    if opts.bcast && (opts.optin || opts.optout) {
        return Err(err("OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if opts.optin && opts.optout {
        return Err(err("You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if let Some(cur) = &current {
        if (opts.optin && cur.opts.optout) || (opts.optout && cur.opts.optin) {
            return Err(err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
    }
    let existing: &[Bytes] = current.as_deref().map_or(&[], |t| &t.prefixes);
    if opts.bcast {
        check_overlaps(existing, &prefixes)?;
    }
    // The prefixes accumulate over successive CLIENT TRACKING ON calls; BCAST without any
    // means every key (the empty prefix), added without an overlap check, as Redis does.
    let mut all: Vec<Bytes> = existing.to_vec();
    if opts.bcast {
        if prefixes.is_empty() {
            prefixes.push(Bytes::new());
        }
        for p in prefixes {
            if !all.contains(&p) {
                all.push(p);
            }
        }
        all.sort();
    }
    let t = conn.server.tracking.enable(Tracker {
        info: conn.info.clone(),
        opts,
        prefixes: all,
    });
    conn.info.set_tracking(true, opts.bcast, opts.redirect);
    conn.tracking = Some(t);
    Ok(Reply::ok())
}

/// Redis's overlap rule: no new prefix may be a prefix of (or equal to) an existing one or
/// another new one, or the reverse.
fn check_overlaps(existing: &[Bytes], new: &[Bytes]) -> Result<(), CommandError> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(p, e)) {
            return Err(err(&format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                s(p),
                s(e)
            )));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(err(&format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                s(p),
                s(q)
            )));
        }
    }
    Ok(())
}

/// Tracking off (CLIENT TRACKING OFF, RESET, disconnect): options, prefixes and CACHING go.
pub fn turn_off(conn: &mut Conn) {
    if conn.tracking.take().is_some() {
        conn.server.tracking.disable(conn.info.id);
    }
    conn.caching = false;
    conn.info.set_tracking(false, false, 0);
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked, in OPTIN or OPTOUT
/// mode.
pub fn caching(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let Some(t) = conn.tracking.as_deref() else {
        return Err(err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    };
    let v = &args[2];
    if is(v, "YES") {
        if !t.opts.optin {
            return Err(err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(v, "NO") {
        if !t.opts.optout {
            return Err(err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CommandError::Syntax);
    }
    conn.caching = true;
    Ok(Reply::ok())
}

/// CLIENT GETREDIR: -1 when not tracking, 0 when tracking without a redirect.
pub fn getredir(conn: &Conn) -> Reply {
    Reply::Int(
        conn.tracking
            .as_deref()
            .map_or(-1, |t| t.opts.redirect as i64),
    )
}

/// CLIENT TRACKINGINFO: flags, redirect and prefixes, as Redis lists them.
pub fn trackinginfo(conn: &Conn) -> Reply {
    let mut flags = Vec::new();
    let (redirect, prefixes) = match conn.tracking.as_deref() {
        None => {
            flags.push("off");
            (-1, Vec::new())
        }
        Some(t) => {
            let o = &t.opts;
            flags.push("on");
            for (on, name) in [(o.bcast, "bcast"), (o.optin, "optin"), (o.optout, "optout")] {
                if on {
                    flags.push(name);
                }
            }
            if conn.caching && o.optin {
                flags.push("caching-yes");
            }
            if conn.caching && o.optout {
                flags.push("caching-no");
            }
            if o.noloop {
                flags.push("noloop");
            }
            if conn.info.tracking_broken() {
                flags.push("broken_redirect");
            }
            let p = t.prefixes.iter().map(|p| Reply::Bulk(p.clone())).collect();
            (o.redirect as i64, p)
        }
    };
    Reply::Map(vec![
        (
            Reply::bulk_str("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk_str).collect()),
        ),
        (Reply::bulk_str("redirect"), Reply::Int(redirect)),
        (Reply::bulk_str("prefixes"), Reply::Array(prefixes)),
    ])
}

/// CLIENT NO-TOUCH ON|OFF (Redis 7.2): the client's commands leave keys' access time alone,
/// TOUCH excepted.
pub fn no_touch(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let on = crate::commands::on_off(&args[2])?;
    conn.no_touch = on;
    conn.info.no_touch.store(on, Relaxed);
    Ok(Reply::ok())
}
