//! The FUNCTION subcommands and FCALL / FCALL_RO.
//!
//! Invariant: FCALL validates everything it can before any shard is involved (function name,
//! numkeys, `_RO` against the function's flags, CROSSSLOT), then hands the call to the EVAL
//! scheduler; FUNCTION changes go through the registry, which persists before publishing.

use super::registry::Policy;
use crate::commands::is;
use crate::error::CommandError;
use crate::keyspace::glob::glob_match;
use crate::protocol::Reply;
use crate::scripting::eval::{kill, numkeys_with, schedule};
use crate::scripting::run::{ScriptJob, Target};
use crate::server::connection::Conn;
use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Answers FCALL, FCALL_RO and FUNCTION; `None` when the reply was already appended.
pub async fn dispatch(conn: &mut Conn, full: &str, args: Vec<Bytes>) -> Option<Reply> {
    let server = conn.server.clone();
    let functions = &server.scripting.functions;
    let limit = server.config().lua_memory_limit;
    let r: Result<Reply, String> = match full {
        "fcall" | "fcall_ro" => return fcall(conn, full == "fcall_ro", args).await,
        "function|load" => load_args(&args)
            .and_then(|(replace, code)| functions.load(code, replace, limit))
            .map(|name| Reply::Bulk(Bytes::from(name))),
        "function|delete" => functions.delete(&args[2]).map(|_| Reply::ok()),
        "function|list" => list(conn, &args),
        "function|flush" => match args.len() {
            2 => Ok(()),
            3 if is(&args[2], "ASYNC") || is(&args[2], "SYNC") => Ok(()),
            3 => Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into()),
            _ => Err(syntax(&args[1])),
        }
        .and_then(|_| functions.flush())
        .map(|_| Reply::ok()),
        "function|dump" => Ok(Reply::Bulk(Bytes::from(functions.snapshot().dump()))),
        "function|restore" => restore_policy(&args)
            .and_then(|p| functions.restore(&args[2], p, limit))
            .map(|_| Reply::ok()),
        "function|stats" => Ok(stats(conn)),
        "function|kill" => Ok(kill(&server, true)),
        "function|help" => Ok(help()),
        _ => Err(CommandError::Syntax.to_string()),
    };
    if r.is_ok()
        && matches!(
            full,
            "function|load" | "function|delete" | "function|flush" | "function|restore"
        )
    {
        replicate(&server);
    }
    Some(r.unwrap_or_else(Reply::Error))
}

/// Sends the whole library set down the effect stream as `FUNCTION RESTORE <dump> FLUSH`, so
/// followers and the append-only log end up with exactly the leader's libraries (one idempotent
/// command per change, whatever the change was). The set is read under the stream's lock, so
/// concurrent changes are published in order and a snapshot cut never loses or repeats one
/// (`replication::stream::Inner::cut`).
pub fn replicate(server: &crate::server::Server) {
    if !server.effects_wanted() {
        return;
    }
    server
        .repl
        .stream
        .publish_functions(|| Bytes::from(server.scripting.functions.snapshot().dump()));
}

fn syntax(sub: &Bytes) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(sub)
    )
}

/// `FUNCTION LOAD [REPLACE] code`: the code is always the last argument.
fn load_args(args: &[Bytes]) -> Result<(bool, Bytes), String> {
    let code = args[args.len() - 1].clone();
    let mut replace = false;
    for a in &args[2..args.len() - 1] {
        if is(a, "REPLACE") {
            replace = true;
        } else {
            return Err(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(a)
            ));
        }
    }
    Ok((replace, code))
}

fn restore_policy(args: &[Bytes]) -> Result<Policy, String> {
    match args.len() {
        3 => Ok(Policy::Append),
        4 => {
            let p = &args[3];
            if is(p, "FLUSH") {
                Ok(Policy::Flush)
            } else if is(p, "APPEND") {
                Ok(Policy::Append)
            } else if is(p, "REPLACE") {
                Ok(Policy::Replace)
            } else {
                Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into())
            }
        }
        _ => Err(syntax(&args[1])),
    }
}

fn bulk(s: &str) -> Reply {
    Reply::bulk_str(s)
}

