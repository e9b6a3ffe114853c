//! CLIENT REPLY and CLIENT PAUSE as they act on one connection: which replies it drops, and
//! when it holds a command back.
//!
//! Invariant: a dropped reply is cut whole (its command ran alone, with nothing of the client
//! in flight), and a held command starts only once no pause covers it, after the replies before
//! it have gone out.

use super::connection::Conn;
use crate::commands::CmdRef;
use bytes::Bytes;
use tokio::net::TcpStream;

/// CLIENT REPLY's state. Commands run one at a time while any reply is dropped, so each one's
/// reply can be cut from the output whole.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplyMode {
    #[default]
    On,
    /// CLIENT REPLY OFF: no replies until CLIENT REPLY ON.
    Off,
    /// CLIENT REPLY SKIP ran: the next command's reply is dropped.
    SkipNext,
    /// The reply of the command running now is dropped (then back to `On`).
    Skipping,
}

impl Conn {
    /// Runs one command under CLIENT REPLY OFF or SKIP: alone, so its reply can be cut.
    pub(super) async fn process_dropping_replies(
        &mut self,
        args: Vec<Bytes>,
        sock: Option<&TcpStream>,
    ) {
        self.flush_pending().await;
        if self.reply_mode == ReplyMode::SkipNext {
            self.reply_mode = ReplyMode::Skipping;
        }
        let mark = self.out.len();
        self.process(args, sock).await;
        self.flush_pending().await;
        // CLIENT REPLY ON (or SKIP, OFF) ran here and set the mode for what follows.
        match self.reply_mode {
            ReplyMode::Off => self.out.truncate(mark),
            ReplyMode::Skipping => {
                self.out.truncate(mark);
                self.reply_mode = ReplyMode::On;
            }
            ReplyMode::On | ReplyMode::SkipNext => {}
        }
    }

    /// Holds `cmd` back while CLIENT PAUSE covers it; the replies before it go out first.
    /// False if the client was killed meanwhile.
    pub(super) async fn wait_while_paused(
        &mut self,
        cmd: CmdRef,
        sock: Option<&TcpStream>,
    ) -> bool {
        let writes = cmd.cmd.may_write() || (cmd.cmd.name == "exec" && self.tx.queued_writes());
        self.flush_pending().await;
        if let Some(s) = sock {
            let _ = super::blocking::write_now(self, s).await;
        }
        let server = self.server.clone();
        let info = self.info.clone();
        let _counted = server
            .pause
            .covers(writes)
            .then(|| super::blocking::Postponed::new(&server, &info));
        tokio::select! {
            _ = self.server.pause.wait(writes) => true,
            _ = self.info.killed_signal() => {
                self.close = true;
                false
            }
        }
    }
}
