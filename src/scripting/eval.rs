//! The connection-level scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! Invariant: EVAL validates everything it can before any shard is involved (numkeys, shebang,
//! compilation, `*_RO` flags, CROSSSLOT), then runs the script as one unit on the shards of its
//! declared keys plus the script's remembered footprint, and runs it again with a wider set
//! whenever a run reports it needed more (that run left nothing behind). Only the final run's
//! reply reaches the client.

use super::registry::{sha1_hex, sha_key, Script};
use super::run::{run_script, ScriptJob, Target};
use super::{flags, vm, CLEAN, KILLED, WROTE};
use crate::commands::{self, is, CmdRef};
use crate::error::CommandError;
use crate::metrics::{Origin, Outcome};
use crate::protocol::Reply;
use crate::server::connection::Conn;
use crate::server::Server;
use bytes::Bytes;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::{Arc, Mutex};

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Answers a scripting command; `None` when the reply was already appended to `conn.out`.
pub async fn dispatch(conn: &mut Conn, cmd: CmdRef, args: Vec<Bytes>) -> Option<Reply> {
    let full = commands::full_name(cmd.id);
    let r = match full {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => return eval(conn, full, args).await,
        _ if full == "fcall" || full == "fcall_ro" || full.starts_with("function") => {
            return crate::functions::cmds::dispatch(conn, full, args).await
        }
        "script|load" => script_load(&conn.server, &args[2]),
        "script|exists" => Ok(Reply::Array(
            args[2..]
                .iter()
                .map(|s| {
                    let known =
                        sha_key(s).is_some_and(|k| conn.server.scripting.registry.exists(&k));
                    Reply::Int(known as i64)
                })
                .collect(),
        )),
        "script|flush" => script_flush(&conn.server, &args),
        "script|kill" => Ok(kill(&conn.server, false)),
        "script|debug" => {
            if ["YES", "SYNC", "NO"].iter().any(|w| is(&args[2], w)) {
                Ok(Reply::ok())
            } else {
                Err(CommandError::err("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
            }
        }
        "script|help" => Ok(help()),
        _ => Err(CommandError::Syntax),
    };
    Some(r.unwrap_or_else(|e| Reply::Error(e.to_string())))
}

fn numkeys(args: &[Bytes]) -> Result<usize, CommandError> {
    numkeys_with(args, CommandError::NotInteger)
}

/// `args[2]` as a key count (EVAL and FCALL differ only in the error for a non-number).
pub(crate) fn numkeys_with(
    args: &[Bytes],
    not_number: CommandError,
) -> Result<usize, CommandError> {
    let n = commands::parse_i64(&args[2]).ok_or(not_number)?;
    if n < 0 {
        return Err(CommandError::err("ERR Number of keys can't be negative"));
    }
    if n as u64 > (args.len() - 3) as u64 {
        return Err(CommandError::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

/// The registered script for an EVAL body, registering it (as evictable) on first sight.
fn resolve_body(server: &Server, body: &Bytes) -> Result<Arc<Script>, CommandError> {
    let registry = &server.scripting.registry;
    let sha = sha1_hex(body);
    if let Some(s) = registry.get(&sha) {
        return Ok(s);
    }
    let f = flags::parse(body)?;
    vm::check_compiles(body).map_err(CommandError::err)?;
    Ok(registry.insert(sha, body.clone(), f, false))
}

async fn eval(conn: &mut Conn, name: &str, args: Vec<Bytes>) -> Option<Reply> {
    let server = conn.server.clone();
    match prepare_owned(&server, name, args) {
        Ok((job, origin)) => schedule(conn, job, origin).await,
        Err(r) => Some(r),
    }
}

/// A flagged script or function with the `no-cluster` flag, called in cluster mode.
pub(crate) const NO_CLUSTER: &str = "ERR Can not run script on cluster, 'no-cluster' flag is set.";

/// Under the single-slot rule, a flagged script's or function's declared keys must share one
/// slot, as Redis Cluster routes the call.
pub(crate) fn declared_keys_in_one_slot(keys: &[Bytes]) -> Result<(), Reply> {
    let mut slots = keys.iter().map(|k| crate::slot::key_slot(k));
    match slots.next() {
        Some(first) if slots.any(|s| s != first) => Err(Reply::error(
            "CROSSSLOT Keys in request don't hash to the same slot",
        )),
        _ => Ok(()),
    }
}

/// Everything EVAL checks before any shard is involved (numkeys, NOSCRIPT, flags, OOM,
/// READONLY, CROSSSLOT), giving the job to run; `Err` is the reply. Used by EVAL itself and
/// by EXEC for scripts queued in a transaction.
pub(crate) fn prepare(
    server: &Arc<Server>,
    name: &str,
    args: &[Bytes],
) -> Result<(Arc<ScriptJob>, Origin), Reply> {
    prepare_owned(server, name, args.to_vec())
}

/// [`prepare`] taking the command line, which the job keeps.
fn prepare_owned(
    server: &Arc<Server>,
    name: &str,
    args: Vec<Bytes>,
) -> Result<(Arc<ScriptJob>, Origin), Reply> {
    prepare_or_return(server, name, args)
        .map(|(job, origin)| (Arc::new(job), origin))
        .map_err(|(r, _)| r)
}

/// The job for any script command (EVAL, EVALSHA, FCALL and their `_RO` forms); a refused
/// call gets its reply and its command line back.
pub(crate) fn prepare_call(
    server: &Server,
    cmd: CmdRef,
    args: Vec<Bytes>,
) -> Result<ScriptJob, (Reply, Vec<Bytes>)> {
    match cmd.cmd.name {
        "fcall" | "fcall_ro" => {
            crate::functions::cmds::prepare_or_return(server, cmd.cmd.name == "fcall_ro", args)
        }
        name => prepare_or_return(server, name, args).map(|(job, _)| job),
    }
}

fn prepare_or_return(
    server: &Server,
    name: &str,
    args: Vec<Bytes>,
) -> Result<(ScriptJob, Origin), (Reply, Vec<Bytes>)> {
    match check(server, name, &args) {
        Ok(c) => Ok(c.into_job(args)),
        Err(r) => Err((r, args)),
    }
}

/// What EVAL found valid, before the job takes the command line.
struct Checked {
    script: Arc<Script>,
    n: usize,
    by_sha: bool,
    ro_command: bool,
    slot_rule: bool,
    oom: bool,
}

impl Checked {
    fn into_job(self, args: Vec<Bytes>) -> (ScriptJob, Origin) {
        let f = self.script.flags;
        let job = ScriptJob {
            target: Target::Script(self.script),
            args,
            first_arg: 3 + self.n,
            read_only: self.ro_command || f.no_writes,
            allow_oom: f.allow_oom,
            oom: self.oom,
            single_slot: self.slot_rule && !f.allow_cross_slot_keys,
            needs: Mutex::new(Vec::new()),
            failures: Default::default(),
        };
        let origin = if self.by_sha {
            Origin::Evalsha
        } else {
            Origin::Eval
        };
        (job, origin)
    }
}

fn check(server: &Server, name: &str, args: &[Bytes]) -> Result<Checked, Reply> {
    let by_sha = name.starts_with("evalsha");
    let ro_command = name.ends_with("_ro");
    // Redis's order: a sha of the wrong length, numkeys, then the lookup.
    let resolved = if by_sha {
        match sha_key(&args[1]) {
            None => Err(CommandError::err(NOSCRIPT)),
            Some(k) => numkeys(args).and_then(|n| {
                let s = server.scripting.registry.get(&k);
                s.map(|s| (s, n)).ok_or(CommandError::err(NOSCRIPT))
            }),
        }
    } else {
        numkeys(args).and_then(|n| resolve_body(server, &args[1]).map(|s| (s, n)))
    };
    let (script, n) = match resolved {
        Ok(x) => x,
        Err(e) => return Err(Reply::Error(e.to_string())),
    };
    let f = script.flags;
    // Redis's order: maxmemory (checked before the command runs), `no-cluster`, then for a
    // flagged script that may write: a read-only follower, too few good followers, an *_RO
    // command. Unflagged scripts meet these at their first write instead.
    let may_write = f.shebang && !f.no_writes;
    if may_write && !f.allow_oom && server.oom() {
        return Err(Reply::error(crate::server::OOM_ERR));
    }
    if f.shebang && f.no_cluster && server.cluster.is_some() {
        return Err(Reply::error(NO_CLUSTER));
    }
    if may_write {
        script_may_write(server, ro_command)?;
    }
    if !by_sha && server.effects_wanted() {
        server.repl.stream.publish_script(script.sha, &script.body);
    }
    let slot_rule = f.shebang && server.single_slot_scripts();
    if slot_rule {
        declared_keys_in_one_slot(&args[3..3 + n])?;
    }
    Ok(Checked {
        script,
        n,
        by_sha,
        ro_command,
        slot_rule,
        oom: server.oom(),
    })
}

/// Runs `job` as one unit on the shards of its declared keys plus its remembered footprint,
/// again with more shards whenever a run reports it needed them. `None`: the reply was
/// appended to `conn.out`.
pub(crate) async fn schedule(
    conn: &mut Conn,
    job: Arc<ScriptJob>,
    origin: Origin,
) -> Option<Reply> {
    let server = conn.server.clone();
    // Shards earlier runs found missing (kept here too in case the target has no footprint).
    let mut extra: Vec<usize> = Vec::new();
    // Every re-run holds at least one more shard than the last, so this ends.
    for _ in 0..=server.shards.len() {
        let mut shards = std::mem::take(&mut conn.unit_shards);
        shards_for(&server, &job, &extra, &mut shards);
        if conn.busy(&shards) {
            conn.unit_shards = shards;
            server.counters.script_run(origin, Outcome::Busy);
            return Some(Reply::error(server.scripting.busy_error()));
        }
        let j = job.clone();
        // The reply goes straight into the output; a run that needed more shards is taken
        // back out (its reply is a placeholder).
        let mark = conn.out.len();
        conn.run_job_into_out(&shards, move |ctx| run_script(ctx, &j))
            .await;
        conn.unit_shards = shards;
        let needed = match job.needs.lock() {
            Ok(mut n) => std::mem::take(&mut *n),
            Err(_) => Vec::new(),
        };
        if needed.is_empty() {
            server
                .counters
                .script_run(origin, outcome_of(conn.out.get(mark..).unwrap_or(&[])));
            conn.script_failures = Some(job.failures.load(Relaxed));
            return None;
        }
        conn.out.truncate(mark);
        server.scripting.reruns.fetch_add(1, Relaxed);
        tracing::debug!(
            script = job.target.label(),
            ?needed,
            "script runs again with more shards"
        );
        for s in needed {
            if let Some(fp) = job.target.footprint() {
                fp.add(s);
            }
            extra.push(s);
        }
    }
    Some(Reply::error("ERR script could not be scheduled"))
}

/// The shards a run of `job` holds, into `shards`: those of its declared keys (shard 0 for a
/// script without any), its remembered footprint and `extra`; ascending, without repeats.
fn shards_for(server: &Server, job: &ScriptJob, extra: &[usize], shards: &mut Vec<usize>) {
    shards_for_keys(server, job.keys(), shards);
    if let Some(fp) = job.target.footprint() {
        fp.extend_into(shards);
    }
    shards.extend_from_slice(extra);
    if shards.len() > 1 {
        shards.sort_unstable();
        shards.dedup();
    }
}

/// The shards of a script's declared `keys` into `shards` (shard 0 for a script without any):
/// unsorted, may repeat.
pub(crate) fn shards_for_keys(server: &Server, keys: &[Bytes], shards: &mut Vec<usize>) {
    shards.clear();
    shards.extend(keys.iter().map(|k| server.slots.shard_of_key(k).index()));
    if shards.is_empty() {
        shards.push(0);
    }
}

/// How a finished run ended, from its encoded reply (an error reply starts with `-`).
fn outcome_of(reply: &[u8]) -> Outcome {
    match reply.strip_prefix(b"-") {
        Some(e) if e.starts_with(super::run::KILL_TEXT.as_bytes()) => Outcome::Killed,
        Some(_) => Outcome::Error,
        None => Outcome::Ok,
    }
}

fn script_load(server: &Server, body: &Bytes) -> Result<Reply, CommandError> {
    let sha = sha1_hex(body);
    let registry = &server.scripting.registry;
    if registry.exists(&sha) {
        registry.insert(sha, body.clone(), flags::ScriptFlags::default(), true);
    } else {
        let f = flags::parse(body)?;
        vm::check_compiles(body).map_err(CommandError::err)?;
        registry.insert(sha, body.clone(), f, true);
    }
    // Followers and the log learn the body, so EVALSHA works after failover and restart.
    if server.effects_wanted() {
        server.repl.stream.publish_script(sha, body);
    }
    Ok(Reply::Bulk(Bytes::copy_from_slice(&sha)))
}

/// SCRIPT LOAD of a body that came from a leader's stream or the log.
pub fn load_body(server: &Server, body: &Bytes) -> Result<(), CommandError> {
    script_load(server, body).map(|_| ())
}

fn script_flush(server: &Server, args: &[Bytes]) -> Result<Reply, CommandError> {
    let ok = match args.len() {
        2 => true,
        3 => is(&args[2], "ASYNC") || is(&args[2], "SYNC"),
        _ => false,
    };
    if !ok {
        return Err(CommandError::err(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    server.scripting.registry.flush();
    Ok(Reply::ok())
}

/// SCRIPT KILL (`functions` false) / FUNCTION KILL (true): stops every busy run of that kind
/// that has not written. A busy run of the other kind gets that kind's BUSY error, as in Redis.
pub(crate) fn kill(server: &Server, functions: bool) -> Reply {
    let (mut killed, mut unkillable, mut other) = (false, false, false);
    for (home, info) in server.scripting.runs.iter().enumerate() {
        if !info.busy.load(Relaxed) {
            continue;
        }
        if info.function.load(Relaxed) != functions {
            other = true;
            continue;
        }
        match info.state.compare_exchange(CLEAN, KILLED, AcqRel, Acquire) {
            Ok(_) | Err(KILLED) => {
                server.shards[home].kill.store(true, Relaxed);
                killed = true;
            }
            Err(WROTE) => unkillable = true,
            Err(_) => {}
        }
    }
    if killed {
        Reply::ok()
    } else if unkillable {
        Reply::error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
    } else if other {
        Reply::error(if functions {
            super::BUSY_SCRIPT
        } else {
            super::BUSY_FUNCTION
        })
    } else {
        Reply::error("NOTBUSY No scripts in execution right now.")
    }
}

fn help() -> Reply {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::help(LINES)
}

/// The refusals of a flagged script or function that may write, in Redis's order: on a
/// read-only follower, with too few good followers, or called by an *_RO command.
pub fn script_may_write(server: &Server, ro_command: bool) -> Result<(), Reply> {
    if server.repl.is_follower() {
        return Err(Reply::error(crate::replication::READONLY_ERR));
    }
    if server.repl.too_few_replicas() {
        return Err(Reply::error(crate::replication::NOREPLICAS_ERR));
    }
    if ro_command {
        return Err(Reply::error(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    Ok(())
}
