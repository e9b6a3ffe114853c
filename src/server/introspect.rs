//! COMMAND and its subcommands (COUNT, LIST, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP): the command table as clients
//! read it, with Redis 7's flags, ACL categories and key specs.
//!
//! Invariant: everything here is derived from `commands::table`; nothing is stored twice.

use crate::commands::{self, flags, is, CmdRef, Command, Keys};
use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;

pub fn command_all() -> Result<Reply, CommandError> {
    Ok(Reply::Array(
        commands::all_commands()
            .iter()
            .filter(|c| !commands::full_name(c.id).contains('|'))
            .map(|c| command_info(c.cmd, c.id))
            .collect(),
    ))
}

pub fn command(cmd: CmdRef, args: &[Bytes]) -> Result<Reply, CommandError> {
    let top_level = || {
        commands::all_commands()
            .iter()
            .filter(|c| !commands::full_name(c.id).contains('|'))
    };
    match cmd.cmd.name {
        "count" => Ok(Reply::Int(top_level().count() as i64)),
        "list" => command_list(args),
        "info" => {
            if args.len() == 2 {
                return command_all();
            }
            Ok(Reply::Array(
                args[2..]
                    .iter()
                    .map(|n| match resolve(n) {
                        Some(c) => command_info(c.cmd, c.id),
                        None => Reply::Nil,
                    })
                    .collect(),
            ))
        }
        "docs" => {
            let cmds: Vec<CmdRef> = if args.len() == 2 {
                top_level().copied().collect()
            } else {
                args[2..].iter().filter_map(|n| resolve(n)).collect()
            };
            Ok(Reply::Map(
                cmds.iter()
                    .map(|c| {
                        (
                            Reply::bulk_str(commands::full_name(c.id)),
                            Reply::Map(vec![
                                (Reply::bulk_str("summary"), Reply::bulk_str(c.cmd.name)),
                                (Reply::bulk_str("since"), Reply::bulk_str("1.0.0")),
                                (
                                    Reply::bulk_str("group"),
                                    Reply::bulk_str(c.cmd.group.name()),
                                ),
                            ]),
                        )
                    })
                    .collect(),
            ))
        }
        "getkeys" => Ok(Reply::Array(
            key_positions(&args[2..])?
                .into_iter()
                .map(|i| Reply::Bulk(args[2 + i].clone()))
                .collect(),
        )),
        "getkeysandflags" => {
            // Each key with its key spec's flags, the ones COMMAND INFO shows.
            let target = &args[2..];
            let keys = key_positions(target)?;
            let flag = key_spec_flag(
                commands::lookup(target)
                    .map_err(|_| CommandError::Syntax)?
                    .cmd,
            );
            Ok(Reply::Array(
                keys.into_iter()
                    .map(|i| {
                        Reply::Array(vec![
                            Reply::Bulk(target[i].clone()),
                            Reply::Set(vec![Reply::status(flag)]),
                        ])
                    })
                    .collect(),
            ))
        }
        "help" => Ok(Reply::help(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ])),
        _ => Err(CommandError::Syntax),
    }
}

/// Where the keys of the full command `target` are, for GETKEYS and GETKEYSANDFLAGS, with
/// Redis's errors for an unknown command, a wrong arity and a command without keys.
fn key_positions(target: &[Bytes]) -> Result<Vec<usize>, CommandError> {
    let c = commands::lookup(target).map_err(|e| match e {
        CommandError::UnknownCommand { .. } => CommandError::err("ERR Invalid command specified"),
        CommandError::WrongArity(_) => {
            CommandError::err("ERR Invalid number of arguments specified for command")
        }
        other => other,
    })?;
    if matches!(c.cmd.keys, Keys::None | Keys::NotKey { .. }) {
        return Err(CommandError::err("ERR The command has no key arguments"));
    }
    let keys: Vec<usize> = if numkeys_valid(c.cmd, target) {
        c.cmd.key_indices(target).collect()
    } else {
        Vec::new()
    };
    if keys.is_empty() && !NO_MANDATORY_KEYS.contains(&c.cmd.name) {
        return Err(CommandError::err(
            "ERR Invalid arguments specified for command",
        ));
    }
    Ok(keys)
}

