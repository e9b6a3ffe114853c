//! Command errors as values. `Display` is the exact error line Redis sends (without the `-`),
//! so there is one mapping from an error to the wire: `Reply::Error(err.to_string())`.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    NoSuchKey,
    Overflow,
    IndexOutOfRange,
    /// `ERR wrong number of arguments for '<name>' command` (name lowercase, `cmd|sub` for
    /// subcommands).
    WrongArity(String),
    /// `ERR unknown command '<name>', with args beginning with: '<a>' … `
    UnknownCommand {
        name: String,
        args: Vec<String>,
    },
    /// The command touched a key on a shard the running unit does not hold. Never reaches a
    /// client: a script that sees it is re-run with a wider set of shards.
    NotHeld(usize),
    /// Any other error line, complete with its code (`ERR …`, `BUSY …`, `NOSCRIPT …`).
    Other(Cow<'static, str>),
}

pub type CmdResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn err(msg: impl Into<Cow<'static, str>>) -> CommandError {
        CommandError::Other(msg.into())
    }

    /// The error code: the first word of the line (`ERR`, `WRONGTYPE`, …), used by
    /// `errorstats`.
    pub fn code(&self) -> String {
        let s = self.to_string();
        s.split(' ').next().unwrap_or("ERR").to_string()
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use CommandError::*;
        match self {
            WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            NotInteger => f.write_str("ERR value is not an integer or out of range"),
            NotFloat => f.write_str("ERR value is not a valid float"),
            Syntax => f.write_str("ERR syntax error"),
            NoSuchKey => f.write_str("ERR no such key"),
            Overflow => f.write_str("ERR increment or decrement would overflow"),
            IndexOutOfRange => f.write_str("ERR index out of range"),
            WrongArity(name) => write!(f, "ERR wrong number of arguments for '{name}' command"),
            UnknownCommand { name, args } => {
                write!(
                    f,
                    "ERR unknown command '{name}', with args beginning with: "
                )?;
                for a in args {
                    write!(f, "'{a}' ")?;
                }
                Ok(())
            }
            NotHeld(shard) => write!(f, "ERR internal: shard {shard} not held"),
            Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for CommandError {}
