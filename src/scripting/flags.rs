//! Script flags from a `#!lua flags=...` shebang line.
//!
//! Invariant: a script body either has no shebang (`ScriptFlags::default()`, "unflagged") or a
//! shebang that parsed completely; a body whose shebang does not parse never reaches the
//! registry (its error is Redis's exact text).

use crate::error::CommandError;

/// Flags a script declares. `shebang` is set for every script that starts with `#!`, even one
/// without `flags=`: Redis treats such a script as "flagged" (no implicit write permission for
/// `*_RO`, single-slot rule when it is enforced).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// Parses the shebang of `body`, if any.
pub fn parse(body: &[u8]) -> Result<ScriptFlags, CommandError> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptFlags::default());
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(CommandError::err("ERR Invalid script shebang"));
    };
    let line = &body[..end];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"#!");
    if engine != b"#!lua" {
        return Err(CommandError::err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        )));
    }
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(CommandError::err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            )));
        };
        if list.is_empty() {
            continue;
        }
        for flag in list.split(|&b| b == b',') {
            match flag {
                b"no-writes" => flags.no_writes = true,
                b"allow-oom" => flags.allow_oom = true,
                b"allow-stale" => flags.allow_stale = true,
                b"no-cluster" => flags.no_cluster = true,
                b"allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                other => {
                    return Err(CommandError::err(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(other)
                    )))
                }
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        parse(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn shebangs() {
        assert_eq!(parse(b"return 1").unwrap(), ScriptFlags::default());
        assert!(parse(b"#!lua\nreturn 1").unwrap().shebang);
        let f = parse(b"#!lua  flags=no-writes,allow-oom flags=no-cluster\n").unwrap();
        assert!(f.no_writes && f.allow_oom && f.no_cluster && !f.allow_stale);
        assert!(!parse(b"#!lua flags=\nx").unwrap().no_writes);
        assert_eq!(
            err("#!lua flags=bogus\n"),
            "ERR Unexpected flag in script shebang: bogus"
        );
        assert_eq!(
            err("#!lua flags=no-writes,\n"),
            "ERR Unexpected flag in script shebang: "
        );
        assert_eq!(
            err("#!luax\n"),
            "ERR Unexpected engine in script shebang: #!luax"
        );
        assert_eq!(
            err("#!lua name=x\n"),
            "ERR Unknown lua shebang option: name=x"
        );
        assert_eq!(err("#!lua flags=no-writes"), "ERR Invalid script shebang");
        assert_eq!(err("#!"), "ERR Invalid script shebang");
    }
}
