//! ACL for luagate's one user, `default`: what Redis 7.0 answers about its default user (with or
//! without `requirepass`), so tools that read ACL state work. Creating, changing or loading
//! users is refused with a clear error: there is no other user.
//!
//! Invariant: every answer here is derived from the configuration (the password) and the
//! command table; nothing is stored.

use super::connection::Conn;
use crate::commands::{self, CmdRef};
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Redis's ACL categories, in ACL CAT's order.
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

pub fn owns(cmd: CmdRef) -> bool {
    commands::full_name(cmd.id).starts_with("acl|")
}

pub fn dispatch(conn: &mut Conn, cmd: CmdRef, args: &[Bytes]) -> Reply {
    run(conn, cmd, args).unwrap_or_else(|e| Reply::Error(e.to_string()))
}

fn run(conn: &mut Conn, cmd: CmdRef, args: &[Bytes]) -> Result<Reply, CommandError> {
    let password = conn.server.config().requirepass.clone();
    let is_default = |name: &[u8]| name == b"default";
    Ok(match cmd.cmd.name {
        "whoami" => Reply::bulk_str("default"),
        "users" => Reply::Array(vec![Reply::bulk_str("default")]),
        "list" => {
            let auth = match &password {
                Some(p) => format!("#{}", sha256_hex(p)),
                None => "nopass".into(),
            };
            Reply::Array(vec![Reply::bulk(format!(
                "user default on {auth} ~* &* +@all"
            ))])
        }
        "getuser" if !is_default(&args[2]) => Reply::Nil,
        "getuser" => {
            let mut flags = vec![Reply::bulk_str("on")];
            let passwords = match &password {
                Some(p) => vec![Reply::bulk(sha256_hex(p))],
                None => {
                    flags.push(Reply::bulk_str("nopass"));
                    Vec::new()
                }
            };
            let field = |k: &'static str, v: Reply| (Reply::bulk_str(k), v);
            Reply::Map(vec![
                field("flags", Reply::Set(flags)),
                field("passwords", Reply::Array(passwords)),
                field("commands", Reply::bulk_str("+@all")),
                field("keys", Reply::bulk_str("~*")),
                field("channels", Reply::bulk_str("&*")),
                field("selectors", Reply::Array(Vec::new())),
            ])
        }
        "cat" => match args.get(2) {
            None => Reply::Array(CATEGORIES.iter().map(|c| Reply::bulk_str(c)).collect()),
            Some(c) => {
                let name = String::from_utf8_lossy(c).to_ascii_lowercase();
                if !CATEGORIES.contains(&name.as_str()) {
                    return Err(CommandError::err(format!(
                        "ERR Unknown category '{}'",
                        String::from_utf8_lossy(c)
                    )));
                }
                let tag = format!("@{name}");
                Reply::Array(
                    commands::all_commands()
                        .iter()
                        .filter(|c| c.cmd.subcommands.is_empty())
                        .filter(|c| super::introspect::categories(c.cmd).contains(&tag.as_str()))
                        .map(|c| Reply::bulk(commands::full_name(c.id).to_string()))
                        .collect(),
                )
            }
        },
        "log" => match args.get(2) {
            Some(a) if a.eq_ignore_ascii_case(b"reset") => Reply::ok(),
            Some(a) => {
                commands::int_arg(a)?;
                Reply::Array(Vec::new())
            }
            None => Reply::Array(Vec::new()),
        },
        "genpass" => {
            let bits = match args.get(2) {
                Some(a) => commands::int_arg(a)?,
                None => 256,
            };
            if !(1..=4096).contains(&bits) {
                return Err(CommandError::err(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
            let chars = (bits as usize).div_ceil(4);
            let hex: String = (0..chars)
                .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
                .collect();
            Reply::bulk(hex)
        }
        "dryrun" => {
            if !is_default(&args[2]) {
                return Err(CommandError::err(format!(
                    "ERR User '{}' not found",
                    String::from_utf8_lossy(&args[2])
                )));
            }
            // `default` may run everything; the command must exist with a valid arity.
            match commands::lookup(&args[3..]) {
                Ok(_) => Reply::ok(),
                Err(e @ CommandError::WrongArity(_)) => return Err(e),
                Err(_) => {
                    return Err(CommandError::err(format!(
                        "ERR Command '{}' not found",
                        String::from_utf8_lossy(&args[3])
                    )))
                }
            }
        }
        "deluser" => {
            if args[2..].iter().any(|u| is_default(u)) {
                return Err(CommandError::err(
                    "ERR The 'default' user cannot be removed",
                ));
            }
            Reply::Int(0)
        }
        "load" | "save" => return Err(CommandError::err(NO_ACL_FILE)),
        "setuser" => {
            return Err(CommandError::err(
                "ERR ACL SETUSER is not supported: luagate has one user, default (see requirepass)",
            ))
        }
        _ => Reply::help(&[
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
            "HELP",
            "    Prints this help.",
        ]),
    })
}

fn sha256_hex(p: &str) -> String {
    Sha256::digest(p.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
