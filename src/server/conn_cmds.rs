//! Commands answered by the connection layer: they read or change per-client state, or look at
//! the server as a whole. `dispatch` maps a command name to its handler.

use super::client::Block;
use super::connection::Conn;
use crate::commands::{self, is, CmdRef};
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub const VERSION: &str = "7.2.0";

/// Runs a connection-level command. `None` means the handler already wrote its reply.
/// The reply of a connection command that needs nothing but a look at its arguments (PING,
/// ECHO), so the caller keeps them (for the slow log) without a copy.
pub fn by_ref(cmd: CmdRef, args: &[Bytes]) -> Option<Reply> {
    match cmd.cmd.name {
        "ping" => Some(match args {
            [_] => Reply::status("PONG"),
            [_, a] => Reply::Bulk(a.clone()),
            // Its arity (-1) admits more; PING itself refuses them.
            _ => Reply::Error(CommandError::WrongArity("ping".into()).to_string()),
        }),
        "echo" => Some(Reply::Bulk(args.get(1)?.clone())),
        _ => None,
    }
}

pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    if crate::replication::cmds::owns(cmd) {
        return crate::replication::cmds::dispatch(conn, cmd, args).await;
    }
    if super::admin::owns(cmd) {
        return super::admin::dispatch(conn, cmd, args).await;
    }
    if cmd.cmd.group == commands::Group::Scripting {
        return crate::scripting::eval::dispatch(conn, cmd, args).await;
    }
    if cmd.cmd.group == commands::Group::PubSub {
        return super::pubsub_cmds::dispatch(conn, cmd, args).await;
    }
    if super::acl::owns(cmd) {
        return Some(super::acl::dispatch(conn, cmd, &args));
    }
    if crate::cluster::cmds::owns(cmd) {
        return crate::cluster::cmds::dispatch(conn, cmd, args).await;
    }
    if let Some(r) = by_ref(cmd, &args) {
        return Some(r);
    }
    let r = match cmd.cmd.name {
        "select" => select(conn, &args),
        "quit" => {
            conn.close = true;
            Ok(Reply::ok())
        }
        "monitor" => return monitor(conn),
        "reset" => {
            super::multi::discard(conn).await;
            if conn.monitor.take().is_some() {
                conn.server.monitors.remove(conn.info.id);
                conn.info.monitor.store(false, Relaxed);
            }
            conn.info.readonly.store(false, Relaxed);
            super::pubsub_cmds::leave(conn);
            super::tracking::cmds::turn_off(conn);
            conn.no_touch = false;
            conn.info.no_touch.store(false, Relaxed);
            conn.db = 0;
            conn.resp = 2;
            conn.info.db.store(0, Relaxed);
            conn.info.resp.store(2, Relaxed);
            if let Ok(mut n) = conn.info.name.lock() {
                n.clear();
            }
            conn.authenticated = conn.server.config().requirepass.is_none();
            Ok(Reply::status("RESET"))
        }
        "auth" => auth(conn, &args),
        "hello" => hello(conn, &args),
        "lolwut" => super::lolwut::lolwut(&args, VERSION),
        "migrate" => super::migrate::migrate(conn, &args).await,
        "time" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Ok(Reply::Array(vec![
                Reply::bulk_str(&now.as_secs().to_string()),
                Reply::bulk_str(&now.subsec_micros().to_string()),
            ]))
        }
        "id" | "setname" | "getname" | "setinfo" | "list" | "info" | "kill" | "unblock"
        | "no-evict" | "getredir" | "trackinginfo" | "reply" | "pause" | "unpause" | "tracking"
        | "caching" | "no-touch"
            if is_client(cmd) =>
        {
            client(conn, cmd, &args)
        }
        "count" | "list" | "info" | "docs" | "getkeys" | "getkeysandflags" | "help"
            if is_command(cmd) =>
        {
            super::introspect::command(cmd, &args)
        }
        "command" => super::introspect::command_all(),
        "help" if is_client(cmd) => Ok(Reply::help(&[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "ID",
            "    Return the ID of the current connection.",
            "GETNAME",
            "    Return the name of the current connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)]",
            "    Return information about client connections.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
            "HELP",
            "    Print this help.",
        ])),
        other => Err(CommandError::err(format!(
            "ERR command '{other}' is not available yet"
        ))),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

