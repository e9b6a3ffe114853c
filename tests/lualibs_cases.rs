//! Runs every case of tests/data/lualibs_cases.txt in a fresh Lua VM holding only the
//! standard libraries plus `lualibs::register_all`, and compares with what Redis 7 returned.
//!
//! File format (shared with differential EVAL runs against both servers): one case per
//! line, `EXPR<TAB>EXPECTED`. The case is evaluated as `return tostring(EXPR)` (that is the
//! script body given to `EVAL ... 0`) and EXPECTED is the resulting bulk string with `\\`,
//! `\n`, `\t`, `\r` and `\xNN` escapes. Blank lines and lines starting with `--` are
//! comments. `LUALIBS_CASES=<file>` runs another file instead; `LUALIBS_TRACE=1` prints each
//! case before running it.

use std::path::Path;

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'\\' => out.push(b'\\'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("ascii escape");
                    out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 4;
                    continue;
                }
                other => panic!("bad escape \\{} in {s:?}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            32..=126 => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

fn run_case(expr: &str) -> Result<Vec<u8>, String> {
    let lua = mlua::Lua::new();
    luagate::lualibs::register_all(&lua).map_err(|e| format!("register_all: {e}"))?;
    let chunk = format!("return tostring({expr})");
    let v: mlua::String = lua
        .load(chunk.as_str())
        // Redis names script chunks "@user_script": error positions read "user_script:1:".
        .set_name("@user_script")
        .eval()
        .map_err(|e| format!("error: {e}"))?;
    Ok(v.as_bytes().to_vec())
}

#[test]
fn lualibs_match_redis() {
    // LUALIBS_CASES points at another file in the same format (e.g. a generated fuzz set).
    let path = match std::env::var_os("LUALIBS_CASES") {
        Some(p) => std::path::PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lualibs_cases.txt"),
    };
    let text = std::fs::read_to_string(&path).expect("read cases file");
    let mut failures = Vec::new();
    let mut total = 0;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with("--") {
            continue;
        }
        let (expr, expected) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {}: missing TAB", n + 1));
        total += 1;
        if std::env::var_os("LUALIBS_TRACE").is_some() {
            eprintln!("case {}: {expr}", n + 1);
        }
        let expected = unescape(expected);
        match run_case(expr) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "line {}: {expr}\n   want {}\n    got {}",
                n + 1,
                escape(&expected),
                escape(&got)
            )),
            Err(e) => failures.push(format!("line {}: {expr}\n   {e}", n + 1)),
        }
    }
    assert!(total >= 80, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from Redis:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