/// The commands whose keys may all be absent (Redis's `no_mandatory_keys` flag): COMMAND
/// GETKEYS answers an empty array for them where it reports an error for the others.
const NO_MANDATORY_KEYS: &[&str] = &[
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
];

/// Whether a numkeys count is one Redis's key extraction accepts: an integer of at least 1
/// whose keys all fit in `args`. Anything else (0 included) makes Redis drop every key the
/// command names, its fixed ones too (ZUNIONSTORE's destination).
fn numkeys_valid(cmd: &Command, args: &[Bytes]) -> bool {
    let Keys::Numkeys { at, .. } = cmd.keys else {
        return true;
    };
    args.get(at)
        .and_then(|c| commands::parse_i64(c))
        .and_then(|n| usize::try_from(n).ok())
        .is_some_and(|n| n >= 1 && at.saturating_add(n) < args.len())
}

/// COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]: every command's full
/// name, subcommands included (`config|get`), as Redis lists them. FILTERBY must be the last
/// option and take exactly its two arguments; anything else is a syntax error. There are no
/// modules, so a module filter selects nothing; patterns match case-insensitively.
fn command_list(args: &[Bytes]) -> Result<Reply, CommandError> {
    enum Filter<'a> {
        All,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::All;
    let mut i = 2;
    while i < args.len() {
        if !(is(&args[i], "FILTERBY") && args.len() - 1 - i == 2) {
            return Err(CommandError::Syntax);
        }
        let (kind, arg) = (&args[i + 1], &args[i + 2][..]);
        filter = if is(kind, "MODULE") {
            Filter::Module
        } else if is(kind, "ACLCAT") {
            Filter::AclCat(arg)
        } else if is(kind, "PATTERN") {
            Filter::Pattern(arg)
        } else {
            return Err(CommandError::Syntax);
        };
        i += 3;
    }
    let names = commands::all_commands()
        .iter()
        .filter(|c| match filter {
            Filter::All => true,
            Filter::Module => false,
            Filter::AclCat(cat) => categories(c.cmd)
                .iter()
                .any(|k| k.as_bytes()[1..].eq_ignore_ascii_case(cat)),
            Filter::Pattern(p) => {
                crate::keyspace::glob::glob_match(p, commands::full_name(c.id).as_bytes(), true)
            }
        })
        .map(|c| Reply::bulk_str(commands::full_name(c.id)))
        .collect();
    Ok(Reply::Array(names))
}

/// `name` or `container|sub`.
fn resolve(name: &[u8]) -> Option<CmdRef> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((top, sub)) => {
            commands::find(top.as_bytes()).and_then(|t| commands::find_sub(t, sub.as_bytes()))
        }
        None => commands::find(s.as_bytes()),
    }
}

/// The ACL categories COMMAND INFO reports (and COMMAND LIST filters by): read or write, the
/// data type or area, fast or slow. A coarser set than Redis's, except for Pub/Sub, whose
/// categories are Redis's: `@pubsub` for the commands flagged `pubsub`, then fast or slow.
pub(crate) fn categories(cmd: &Command) -> Vec<&'static str> {
    let speed = if cmd.has(flags::FAST) {
        "@fast"
    } else {
        "@slow"
    };
    if cmd.group == commands::Group::PubSub {
        return if cmd.has(flags::PUBSUB) {
            vec!["@pubsub", speed]
        } else {
            vec![speed]
        };
    }
    let access = if cmd.has(flags::WRITE) {
        "@write"
    } else {
        "@read"
    };
    let area = match cmd.group {
        commands::Group::Generic => "@keyspace",
        commands::Group::String => "@string",
        commands::Group::List => "@list",
        commands::Group::Set => "@set",
        commands::Group::SortedSet => "@sortedset",
        commands::Group::Hash => "@hash",
        commands::Group::Transactions => "@transaction",
        commands::Group::Connection => "@connection",
        commands::Group::Scripting => "@scripting",
        commands::Group::Bitmap => "@bitmap",
        commands::Group::PubSub => "@pubsub",
        commands::Group::Geo => "@geo",
        commands::Group::Stream => "@stream",
        commands::Group::HyperLogLog => "@hyperloglog",
        _ => "@admin",
    };
    vec![access, area, speed]
}

