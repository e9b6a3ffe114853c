//! Server administration commands: INFO, CONFIG, SLOWLOG, DEBUG, SHUTDOWN, LASTSAVE.
//!
//! Invariant: these look at or change the server as a whole, never one client's state, so
//! EXEC may run them after its unit (INFO, which reads the data, runs inside it). DEBUG is
//! refused before dispatch unless `enable-debug-command` allows this client.

pub mod config;
pub mod debug;
pub mod digest;
pub mod info;
pub mod slowlog;

use super::connection::Conn;
use crate::commands::{self, is, CmdRef};
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;

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
        || matches!(
            name,
            "info" | "debug" | "shutdown" | "lastsave" | "bgrewriteaof"
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
        "debug" => debug::command(conn, &args).await,
        "lastsave" => Ok(Reply::Int((conn.server.started_unix_ms / 1000) as i64)),
        "bgrewriteaof" => match conn.server.aof.get() {
            None => Err(CommandError::err(
                "ERR the append-only log is off (appendonly no); luagate has no snapshot file to write instead",
            )),
            Some(_) if crate::persistence::aof::start_rewrite(&conn.server) => {
                Ok(Reply::status("Background append only file rewriting started"))
            }
            Some(_) => Err(CommandError::err(
                "ERR Background append only file rewriting already in progress",
            )),
        },
        "shutdown" => match shutdown(conn, &args) {
            Ok(()) => return None,
            Err(e) => Err(e),
        },
        _ => Err(CommandError::Syntax),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] | SHUTDOWN ABORT. There is nothing to save and no
/// replica to wait for, so every accepted form stops the server at once: the listener
/// closes, queued units finish, shard threads stop and the process exits with status 0. The
/// client gets no reply; its connection closes.
fn shutdown(conn: &mut Conn, args: &[Bytes]) -> Result<(), CommandError> {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for a in &args[1..] {
        if is(a, "NOSAVE") {
            nosave = true;
        } else if is(a, "SAVE") {
            save = true;
        } else if is(a, "NOW") || is(a, "FORCE") {
            other = true;
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
    tracing::warn!(client = conn.info.id, "SHUTDOWN requested, exiting");
    conn.server.shutdown.notify_one();
    conn.close = true;
    Ok(())
}
