//! CLIENT PAUSE / UNPAUSE, and FAILOVER's hold on writes: holding clients' commands back.
//!
//! Invariant: while a pause is on, no command it covers starts (ALL: every client command,
//! CLIENT UNPAUSE included, as in Redis 7.0; WRITE: commands flagged write or may-replicate,
//! and EXEC when its queue holds one). A client pause ends at its deadline or at CLIENT
//! UNPAUSE; a held command then runs in its client's order. A second PAUSE keeps the later
//! deadline and the stricter mode. FAILOVER's hold is a separate WRITE pause without a
//! deadline that only FAILOVER lifts (CLIENT UNPAUSE does not), as Redis keeps the two
//! purposes apart. Followers' links are not clients and are never held.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;
use tokio::sync::watch;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Mode {
    Write,
    All,
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct State {
    /// CLIENT PAUSE's end and mode.
    client: Option<(Instant, Mode)>,
    /// FAILOVER holds writes until it ends.
    failover: bool,
}

impl State {
    /// Whether the pause holds a command at `now` (`writes`: it writes or may replicate),
    /// and if only until a deadline, which.
    fn holds(&self, now: Instant, writes: bool) -> Option<Option<Instant>> {
        if self.failover && writes {
            return Some(None);
        }
        match self.client {
            Some((until, mode)) if now < until && (writes || mode == Mode::All) => {
                Some(Some(until))
            }
            _ => None,
        }
    }

    fn active(&self, now: Instant) -> bool {
        self.failover || self.client.is_some_and(|(until, _)| now < until)
    }
}

pub struct Pause {
    /// The pauses in force.
    state: watch::Sender<State>,
    /// Whether a pause may be on: the one load every command pays.
    on: AtomicBool,
}

impl Default for Pause {
    fn default() -> Pause {
        Pause {
            state: watch::Sender::new(State::default()),
            on: AtomicBool::new(false),
        }
    }
}

impl Pause {
    /// CLIENT PAUSE: pauses until `until` (or later, if a pause already runs longer).
    pub fn pause(&self, until: Instant, mode: Mode) {
        self.state.send_modify(|s| {
            s.client = Some(match s.client {
                Some((end, m)) => (end.max(until), m.max(mode)),
                None => (until, mode),
            })
        });
        self.on.store(true, Relaxed);
    }

    /// Whether a pause is on now (one relaxed load when none was ever set or it was lifted).
    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed) && self.state.borrow().active(Instant::now())
    }

    /// Whether the pause holds a command now (`writes`: it writes or may replicate).
    pub fn covers(&self, writes: bool) -> bool {
        self.on.load(Relaxed) && self.state.borrow().holds(Instant::now(), writes).is_some()
    }

    /// CLIENT UNPAUSE: ends the client pause (not FAILOVER's hold).
    pub fn unpause(&self) {
        self.state.send_modify(|s| s.client = None);
        self.on.store(self.state.borrow().failover, Relaxed);
    }

    /// FAILOVER's hold on writes, on or off.
    pub fn hold_writes(&self, on: bool) {
        self.state.send_modify(|s| s.failover = on);
        let st = *self.state.borrow();
        self.on.store(st.active(Instant::now()), Relaxed);
    }

    /// Waits while a pause covers a command (`writes`: it writes or may replicate).
    pub async fn wait(&self, writes: bool) {
        if !self.on.load(Relaxed) {
            return;
        }
        let mut rx = self.state.subscribe();
        loop {
            let current = *rx.borrow_and_update();
            let now = Instant::now();
            if let Some((until, _)) = current.client.filter(|(until, _)| now >= *until) {
                // Ended by its deadline: the first to see it clears it.
                self.state.send_if_modified(|s| {
                    let ended = s.client.is_some_and(|(u, _)| u == until);
                    if ended {
                        s.client = None;
                    }
                    ended
                });
                self.on
                    .store(self.state.borrow().active(Instant::now()), Relaxed);
                continue;
            }
            match current.holds(now, writes) {
                None => return,
                Some(Some(until)) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until.into()) => {}
                        _ = rx.changed() => {}
                    }
                }
                Some(None) => {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
