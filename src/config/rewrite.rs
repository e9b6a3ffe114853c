//! CONFIG REWRITE: writing the running configuration back into its YAML file.
//!
//! Invariant: the rewritten file parses to the running configuration. Comments and the order
//! of keys are kept: each top-level `key: value` line gets the current value; keys the file
//! lacks are appended only when they differ from the built-in default. The file is replaced
//! atomically (a temporary file renamed over it), so a crash never leaves half a file.

use super::Config;
use std::path::Path;

/// The file's text with every key set to `config`'s value.
pub fn rewrite_text(text: &str, config: &Config) -> Result<String, String> {
    let current = yaml_map(config)?;
    let defaults = yaml_map(&Config::default())?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        let key = top_level_key(line);
        match key.and_then(|k| current.get(k).map(|v| (k, v))) {
            Some((k, v)) => {
                seen.insert(k.to_string());
                out.push_str(&format!("{k}: {}\n", inline(v)?));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let mut appended = false;
    for (k, v) in &current {
        if seen.contains(k) || defaults.get(k) == Some(v) {
            continue;
        }
        if !appended {
            out.push_str("# Written by CONFIG REWRITE.\n");
            appended = true;
        }
        out.push_str(&format!("{k}: {}\n", inline(v)?));
    }
    // The invariant, checked before anything touches the disk.
    let mut back: Config = serde_yaml::from_str(&out).map_err(|e| e.to_string())?;
    back.knobs = config.knobs.clone();
    back.source = config.source.clone();
    if &back != config {
        return Err("the rewritten file would not reproduce the running configuration".into());
    }
    Ok(out)
}

/// Rewrites `path` in place.
pub fn rewrite_file(path: &Path, config: &Config) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let new = rewrite_text(&text, config)?;
    let tmp = path.with_extension("rewrite.tmp");
    std::fs::write(&tmp, new).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

fn yaml_map(
    config: &Config,
) -> Result<std::collections::BTreeMap<String, serde_yaml::Value>, String> {
    let v = serde_yaml::to_value(config).map_err(|e| e.to_string())?;
    serde_yaml::from_value(v).map_err(|e| e.to_string())
}

/// `key` of a line `key: …` that starts at column 0 (not a comment, not nested).
fn top_level_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    let (k, _) = line.split_once(':')?;
    let k = k.trim();
    (!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(k)
}

/// A value on one line, in YAML flow style.
fn inline(v: &serde_yaml::Value) -> Result<String, String> {
    let s = match v {
        serde_yaml::Value::Sequence(items) => {
            let parts: Result<Vec<String>, String> = items.iter().map(inline).collect();
            format!("[{}]", parts?.join(", "))
        }
        // JSON strings are valid YAML scalars and always quoted, so "no" stays a string.
        serde_yaml::Value::String(s) => serde_json::to_string(s).map_err(|e| e.to_string())?,
        other => serde_yaml::to_string(other)
            .map_err(|e| e.to_string())?
            .trim_end()
            .to_string(),
    };
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_updates_values() {
        let text = "# hello\nport: 7000\n# busy\nbusy-reply-threshold: 5000\n";
        let mut c: Config = serde_yaml::from_str(text).unwrap();
        c.busy_reply_threshold_ms = 250;
        c.requirepass = Some("no".into());
        let out = rewrite_text(text, &c).unwrap();
        assert!(
            out.starts_with("# hello\nport: 7000\n# busy\nbusy-reply-threshold: 250\n"),
            "{out}"
        );
        assert!(out.contains("requirepass: \"no\"\n"), "{out}");
        let back: Config = serde_yaml::from_str(&out).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn default_file_round_trips() {
        let text = include_str!("../../config/default.yaml");
        let out = rewrite_text(text, &Config::default()).unwrap();
        assert_eq!(out, text);
    }
}
