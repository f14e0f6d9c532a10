//! `b2b-convert.toml`: the defaults a team shares (cloud, tenant and app, redirect URL,
//! message, cc, language, concurrency, journal), found in the working directory or
//! named with `--config`.
//!
//! A setting becomes the command-line option of the same name, placed before the
//! options actually typed, so the precedence is the usual one: the command line, then
//! the environment (`AZURE_TENANT_ID`…), then the file, then the built-in default. Only
//! the options the command has are taken (a `message` means nothing to `status`).
//! Unknown keys are refused with the file, line and key, so a typo is never silently
//! ignored.
//!
//! ```toml
//! cloud = "global"
//! tenant-id = "8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c"
//! redirect-url = "https://myapps.microsoft.com/?tenantid=8f9c6a7e-2b1d-4c3e-9a5f-0d1e2f3a4b5c"
//! message = "Welcome to Contoso's partner portal."
//! language = "en-US"
//! concurrency = 16
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{CommandFactory, ValueEnum};

use crate::cli::{Cli, CloudArg, PlanningArg};

/// The file looked for in the working directory.
pub const FILE_NAME: &str = "b2b-convert.toml";

/// The settings the file may hold, named as the options they stand for.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Settings {
    cloud: Option<String>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    auth: Option<String>,
    redirect_url: Option<String>,
    message: Option<String>,
    cc: Option<String>,
    language: Option<String>,
    concurrency: Option<u16>,
    planning: Option<String>,
    journal: Option<PathBuf>,
}

impl Settings {
    /// `(option, value, environment variable that outranks the file)`.
    fn options(&self) -> Vec<(&'static str, String, Option<&'static str>)> {
        let mut out = Vec::new();
        let mut add = |name, value: Option<String>, env| {
            if let Some(v) = value {
                out.push((name, v, env));
            }
        };
        add("cloud", self.cloud.clone(), None);
        add("tenant-id", self.tenant_id.clone(), Some("AZURE_TENANT_ID"));
        add("client-id", self.client_id.clone(), Some("AZURE_CLIENT_ID"));
        add("auth", self.auth.clone(), None);
        add("redirect-url", self.redirect_url.clone(), None);
        add("message", self.message.clone(), None);
        add("cc", self.cc.clone(), None);
        add("language", self.language.clone(), None);
        add("concurrency", self.concurrency.map(|c| c.to_string()), None);
        add("planning", self.planning.clone(), None);
        add(
            "journal",
            self.journal.as_ref().map(|p| p.display().to_string()),
            None,
        );
        out
    }

    /// Refuses values the options would refuse, naming the file and the key.
    fn check(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(cloud) = &self.cloud {
            CloudArg::from_str(cloud, true).map_err(|_| {
                anyhow::anyhow!(
                    "{}: cloud = {cloud:?} is not one of global, usgov, usgov-dod, china",
                    path.display()
                )
            })?;
        }
        if let Some(planning) = &self.planning {
            PlanningArg::from_str(planning, true).map_err(|_| {
                anyhow::anyhow!(
                    "{}: planning = {planning:?} is not one of auto, snapshot, lookup",
                    path.display()
                )
            })?;
        }
        if let Some(auth) = &self.auth {
            auth.parse::<b2b_graph::CredentialKind>()
                .map_err(|e| anyhow::anyhow!("{}: auth: {e}", path.display()))?;
        }
        if self.concurrency.is_some_and(|c| !(1..=128).contains(&c)) {
            anyhow::bail!("{}: concurrency must be between 1 and 128", path.display());
        }
        Ok(())
    }
}

/// The config file to use: `--config F` (which must exist), else `./b2b-convert.toml` if
/// there is one.
fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(FILE_NAME)).filter(|p| p.is_file()),
    }
}

fn load(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let settings: Settings = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    settings.check(path)?;
    Ok(settings)
}

/// The command line with the file's settings put in front of the options typed after
/// the command name. `None`: no config file, the command line as it is.
pub fn with_settings(
    args: &[OsString],
    explicit: Option<&Path>,
    command: &str,
    env: impl Fn(&str) -> bool,
) -> anyhow::Result<Option<Vec<OsString>>> {
    let Some(path) = locate(explicit) else {
        return Ok(None);
    };
    let settings = load(&path)?;
    let cli = Cli::command();
    let Some(sub) = cli.find_subcommand(command) else {
        return Ok(None);
    };
    let accepts = |name: &str| sub.get_arguments().any(|a| a.get_long() == Some(name));
    let mut inserted = Vec::new();
    for (name, value, outranked_by) in settings.options() {
        if accepts(name) && !outranked_by.is_some_and(&env) {
            inserted.push(OsString::from(format!("--{name}")));
            inserted.push(OsString::from(value));
        }
    }
    // The command name is the first argument equal to it that is not the value of
    // --config (the only global option taking a value).
    let mut at = None;
    let mut skip_next = false;
    for (i, arg) in args.iter().enumerate().skip(1) {
        if skip_next {
            skip_next = false;
            continue;
        }
        if arg == "--config" {
            skip_next = true;
            continue;
        }
        if arg == command {
            at = Some(i);
            break;
        }
    }
    let Some(at) = at else { return Ok(None) };
    tracing::debug!(file = %path.display(), settings = inserted.len() / 2, "config file");
    let mut out = args[..=at].to_vec();
    out.extend(inserted);
    out.extend_from_slice(&args[at + 1..]);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("team.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn settings_go_before_the_typed_options_of_commands_that_have_them() {
        let (_dir, path) =
            file("concurrency = 8\nmessage = \"Hi\"\ntenant-id = \"t\"\njournal = \"team.db\"\n");
        let args = argv(&[
            "b2b-convert",
            "--config",
            "x",
            "status",
            "--journal",
            "mine.db",
        ]);
        let out = with_settings(&args, Some(&path), "status", |_| false)
            .unwrap()
            .unwrap();
        // status has --journal and --tenant-id but no --message or --concurrency; the
        // typed --journal comes last and wins.
        assert_eq!(
            out,
            argv(&[
                "b2b-convert",
                "--config",
                "x",
                "status",
                "--tenant-id",
                "t",
                "--journal",
                "team.db",
                "--journal",
                "mine.db"
            ])
        );
        let args = argv(&["b2b-convert", "plan", "--input", "u.csv"]);
        let out = with_settings(&args, Some(&path), "plan", |v| v == "AZURE_TENANT_ID")
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            argv(&[
                "b2b-convert",
                "plan",
                "--message",
                "Hi",
                "--concurrency",
                "8",
                "--input",
                "u.csv"
            ]),
            "the environment outranks the file's tenant-id"
        );
    }

    #[test]
    fn mistakes_name_the_file_line_and_key() {
        let (_dir, path) = file("concurrency = 8\ncolour = \"blue\"\n");
        let err = with_settings(&argv(&["b2b-convert", "plan"]), Some(&path), "plan", |_| {
            false
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("team.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("colour"), "{err}");
        let (_dir, path) = file("cloud = \"mars\"\n");
        let err = with_settings(&argv(&["b2b-convert", "plan"]), Some(&path), "plan", |_| {
            false
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cloud = \"mars\""), "{err}");
        let missing = Path::new("/nonexistent/b2b-convert.toml");
        assert!(
            with_settings(
                &argv(&["b2b-convert", "plan"]),
                Some(missing),
                "plan",
                |_| false
            )
            .is_err()
        );
    }
}
