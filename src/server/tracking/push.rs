//! Invalidation messages on their way to a connection, and how each is written.
//!
//! Invariant: a push is queued on the `ClientInfo` of the connection that will write it (the
//! tracking client, or the client it redirects to) and is encoded only when that connection
//! drains its queue, between whole replies, in the protocol it speaks at that moment. What
//! cannot be shown there (RESP2 without a redirect, or a redirect target that is not
//! subscribed) is dropped then, as Redis drops it.

use crate::protocol::put_bulk;
use bytes::{BufMut, Bytes, BytesMut};

/// What an invalidation names.
#[derive(Clone, Debug)]
pub enum Keys {
    /// These keys changed.
    Some(Vec<Bytes>),
    /// Every key (a flush): null, spelt in the protocol of the *tracking* client (`resp`),
    /// as Redis copies its tracking client's null even when a redirect target reads it.
    All { resp: u8 },
}

/// One message for a connection.
#[derive(Clone, Debug)]
pub enum Push {
    /// `invalidate`; `redirected` when a tracking client sent it here through REDIRECT, the
    /// only case a RESP2 connection (subscribed) gets it, as a `__redis__:invalidate` message.
    Invalidate { keys: Keys, redirected: bool },
    /// `tracking-redir-broken <id>`: the client this one redirects to has gone.
    RedirBroken(u64),
}

/// The channel RESP2 redirect targets hear invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

impl Push {
    /// Appends the message as a connection speaking `resp` (and subscribed to something, or
    /// not) shows it; nothing when it cannot be shown there.
    pub fn encode(&self, resp: u8, subscribed: bool, out: &mut BytesMut) {
        match self {
            Push::RedirBroken(id) => {
                if resp < 3 {
                    return;
                }
                out.put_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n:");
                out.put_slice(itoa::Buffer::new().format(*id).as_bytes());
                out.put_slice(b"\r\n");
            }
            Push::Invalidate { keys, redirected } => {
                if resp >= 3 {
                    out.put_slice(b">2\r\n$10\r\ninvalidate\r\n");
                } else if *redirected && subscribed {
                    out.put_slice(b"*3\r\n$7\r\nmessage\r\n");
                    put_bulk(out, CHANNEL);
                } else {
                    return;
                }
                match keys {
                    Keys::All { resp } if *resp >= 3 => out.put_slice(b"_\r\n"),
                    Keys::All { .. } => out.put_slice(b"$-1\r\n"),
                    Keys::Some(keys) => {
                        out.put_u8(b'*');
                        out.put_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
                        out.put_slice(b"\r\n");
                        for k in keys {
                            put_bulk(out, k);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(p: &Push, resp: u8, subscribed: bool) -> String {
        let mut b = BytesMut::new();
        p.encode(resp, subscribed, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn pushes_encode_as_redis_writes_them() {
        let k = Push::Invalidate {
            keys: Keys::Some(vec![Bytes::from_static(b"k1")]),
            redirected: true,
        };
        assert_eq!(
            enc(&k, 3, false),
            ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk1\r\n"
        );
        assert_eq!(
            enc(&k, 2, true),
            "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$2\r\nk1\r\n"
        );
        assert_eq!(enc(&k, 2, false), "");
        let own = Push::Invalidate {
            keys: Keys::All { resp: 2 },
            redirected: false,
        };
        assert_eq!(enc(&own, 2, true), "");
        assert_eq!(enc(&own, 3, false), ">2\r\n$10\r\ninvalidate\r\n$-1\r\n");
        assert_eq!(
            enc(&Push::RedirBroken(20), 3, false),
            ">2\r\n$21\r\ntracking-redir-broken\r\n:20\r\n"
        );
        assert_eq!(enc(&Push::RedirBroken(20), 2, false), "");
    }
}
