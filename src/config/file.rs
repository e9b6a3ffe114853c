//! Reading the YAML file, with errors that name the file, line and column.

use super::Config;
use std::path::Path;

#[derive(Debug)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let err = |message: String| ConfigError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    let config: Config = serde_yaml::from_str(&text).map_err(|e| {
        // serde_yaml's message already says "at line L column C"; keep it whole.
        match e.location() {
            Some(loc) => err(format!(
                "line {} column {}: {}",
                loc.line(),
                loc.column(),
                strip_location(&e.to_string())
            )),
            None => err(e.to_string()),
        }
    })?;
    config.validate().map_err(err)?;
    Ok(config)
}

fn strip_location(msg: &str) -> &str {
    msg.split(" at line ").next().unwrap_or(msg)
}