/// Whether `v` may be a client name or attribute: printable ASCII without spaces, so every
/// CLIENT LIST line still splits on spaces (Redis's rule for SETNAME, HELLO SETNAME, SETINFO).
fn splittable(v: &[u8]) -> bool {
    v.iter().all(|&c| c > b' ' && c <= b'~')
}

fn is_client(cmd: CmdRef) -> bool {
    commands::full_name(cmd.id).starts_with("client|")
}

fn is_command(cmd: CmdRef) -> bool {
    commands::full_name(cmd.id).starts_with("command|")
}

/// MONITOR: from now on the client gets a line per command the server runs. Again on a
/// monitor: no reply at all, as Redis.
fn monitor(conn: &mut Conn) -> Option<Reply> {
    if conn.in_exec {
        return Some(Reply::error(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if conn.monitor.is_some() {
        return None;
    }
    conn.monitor = Some(conn.server.monitors.add(conn.info.id));
    conn.info.monitor.store(true, Relaxed);
    Some(Reply::ok())
}

fn select(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let idx = commands::keys::select_index(&conn.server, &args[1])?;
    conn.db = idx;
    conn.info.db.store(idx as u64, Relaxed);
    Ok(Reply::ok())
}

fn check_password(conn: &Conn, user: Option<&[u8]>, pass: &[u8]) -> Result<(), CommandError> {
    let cfg = conn.server.config();
    let user_ok = user.is_none_or(|u| u == b"default");
    match &cfg.requirepass {
        Some(p) if user_ok && p.as_bytes() == pass => Ok(()),
        None if user_ok => Ok(()),
        _ => Err(CommandError::err(
            "WRONGPASS invalid username-password pair or user is disabled.",
        )),
    }
}

fn auth(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    if args.len() > 3 {
        return Err(CommandError::Syntax);
    }
    if args.len() == 2 && conn.server.config().requirepass.is_none() {
        return Err(CommandError::err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, pass) = if args.len() == 3 {
        (Some(&args[1][..]), &args[2])
    } else {
        (None, &args[1])
    };
    check_password(conn, user, pass)?;
    conn.authenticated = true;
    Ok(Reply::ok())
}

fn hello(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let mut proto = None;
    let mut i = 1;
    if args.len() > 1 {
        let v = commands::parse_i64(&args[1]).ok_or_else(|| {
            CommandError::err("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(CommandError::err("NOPROTO unsupported protocol version"));
        }
        proto = Some(v as u8);
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "AUTH") && more >= 2 {
            check_password(conn, Some(&args[i + 1]), &args[i + 2])?;
            conn.authenticated = true;
            i += 3;
        } else if is(&args[i], "SETNAME") && more >= 1 {
            let n = &args[i + 1];
            if !splittable(n) {
                return Err(CommandError::err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            name = Some(String::from_utf8_lossy(n).into_owned());
            i += 2;
        } else {
            return Err(CommandError::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if !conn.authenticated {
        return Err(CommandError::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        if let Ok(mut cur) = conn.info.name.lock() {
            *cur = n;
        }
    }
    if let Some(p) = proto {
        conn.resp = p;
        conn.info.resp.store(p, Relaxed);
    }
    Ok(Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (Reply::bulk_str("version"), Reply::bulk_str(VERSION)),
        (Reply::bulk_str("proto"), Reply::Int(conn.resp as i64)),
        (Reply::bulk_str("id"), Reply::Int(conn.info.id as i64)),
        (
            Reply::bulk_str("mode"),
            Reply::bulk_str(if conn.server.cluster.is_some() {
                "cluster"
            } else {
                "standalone"
            }),
        ),
        (Reply::bulk_str("role"), Reply::bulk_str("master")),
        (Reply::bulk_str("modules"), Reply::Array(vec![])),
    ]))
}

fn client(conn: &mut Conn, cmd: CmdRef, args: &[Bytes]) -> Result<Reply, CommandError> {
    match cmd.cmd.name {
        "id" => Ok(Reply::Int(conn.info.id as i64)),
        "getname" => {
            let n = conn.info.name.lock().map(|n| n.clone()).unwrap_or_default();
            Ok(if n.is_empty() {
                Reply::Nil
            } else {
                Reply::bulk_str(&n)
            })
        }
        "setname" => {
            let n = &args[2];
            if !splittable(n) {
                return Err(CommandError::err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            if let Ok(mut cur) = conn.info.name.lock() {
                *cur = String::from_utf8_lossy(n).into_owned();
            }
            Ok(Reply::ok())
        }
        "setinfo" => {
            // Redis 7.2's rules: a known attribute, then the same character set as names
            // (CLIENT LIST stays splittable on spaces); an empty value clears it.
            let attr = String::from_utf8_lossy(&args[2]).into_owned();
            let lower = attr.to_ascii_lowercase();
            if lower != "lib-name" && lower != "lib-ver" {
                return Err(CommandError::err(format!(
                    "ERR Unrecognized option '{attr}'"
                )));
            }
            let v = &args[3];
            if !splittable(v) {
                return Err(CommandError::err(format!(
                    "ERR {attr} cannot contain spaces, newlines or special characters."
                )));
            }
            if let Ok(mut lib) = conn.info.lib.lock() {
                let slot = if lower == "lib-name" {
                    &mut lib.0
                } else {
                    &mut lib.1
                };
                *slot = String::from_utf8_lossy(v).into_owned();
            }
            Ok(Reply::ok())
        }
        "info" => Ok(Reply::Verbatim(
            "txt",
            Bytes::from(conn.info.describe() + "\n"),
        )),
        "list" => {
            let mut s = String::new();
            let mut ids: Option<Vec<u64>> = None;
            let mut kind: Option<&str> = None;
            let mut i = 2;
            while i < args.len() {
                if is(&args[i], "ID") {
                    let mut v = Vec::new();
                    for a in &args[i + 1..] {
                        let id = commands::parse_i64(a)
                            .filter(|&x| x > 0)
                            .ok_or_else(|| CommandError::err("ERR Invalid client ID"))?;
                        v.push(id as u64);
                    }
                    if v.is_empty() {
                        return Err(CommandError::Syntax);
                    }
                    ids = Some(v);
                    break;
                } else if is(&args[i], "TYPE") && i + 1 < args.len() {
                    let t = String::from_utf8_lossy(&args[i + 1]).to_ascii_lowercase();
                    if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                        return Err(CommandError::err(format!("ERR Unknown client type '{t}'")));
                    }
                    kind = Some(match t.as_str() {
                        "normal" => "normal",
                        "pubsub" => "pubsub",
                        "master" => "master",
                        _ => "replica",
                    });
                    i += 2;
                } else {
                    return Err(CommandError::Syntax);
                }
            }
            for c in conn.server.clients.all() {
                if ids.as_ref().is_some_and(|v| !v.contains(&c.id))
                    || kind.is_some_and(|k| k != c.kind())
                {
                    continue;
                }
                s.push_str(&c.describe());
                s.push('\n');
            }
            Ok(Reply::Verbatim("txt", Bytes::from(s)))
        }
        "kill" => client_kill(conn, args),
        "unblock" => {
            if args.len() > 4 {
                return Err(CommandError::err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                    String::from_utf8_lossy(&args[1])
                )));
            }
            let id = commands::parse_i64(&args[2]).ok_or(CommandError::NotInteger)?;
            let how = match args.get(3) {
                None => Block::UnblockTimeout,
                Some(a) if is(a, "TIMEOUT") => Block::UnblockTimeout,
                Some(a) if is(a, "ERROR") => Block::UnblockError,
                Some(_) => {
                    return Err(CommandError::err(
                        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                    ))
                }
            };
            let done = u64::try_from(id)
                .ok()
                .and_then(|id| conn.server.clients.get(id))
                .is_some_and(|c| c.unblock(how));
            Ok(Reply::Int(i64::from(done)))
        }
        "no-evict" => {
            let on = commands::on_off(&args[2])?;
            conn.info.no_evict.store(on, Relaxed);
            Ok(Reply::ok())
        }
        "reply" => {
            use super::conn_modes::ReplyMode;
            // OFF and SKIP answer nothing; ON answers +OK (and SKIP under OFF changes nothing).
            let silent = Reply::Raw(Bytes::new());
            if is(&args[2], "ON") {
                conn.reply_mode = ReplyMode::On;
                Ok(Reply::ok())
            } else if is(&args[2], "OFF") {
                conn.reply_mode = ReplyMode::Off;
                Ok(silent)
            } else if is(&args[2], "SKIP") {
                if conn.reply_mode != ReplyMode::Off {
                    conn.reply_mode = ReplyMode::SkipNext;
                }
                Ok(silent)
            } else {
                Err(CommandError::Syntax)
            }
        }
        "pause" => {
            use super::pause::Mode;
            let ms = commands::timeout_ms_arg(&args[2])? as i64;
            let mode = match args.get(3) {
                None => Mode::All,
                Some(a) if is(a, "ALL") => Mode::All,
                Some(a) if is(a, "WRITE") => Mode::Write,
                Some(_) => {
                    return Err(CommandError::err(
                        "ERR CLIENT PAUSE mode must be WRITE or ALL",
                    ))
                }
            };
            if args.len() > 4 {
                return Err(CommandError::err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                    String::from_utf8_lossy(&args[1])
                )));
            }
            // Redis adds the timeout to its clock in milliseconds: past the end of that
            // range the sum wraps into the past, so the pause is over before it starts.
            let now_ms = crate::clock::unix_ms() as i64;
            if now_ms.checked_add(ms).is_none() {
                return Ok(Reply::ok());
            }
            let now = std::time::Instant::now();
            let far = std::time::Duration::from_secs(100 * 365 * 86_400);
            let until = now
                .checked_add(std::time::Duration::from_millis(ms as u64))
                .unwrap_or(now + far);
            conn.server.pause.pause(until, mode);
            Ok(Reply::ok())
        }
        "unpause" => {
            conn.server.pause.unpause();
            Ok(Reply::ok())
        }
        "tracking" => super::tracking::cmds::tracking(conn, args),
        "caching" => super::tracking::cmds::caching(conn, args),
        "getredir" => Ok(super::tracking::cmds::getredir(conn)),
        "trackinginfo" => Ok(super::tracking::cmds::trackinginfo(conn)),
        "no-touch" => super::tracking::cmds::no_touch(conn, args),
        _ => Err(CommandError::Syntax),
    }
}

fn client_kill(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let clients = conn.server.clients.all();
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        return match clients.iter().find(|c| c.addr.to_string() == addr) {
            Some(c) => {
                if c.id == conn.info.id {
                    conn.close = true;
                } else {
                    c.kill();
                }
                Ok(Reply::ok())
            }
            None => Err(CommandError::err("ERR No such client")),
        };
    }
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CommandError::Syntax);
        }
        filters.push((
            String::from_utf8_lossy(&args[i]).to_ascii_lowercase(),
            String::from_utf8_lossy(&args[i + 1]).into_owned(),
        ));
        i += 2;
    }
    let mut skipme = true;
    for (k, v) in &filters {
        match k.as_str() {
            "id" => {
                if commands::parse_i64(v.as_bytes())
                    .filter(|&x| x > 0)
                    .is_none()
                {
                    return Err(CommandError::err("ERR client-id should be greater than 0"));
                }
            }
            "addr" | "laddr" => {}
            // The one user there is (src/server/acl.rs); names are case-sensitive.
            "user" if v != "default" => {
                return Err(CommandError::err(format!("ERR No such user '{v}'")));
            }
            "user" => {}
            "type" => {
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .contains(&v.to_ascii_lowercase().as_str())
                {
                    return Err(CommandError::err(format!("ERR Unknown client type '{v}'")));
                }
            }
            "skipme" => match v.to_ascii_lowercase().as_str() {
                "yes" => skipme = true,
                "no" => skipme = false,
                _ => return Err(CommandError::Syntax),
            },
            _ => return Err(CommandError::Syntax),
        }
    }
    let mut killed = 0;
    for c in clients {
        let matches = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => c.id.to_string() == *v,
            "addr" => c.addr.to_string() == *v,
            "laddr" => c.laddr.to_string() == *v,
            // A leader's link acts as no user (Redis: `(superuser)`, which no USER names).
            "user" => v == "default" && c.role.load(Relaxed) != super::client::MASTER,
            "type" => {
                let v = v.to_ascii_lowercase();
                c.kind() == if v == "slave" { "replica" } else { v.as_str() }
            }
            _ => true,
        });
        if !matches {
            continue;
        }
        if c.id == conn.info.id {
            if skipme {
                continue;
            }
            conn.close = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    Ok(Reply::Int(killed))
}
