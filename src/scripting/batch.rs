//! Script calls (EVAL, EVALSHA, FCALL and their `_RO` forms) that travel inside a batch of
//! pipelined single-shard commands, like any data command.
//!
//! Invariant: a script joins a batch only when nothing of its client is in flight and every
//! shard it is known to need (its declared keys' shards and its footprint) is the batch's one
//! shard; the connection then waits for that batch before sending anything else. So when a run
//! finds it needs more shards, the batch stops right there (the run left nothing behind) and
//! its rest, this call first, continues as a unit on the wider set of shards, before any later
//! command of the client runs: the client sees the order it sent.
//!
//! Running in a batch is what makes pipelined scripts cheap: a batch of sixteen calls takes its
//! shard once, and the decoding, routing and running of the calls each stay in the CPU's
//! instruction cache across the batch instead of evicting one another on every call.

use super::eval::{prepare_call, shards_for_keys};
use super::run::{run_script, KILL_TEXT};
use crate::commands::{self, CmdRef, Ctx};
use crate::metrics::{Origin, Outcome};
use crate::protocol::Reply;
use crate::server::Server;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Which script command `cmd` is, if it is one.
pub fn kind(cmd: CmdRef) -> Option<Origin> {
    match cmd.cmd.name {
        "evalsha" | "evalsha_ro" => Some(Origin::Evalsha),
        "eval" | "eval_ro" => Some(Origin::Eval),
        "fcall" | "fcall_ro" => Some(Origin::Fcall),
        _ => None,
    }
}

/// The one shard a script call may be batched on: its script or function exists, its
/// arguments parse, and its declared keys and footprint all live on that shard. `None` sends
/// the call the general way (`eval::schedule`), which also gives every error reply.
pub fn shard(
    server: &Server,
    origin: Origin,
    args: &[Bytes],
    scratch: &mut Vec<usize>,
) -> Option<usize> {
    let n = commands::parse_i64(args.get(2)?)?;
    if n < 0 || n as usize > args.len() - 3 {
        return None;
    }
    let keys = &args[3..3 + n as usize];
    shards_for_keys(server, keys, scratch);
    let home = scratch[0];
    if scratch.iter().any(|&s| s != home) {
        return None;
    }
    let registry = &server.scripting.registry;
    let known_here = match origin {
        Origin::Evalsha => super::registry::sha_key(&args[1])
            .and_then(|k| registry.peek(&k, |s| s.footprint.only(home))),
        Origin::Eval => registry.peek(&super::registry::sha1_hex(&args[1]), |s| {
            s.footprint.only(home)
        }),
        Origin::Fcall => server
            .scripting
            .functions
            .function(&args[1])
            .and_then(|(lib, i)| lib.functions.get(i).map(|f| f.footprint.only(home))),
    };
    known_here.unwrap_or(false).then_some(home)
}

/// How a batched script call ended.
pub enum Ran {
    Done(Reply),
    /// The run needed these shards beyond those the unit holds; it left nothing behind and
    /// hands its command line back.
    Wider(Vec<usize>, Vec<Bytes>),
}

/// Runs one batched script call in the unit `ctx` holds, accounting it as the connection would.
pub fn run(ctx: &mut Ctx<'_>, cmd: CmdRef, origin: Origin, args: Vec<Bytes>) -> Ran {
    let started = Instant::now();
    let server = ctx.server;
    let job = match prepare_call(server, cmd, args) {
        Ok(job) => job,
        // Refused before it ran: an error reply, but no script run.
        Err((r, args)) => return finish(ctx, cmd, None, r, &args, started),
    };
    let reply = run_script(ctx, &job);
    let needed = job
        .needs
        .lock()
        .map(|mut n| std::mem::take(&mut *n))
        .unwrap_or_default();
    if needed.is_empty() {
        let ran = (origin, job.failures.load(Relaxed));
        return finish(ctx, cmd, Some(ran), reply, &job.args, started);
    }
    server.scripting.reruns.fetch_add(1, Relaxed);
    if let Some(fp) = job.target.footprint() {
        for &s in &needed {
            fp.add(s);
        }
    }
    Ran::Wider(needed, job.args)
}

/// Accounts a script call that ends here: `ran` is the script's origin and failed calls (its
/// errors were counted by the run); `None` for a call refused before it ran.
fn finish(
    ctx: &mut Ctx<'_>,
    cmd: CmdRef,
    ran: Option<(Origin, u32)>,
    reply: Reply,
    args: &[Bytes],
    started: Instant,
) -> Ran {
    let failures = account_script(ctx.server, ran, &reply);
    commands::account(ctx, cmd, args, started, failures);
    Ran::Done(reply)
}

/// The statistics of a script call other than its command's: the script run (by origin and
/// outcome) or, for a call refused before it ran, its error. Returns the failed calls its
/// command gets.
pub fn account_script(server: &Server, ran: Option<(Origin, u32)>, reply: &Reply) -> u32 {
    match ran {
        Some((origin, failures)) => {
            server.counters.script_run(origin, outcome_of_reply(reply));
            failures
        }
        None => match reply {
            Reply::Error(e) => {
                server.errors.record(e);
                1
            }
            _ => 0,
        },
    }
}

fn outcome_of_reply(reply: &Reply) -> Outcome {
    match reply {
        Reply::Error(e) if e.starts_with(KILL_TEXT) => Outcome::Killed,
        Reply::Error(_) => Outcome::Error,
        _ => Outcome::Ok,
    }
}