fn list(conn: &Conn, args: &[Bytes]) -> Result<Reply, String> {
    let (mut pattern, mut with_code) = (None::<&Bytes>, false);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "WITHCODE") && !with_code {
            with_code = true;
        } else if is(a, "LIBRARYNAME") && pattern.is_none() {
            i += 1;
            pattern = Some(
                args.get(i)
                    .ok_or("ERR library name argument was not given")?,
            );
        } else {
            return Err(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            ));
        }
        i += 1;
    }
    let snap = conn.server.scripting.functions.snapshot();
    let libs = snap
        .libs
        .values()
        .filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), true)))
        .map(|lib| {
            let functions = lib
                .functions
                .iter()
                .map(|f| {
                    Reply::Map(vec![
                        (bulk("name"), bulk(&f.name)),
                        (
                            bulk("description"),
                            f.description.as_deref().map_or(Reply::Nil, bulk),
                        ),
                        (
                            bulk("flags"),
                            Reply::Set(f.flag_names().into_iter().map(Reply::status).collect()),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                (bulk("library_name"), bulk(&lib.name)),
                (bulk("engine"), bulk("LUA")),
                (bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((bulk("library_code"), Reply::Bulk(lib.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Ok(Reply::Array(libs))
}

fn stats(conn: &Conn) -> Reply {
    let scripting = &conn.server.scripting;
    let running = scripting.runs.iter().find_map(|r| {
        let c = r.current.lock().ok()?;
        let f = c.as_ref()?;
        Some(Reply::Map(vec![
            (bulk("name"), bulk(&f.name)),
            (
                bulk("command"),
                Reply::Array(f.command.iter().cloned().map(Reply::Bulk).collect()),
            ),
            (
                bulk("duration_ms"),
                Reply::Int(f.started.elapsed().as_millis() as i64),
            ),
        ]))
    });
    let snap = scripting.functions.snapshot();
    Reply::Map(vec![
        (bulk("running_script"), running.unwrap_or(Reply::Nil)),
        (
            bulk("engines"),
            Reply::Map(vec![(
                bulk("LUA"),
                Reply::Map(vec![
                    (bulk("libraries_count"), Reply::Int(snap.libs.len() as i64)),
                    (
                        bulk("functions_count"),
                        Reply::Int(snap.function_count() as i64),
                    ),
                ]),
            )]),
        ),
    ])
}

async fn fcall(conn: &mut Conn, ro_command: bool, args: Vec<Bytes>) -> Option<Reply> {
    let server = conn.server.clone();
    match prepare(&server, ro_command, args) {
        Ok(job) => schedule(conn, job, crate::metrics::Origin::Fcall).await,
        Err(r) => Some(r),
    }
}

/// Everything FCALL checks before any shard is involved, giving the job to run; `Err` is the
/// reply. Used by FCALL itself and by EXEC for calls queued in a transaction.
pub(crate) fn prepare(
    server: &std::sync::Arc<crate::server::Server>,
    ro_command: bool,
    args: Vec<Bytes>,
) -> Result<Arc<ScriptJob>, Reply> {
    prepare_or_return(server, ro_command, args)
        .map(Arc::new)
        .map_err(|(r, _)| r)
}

/// [`prepare`], handing the command line back with the reply of a refused call.
pub(crate) fn prepare_or_return(
    server: &crate::server::Server,
    ro_command: bool,
    args: Vec<Bytes>,
) -> Result<ScriptJob, (Reply, Vec<Bytes>)> {
    match check(server, ro_command, &args) {
        Ok((target, n, f, slot_rule)) => Ok(ScriptJob {
            target,
            args,
            first_arg: 3 + n,
            read_only: ro_command || f.no_writes,
            allow_oom: f.allow_oom,
            oom: server.oom(),
            single_slot: slot_rule && !f.allow_cross_slot_keys,
            needs: Mutex::new(Vec::new()),
            failures: Default::default(),
        }),
        Err(r) => Err((r, args)),
    }
}

/// FCALL's checks: the function, its key count and flags, and the slot rule.
fn check(
    server: &crate::server::Server,
    ro_command: bool,
    args: &[Bytes],
) -> Result<(Target, usize, crate::scripting::flags::ScriptFlags, bool), Reply> {
    let Some((lib, index)) = server.scripting.functions.function(&args[1]) else {
        return Err(Reply::error("ERR Function not found"));
    };
    let n = match numkeys_with(args, CommandError::err("ERR Bad number of keys provided")) {
        Ok(n) => n,
        Err(e) => return Err(Reply::Error(e.to_string())),
    };
    let Some(f) = lib.functions.get(index).map(|f| f.flags) else {
        return Err(Reply::error("ERR Function not found"));
    };
    // Redis's order, as for EVAL (`scripting::eval`): maxmemory, `no-cluster`, then the
    // refusals of a function that may write.
    if !f.no_writes && !f.allow_oom && server.oom() {
        return Err(Reply::error(crate::server::OOM_ERR));
    }
    if f.no_cluster && server.cluster.is_some() {
        return Err(Reply::error(crate::scripting::eval::NO_CLUSTER));
    }
    if !f.no_writes {
        crate::scripting::eval::script_may_write(server, ro_command)?;
    }
    let slot_rule = server.single_slot_scripts();
    // Declared keys must share a slot even with allow-cross-slot-keys, as for EVAL: a
    // cluster routes the call by them (CROSSSLOT before the function runs); the flag frees
    // only the keys the function reaches through redis.call.
    if slot_rule {
        crate::scripting::eval::declared_keys_in_one_slot(&args[3..3 + n])?;
    }
    Ok((Target::Function { lib, index }, n, f, slot_rule))
}

fn help() -> Reply {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    Reply::help(LINES)
}