/// One COMMAND INFO entry, in Redis 7's ten-field shape.
fn command_info(cmd: &Command, id: u16) -> Reply {
    let (first, last, step) = cmd.legacy_key_spec();
    let flag_names: Vec<Reply> = flags::NAMES
        .iter()
        .filter(|(f, _)| cmd.flags & f != 0)
        .map(|(_, n)| Reply::Status(Bytes::from_static(n.as_bytes())))
        .collect();
    let cats = categories(cmd);
    let key_specs: Vec<Reply> = match cmd.keys {
        Keys::Range { first, last, step } => vec![key_spec(
            cmd,
            Reply::Map(vec![(Reply::bulk_str("index"), Reply::Int(first as i64))]),
            "index",
            range_find(first as i64, last as i64, step as i64),
            "range",
        )],
        Keys::Numkeys { at, .. } => vec![key_spec(
            cmd,
            Reply::Map(vec![(Reply::bulk_str("index"), Reply::Int(at as i64))]),
            "index",
            Reply::Map(vec![
                (Reply::bulk_str("keynumidx"), Reply::Int(0)),
                (Reply::bulk_str("firstkey"), Reply::Int(1)),
                (Reply::bulk_str("keystep"), Reply::Int(1)),
            ]),
            "keynum",
        )],
        Keys::NotKey { first, last } => vec![key_spec_flagged(
            "not_key",
            Reply::Map(vec![(Reply::bulk_str("index"), Reply::Int(first as i64))]),
            "index",
            range_find(first as i64, last as i64, 1),
            "range",
        )],
        _ => vec![],
    };
    let subs: Vec<Reply> = cmd
        .subcommands
        .iter()
        .filter_map(|s| {
            commands::find(cmd.name.as_bytes())
                .and_then(|t| commands::find_sub(t, s.name.as_bytes()))
        })
        .map(|s| command_info(s.cmd, s.id))
        .collect();
    Reply::Array(vec![
        Reply::bulk_str(commands::full_name(id)),
        Reply::Int(cmd.arity as i64),
        Reply::Set(flag_names),
        Reply::Int(first),
        Reply::Int(last),
        Reply::Int(step),
        Reply::Set(
            cats.into_iter()
                .map(|c| Reply::Status(Bytes::from_static(c.as_bytes())))
                .collect(),
        ),
        Reply::Set(vec![]),
        Reply::Array(key_specs),
        Reply::Array(subs),
    ])
}

/// A key spec's `find_keys` for a range: `lastkey` relative to the first key (negative
/// counts from the end), as COMMAND INFO shows it.
fn range_find(first: i64, last: i64, step: i64) -> Reply {
    Reply::Map(vec![
        (
            Reply::bulk_str("lastkey"),
            Reply::Int(if last < 0 { last } else { last - first }),
        ),
        (Reply::bulk_str("keystep"), Reply::Int(step)),
        (Reply::bulk_str("limit"), Reply::Int(0)),
    ])
}

fn key_spec(cmd: &Command, bs: Reply, bs_type: &str, fk: Reply, fk_type: &str) -> Reply {
    key_spec_flagged(key_spec_flag(cmd), bs, bs_type, fk, fk_type)
}

/// A key spec's one flag here: `RW` for a write command's keys, `RO` for a read's. Redis
/// gives each key spec its own finer flags (`OW`, `RM`, `access`, `update`, `insert` …).
fn key_spec_flag(cmd: &Command) -> &'static str {
    if cmd.has(flags::WRITE) {
        "RW"
    } else {
        "RO"
    }
}

fn key_spec_flagged(
    flag: &'static str,
    bs: Reply,
    bs_type: &str,
    fk: Reply,
    fk_type: &str,
) -> Reply {
    Reply::Map(vec![
        (
            Reply::bulk_str("flags"),
            Reply::Set(vec![Reply::status(flag)]),
        ),
        (
            Reply::bulk_str("begin_search"),
            Reply::Map(vec![
                (Reply::bulk_str("type"), Reply::bulk_str(bs_type)),
                (Reply::bulk_str("spec"), bs),
            ]),
        ),
        (
            Reply::bulk_str("find_keys"),
            Reply::Map(vec![
                (Reply::bulk_str("type"), Reply::bulk_str(fk_type)),
                (Reply::bulk_str("spec"), fk),
            ]),
        ),
    ])
}
