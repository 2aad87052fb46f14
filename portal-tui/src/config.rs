//! The portal's settings: where the agent is and the admin key. `main` gathers the arguments and the
//! environment into `Inputs`; `resolve` decides (argument over environment over `portal.toml` over
//! the default) and reads the files they name.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::api::SecretText;

pub const DEFAULT_URL: &str = "http://localhost:8080";

pub const USAGE: &str = "\
axonflow-portal: terminal admin portal for AxonFlow

Usage:
  axonflow-portal [--url URL] [--admin-key-file PATH]

Settings (first found wins):
  URL        --url, AXONFLOW_URL, `url` in $XDG_CONFIG_HOME/axonflow/portal.toml, http://localhost:8080
  admin key  --admin-key-file, ADMIN_API_KEY, `admin_key_file` in portal.toml
";

/// What the portal runs with.
#[derive(Clone)]
pub struct Config {
    pub url: String,
    pub admin_key: SecretText,
}

impl fmt::Debug for Config {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Config")
            .field("url", &self.url)
            .field("admin_key", &self.admin_key)
            .finish()
    }
}

/// The arguments and environment, as `main` read them.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub args: Vec<String>,
    pub env_url: Option<String>,
    pub env_admin_key: Option<String>,
    /// `$XDG_CONFIG_HOME`, or `$HOME/.config`.
    pub config_home: Option<PathBuf>,
}

/// Why the portal cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `--help` was asked for.
    Help,
    Usage(String),
    NoKey,
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Help => formatter.write_str(USAGE),
            ConfigError::Usage(problem) => {
                write!(formatter, "axonflow-portal: {problem}\n\n{USAGE}")
            }
            ConfigError::NoKey => formatter.write_str(
                "axonflow-portal: no admin key: set ADMIN_API_KEY (or pass --admin-key-file PATH, \
                 or set admin_key_file in portal.toml)",
            ),
            ConfigError::Invalid(problem) => write!(formatter, "axonflow-portal: {problem}"),
        }
    }
}

/// The settings of `portal.toml`: `key = "value"` lines; comments, tables and other keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSettings {
    pub url: Option<String>,
    pub admin_key_file: Option<String>,
}

pub fn parse_file(text: &str) -> FileSettings {
    let mut settings = FileSettings::default();
    for line in text.lines() {
        let line = line.trim();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|rest| rest.split_once('"'))
            .map(|(inner, _)| inner.to_owned())
            .unwrap_or_else(|| {
                value
                    .split('#')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            });
        match key.trim() {
            "url" => settings.url = Some(value),
            "admin_key_file" => settings.admin_key_file = Some(value),
            _ => {}
        }
    }
    settings
}

pub fn resolve(inputs: Inputs) -> Result<Config, ConfigError> {
    let mut arg_url = None;
    let mut arg_key_file = None;
    let mut args = inputs.args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(ConfigError::Help),
            "--url" => arg_url = Some(args.next().ok_or_else(|| missing("--url"))?),
            "--admin-key-file" => {
                arg_key_file = Some(args.next().ok_or_else(|| missing("--admin-key-file"))?);
            }
            other => match other.split_once('=') {
                Some(("--url", value)) => arg_url = Some(value.to_owned()),
                Some(("--admin-key-file", value)) => arg_key_file = Some(value.to_owned()),
                _ => return Err(ConfigError::Usage(format!("unknown argument {other:?}"))),
            },
        }
    }
    let file = match &inputs.config_home {
        Some(home) => {
            let path = home.join("axonflow").join("portal.toml");
            match std::fs::read_to_string(&path) {
                Ok(text) => parse_file(&text),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    FileSettings::default()
                }
                Err(error) => {
                    return Err(ConfigError::Invalid(format!(
                        "cannot read {}: {error}",
                        path.display()
                    )))
                }
            }
        }
        None => FileSettings::default(),
    };
    let non_empty = |value: Option<String>| value.filter(|text| !text.trim().is_empty());
    let url = non_empty(arg_url)
        .or(non_empty(inputs.env_url))
        .or(non_empty(file.url))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let admin_key = match (non_empty(arg_key_file), non_empty(inputs.env_admin_key)) {
        (Some(path), _) => read_key(Path::new(&path))?,
        (None, Some(key)) => key.trim().to_owned(),
        (None, None) => match non_empty(file.admin_key_file) {
            Some(path) => read_key(Path::new(&path))?,
            None => return Err(ConfigError::NoKey),
        },
    };
    if admin_key.is_empty() {
        return Err(ConfigError::NoKey);
    }
    Ok(Config {
        url: url.trim().trim_end_matches('/').to_owned(),
        admin_key: SecretText::new(admin_key),
    })
}

fn missing(flag: &str) -> ConfigError {
    ConfigError::Usage(format!("{flag} needs a value"))
}

fn read_key(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|error| {
            ConfigError::Invalid(format!(
                "cannot read the admin key file {}: {error}",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_parser_reads_quoted_and_bare_values() {
        let settings = parse_file(
            "# portal\n[portal]\nurl = \"http://agent:8080\"  # the agent\nadmin_key_file = /run/key\nother = 1\n",
        );
        assert_eq!(settings.url.as_deref(), Some("http://agent:8080"));
        assert_eq!(settings.admin_key_file.as_deref(), Some("/run/key"));
    }

    #[test]
    fn no_key_is_an_error_that_names_the_variable() {
        let error = resolve(Inputs::default()).expect_err("no key anywhere");
        assert_eq!(error, ConfigError::NoKey);
        assert!(error.to_string().contains("ADMIN_API_KEY"));
    }

    #[test]
    fn arguments_win_over_the_environment() {
        let config = resolve(Inputs {
            args: vec!["--url".to_owned(), "http://a:1/".to_owned()],
            env_url: Some("http://b:2".to_owned()),
            env_admin_key: Some("key-from-environment".to_owned()),
            config_home: None,
        })
        .expect("a valid configuration");
        assert_eq!(config.url, "http://a:1");
        assert_eq!(config.admin_key.expose(), "key-from-environment");
        assert!(!format!("{config:?}").contains("key-from-environment"));
    }

    #[test]
    fn the_default_url_is_local() {
        let config = resolve(Inputs {
            env_admin_key: Some("k".to_owned()),
            ..Inputs::default()
        })
        .expect("a valid configuration");
        assert_eq!(config.url, DEFAULT_URL);
    }
}
