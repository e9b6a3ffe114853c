//! Server administration commands: INFO, CONFIG, SLOWLOG, LATENCY, DEBUG, SHUTDOWN, and the
//! persistence commands SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE.
//!
//! Invariant: these look at or change the server as a whole, never one client's state, so
//! EXEC may run them after its unit (INFO, which reads the data, runs inside it). DEBUG is
//! refused before dispatch unless `enable-debug-command` allows this client.

pub mod config;
mod config_params;
pub mod debug;
pub mod digest;
pub mod info;
pub mod latency;
pub mod slowlog;

use super::connection::Conn;
use crate::commands::{self, is, CmdRef};
use crate::error::CommandError;
use crate::persistence::{self, aof::Rewrite};
use crate::protocol::Reply;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Whether this client may run DEBUG: `yes`, or `local` from a loopback address.
pub fn debug_allowed(conn: &Conn) -> bool {
    match conn.server.config().enable_debug_command.as_str() {
        "yes" => true,
        "local" => conn.info.addr.ip().is_loopback(),
        _ => false,
    }
}

/// Whether `cmd` is answered here.
pub fn owns(cmd: CmdRef) -> bool {
    let name = commands::full_name(cmd.id);
    name.starts_with("config|")
        || name.starts_with("slowlog|")
        || name.starts_with("latency|")
        || name.starts_with("module|")
        || matches!(
            name,
            "info" | "debug" | "shutdown" | "lastsave" | "bgrewriteaof" | "save" | "bgsave"
        )
}

/// Runs one of this module's commands; `None` when no reply is due (SHUTDOWN).
pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    let r = match commands::full_name(cmd.id) {
        "info" => Ok(info::command(conn, &args).await),
        "config|get" => config::get(conn, &args),
        "config|set" => config::set(conn, &args),
        "config|resetstat" => config::resetstat(conn).await,
        "config|rewrite" => config::rewrite(conn),
        "config|help" => Ok(config::help()),
        sub @ ("slowlog|get" | "slowlog|len" | "slowlog|reset" | "slowlog|help") => {
            slowlog::command(conn, sub, &args)
        }
        sub if sub.starts_with("latency|") => latency::command(conn, sub, &args),
        "debug" => debug::command(conn, &args).await,
        // No modules: none listed, and loading refused as Redis refuses it by default
        // (`enable-module-command no`).
        "module|list" => Ok(Reply::Array(Vec::new())),
        "module|load" | "module|loadex" | "module|unload" => Err(CommandError::err(
            "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        )),
        "module|help" => Ok(Reply::help(&[
            "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
            "HELP",
            "    Prints this help.",
        ])),
        "lastsave" => Ok(Reply::Int(persistence::lastsave(&conn.server))),
        "save" => match persistence::save::save(&conn.server).await {
            Ok(()) => Ok(Reply::ok()),
            Err(e) if e.starts_with("ERR ") => Err(CommandError::err(e)),
            Err(_) => Err(CommandError::err("ERR")),
        },
        "bgsave" => bgsave(conn, &args),
        "bgrewriteaof" => match persistence::aof::start_rewrite(&conn.server) {
            Rewrite::Off => Err(CommandError::err(
                "ERR the append-only log is off (appendonly no); use BGSAVE for a snapshot file",
            )),
            Rewrite::Started => Ok(Reply::status(
                "Background append only file rewriting started",
            )),
            Rewrite::Scheduled => Ok(Reply::status(
                "Background append only file rewriting scheduled",
            )),
            Rewrite::Running => Err(CommandError::err(
                "ERR Background append only file rewriting already in progress",
            )),
        },
        "shutdown" => match shutdown(conn, &args).await {
            Ok(()) => return None,
            Err(e) => Err(e),
        },
        _ => Err(CommandError::Syntax),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

/// BGSAVE [SCHEDULE].
fn bgsave(conn: &mut Conn, args: &[Bytes]) -> Result<Reply, CommandError> {
    let schedule = match args.len() {
        1 => false,
        2 if is(&args[1], "SCHEDULE") => true,
        _ => return Err(CommandError::Syntax),
    };
    let server = &conn.server;
    match persistence::save::start_bgsave(server) {
        Ok(()) => Ok(Reply::status("Background saving started")),
        Err(e) if e == persistence::save::CHILD_ACTIVE && schedule => {
            server.persist.save_scheduled.store(true, Relaxed);
            Ok(Reply::status("Background saving scheduled"))
        }
        Err(e) => Err(CommandError::err(e)),
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] | SHUTDOWN ABORT. SAVE writes the snapshot file first
/// (a failure refuses the shutdown, as Redis does, unless FORCE); no save points exist, so
/// without SAVE nothing is saved. Then the server stops: the listener closes, queued units
/// finish, shard threads stop, the log is fsynced and the process exits with status 0. The
/// client gets no reply; its connection closes.
async fn shutdown(conn: &mut Conn, args: &[Bytes]) -> Result<(), CommandError> {
    let (mut nosave, mut save, mut abort, mut other, mut force) =
        (false, false, false, false, false);
    for a in &args[1..] {
        if is(a, "NOSAVE") {
            nosave = true;
        } else if is(a, "SAVE") {
            save = true;
        } else if is(a, "NOW") {
            other = true;
        } else if is(a, "FORCE") {
            other = true;
            force = true;
        } else if is(a, "ABORT") {
            abort = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        return Err(CommandError::Syntax);
    }
    if abort {
        return Err(CommandError::err("ERR No shutdown in progress."));
    }
    if save {
        if let Err(e) = persistence::save::save(&conn.server).await {
            tracing::warn!(error = %e, "SHUTDOWN SAVE could not save");
            if !force {
                return Err(CommandError::err(
                    "ERR Errors trying to SHUTDOWN. Check logs.",
                ));
            }
        }
    }
    tracing::warn!(client = conn.info.id, "SHUTDOWN requested, exiting");
    conn.server.shutdown.notify_one();
    conn.close = true;
    Ok(())
}
