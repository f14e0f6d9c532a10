//! `completions` and `man`: generated from the same clap definition as `--help`, so they
//! cannot drift from the real options.

use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::output;

/// Prints the completion script for a shell.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "b2b-convert", &mut script);
    output::write_bytes(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the man pages (the tool's, then one per command), or writes them into a folder.
pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    let mut pages = vec![("b2b-convert.1".to_owned(), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("b2b-convert-{}", sub.get_name());
        pages.push((format!("{name}.1"), sub.clone().name(name)));
    }
    let mut all = Vec::new();
    for (file, page) in pages {
        let mut roff = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut roff)
            .context("rendering the man page")?;
        match &args.out_dir {
            Some(dir) => {
                let path = dir.join(&file);
                std::fs::write(&path, &roff)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            None => all.extend(roff),
        }
    }
    if args.out_dir.is_none() {
        output::write_bytes(&all)?;
    }
    Ok(ExitCode::SUCCESS)
}
