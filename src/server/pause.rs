//! CLIENT PAUSE / UNPAUSE: holding clients' commands back for a while.
//!
//! Invariant: while a pause is on, no command it covers starts (ALL: every client command,
//! CLIENT UNPAUSE included, as in Redis 7.0; WRITE: commands flagged write or may-replicate,
//! and EXEC when its queue holds one). A pause ends at its deadline or at CLIENT UNPAUSE; a
//! held command then runs in its client's order. A second PAUSE keeps the later deadline and
//! the stricter mode. Followers' links are not clients and are never held.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;
use tokio::sync::watch;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Mode {
    Write,
    All,
}

pub struct Pause {
    /// The pause in force: its end and mode (`None`: none).
    state: watch::Sender<Option<(Instant, Mode)>>,
    /// Whether a pause may be on: the one load every command pays.
    on: AtomicBool,
}

impl Default for Pause {
    fn default() -> Pause {
        Pause {
            state: watch::Sender::new(None),
            on: AtomicBool::new(false),
        }
    }
}

impl Pause {
    /// CLIENT PAUSE: pauses until `until` (or later, if a pause already runs longer).
    pub fn pause(&self, until: Instant, mode: Mode) {
        self.state.send_modify(|s| {
            *s = Some(match *s {
                Some((end, m)) => (end.max(until), m.max(mode)),
                None => (until, mode),
            })
        });
        self.on.store(true, Relaxed);
    }

    /// Whether a pause is on now (one relaxed load when none was ever set or it was lifted).
    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
            && self
                .state
                .borrow()
                .is_some_and(|(until, _)| Instant::now() < until)
    }

    /// Whether the pause holds a command now (`writes`: it writes or may replicate).
    pub fn covers(&self, writes: bool) -> bool {
        self.is_on()
            && self
                .state
                .borrow()
                .is_some_and(|(_, mode)| writes || mode != Mode::Write)
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        self.state.send_replace(None);
        self.on.store(false, Relaxed);
    }

    /// Waits while a pause covers a command (`writes`: it writes or may replicate).
    pub async fn wait(&self, writes: bool) {
        if !self.on.load(Relaxed) {
            return;
        }
        let mut rx = self.state.subscribe();
        loop {
            let current = *rx.borrow_and_update();
            let Some((until, mode)) = current else {
                return;
            };
            if Instant::now() >= until {
                // Ended by its deadline: the first to see it clears it.
                self.state.send_if_modified(|s| {
                    let ended = *s == current;
                    if ended {
                        *s = None;
                    }
                    ended
                });
                self.on.store(self.state.borrow().is_some(), Relaxed);
                continue;
            }
            if mode == Mode::Write && !writes {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = rx.changed() => {}
            }
        }
    }
}
