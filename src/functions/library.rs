//! Libraries as the registry holds them: the code, its `#!lua name=` header, and what the body
//! registered.
//!
//! Invariant: a `Library` exists only for code whose header parsed and whose body, run in a
//! library environment, registered at least one valid function; its metadata is what that run
//! registered, in registration order.

use crate::scripting::flags::ScriptFlags;
use crate::scripting::registry::Footprint;
use bytes::Bytes;

const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Flag names in the order Redis lists them.
pub const FLAG_NAMES: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

pub struct FunctionMeta {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    /// Shards this function has been seen to need beyond its declared keys.
    pub footprint: Footprint,
}

impl FunctionMeta {
    /// The flag names set, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let f = &self.flags;
        let on = [
            f.no_writes,
            f.allow_oom,
            f.allow_stale,
            f.no_cluster,
            f.allow_cross_slot_keys,
        ];
        FLAG_NAMES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Flags from their names (already checked by the sandbox).
pub fn flags_from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> ScriptFlags {
    let mut f = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    for n in names {
        match n {
            "no-writes" => f.no_writes = true,
            "allow-oom" => f.allow_oom = true,
            "allow-stale" => f.allow_stale = true,
            "no-cluster" => f.no_cluster = true,
            "allow-cross-slot-keys" => f.allow_cross_slot_keys = true,
            _ => {}
        }
    }
    f
}

pub struct Library {
    /// Unique for the life of the process (the shard VMs key their instances by it).
    pub id: u64,
    pub name: String,
    pub code: Bytes,
    pub functions: Vec<FunctionMeta>,
}

/// True for names of letters, digits and underscores, at least one long.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The library name from the code's first line (`#!<engine> name=<lib> ...`), with Redis's
/// errors for everything else.
pub fn parse_header(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    // Split like a command line (`sdssplitargs`: quotes and escapes allowed), as Redis does.
    let words = crate::protocol::split_inline(&code[2..end])
        .map_err(|_| "ERR Invalid library metadata".to_string())?;
    let mut parts = words.iter().map(|w| &w[..]);
    let engine = parts.next().unwrap_or(b"");
    let mut name: Option<&[u8]> = None;
    for part in parts {
        match part.strip_prefix(b"name=") {
            Some(n) => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(n);
            }
            None => {
                return Err(format!(
                    "ERR Invalid metadata value given: {}",
                    String::from_utf8_lossy(part)
                ))
            }
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(parse_header(b"#!lua name=ab\nx").unwrap(), "ab");
        assert_eq!(parse_header(b"#!LUA  name=a_1 \nx").unwrap(), "a_1");
        assert_eq!(
            parse_header(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            parse_header(b"#!lua name=ab").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            parse_header(b"#!lua\nx").unwrap_err(),
            "ERR Library name was not given"
        );
        assert_eq!(parse_header(b"#!lua name=a-b\nx").unwrap_err(), BAD_NAME);
        assert_eq!(parse_header(b"#!lua name=\nx").unwrap_err(), BAD_NAME);
        assert_eq!(
            parse_header(b"#!js name=ab\nx").unwrap_err(),
            "ERR Engine 'js' not found"
        );
        assert_eq!(
            parse_header(b"#!lua name=a foo=bar\nx").unwrap_err(),
            "ERR Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            parse_header(b"#!lua name=a name=b\nx").unwrap_err(),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
    }
}
