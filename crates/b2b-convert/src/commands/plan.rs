//! `plan`: read-only; one decision per input row. The rows come from a file, or from the
//! tenant itself (`--select`, `--select-group`) with a rule for each partner address,
//! optionally written to a new input file for review (`--write-input`).

use std::path::Path;
use std::process::ExitCode;

use b2b_convert_core::input::{self, Input};
use b2b_convert_core::permissions;
use b2b_convert_core::selection::{self, EmailRule, Source, Template};

use crate::cli::PlanArgs;
use crate::connection::{Connection, connect};
use crate::progress;
use crate::render::plan::render_plan;
use crate::render::selection::selection_notes;

/// Runs `plan`.
pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    // Everything that can be wrong with the command line is said before signing in.
    let selecting = selection_request(&args)?;
    let from_file = args.input.as_deref().map(input::read_input).transpose()?;
    let connection = connect(&args.planning.connection).await?;
    connection.require(permissions::PLANNING)?;
    let input = match (from_file, selecting) {
        (Some(input), _) => input,
        (None, Some((source, rule))) => {
            selected_input(&connection, &source, &rule, args.write_input.as_deref()).await?
        }
        (None, None) => anyhow::bail!("give --input, --select or --select-group"),
    };
    let options = args.planning.plan_options(&connection.tenant_id)?;
    let plan = progress::plan(
        &connection,
        &input,
        &options,
        args.planning.planning.into(),
        args.planning.concurrency,
    )
    .await?;
    render_plan(&plan, args.output)?;
    Ok(ExitCode::SUCCESS)
}

/// The selection the arguments ask for, its rule checked.
fn selection_request(args: &PlanArgs) -> anyhow::Result<Option<(Source, EmailRule)>> {
    let source = match (&args.select, &args.select_group) {
        (Some(filter), _) => Source::Filter(filter.clone()),
        (None, Some(group)) => Source::Group(group.clone()),
        (None, None) => return Ok(None),
    };
    let rule = match (&args.map_email, &args.map_email_from_other_mails) {
        (Some(template), _) => EmailRule::Template(Template::parse(template)?),
        (None, Some(domain)) => EmailRule::other_mails_at(domain)?,
        (None, None) => anyhow::bail!("--select needs --map-email or --map-email-from-other-mails"),
    };
    if let Some(path) = &args.write_input
        && path.exists()
    {
        // Said now, not after reading the whole selection.
        return Err(selection::SelectionError::Exists { path: path.clone() }.into());
    }
    Ok(Some((source, rule)))
}

/// Reads the selection, says what it found, writes it when asked, and gives it as the
/// input to plan: the written file itself, so its lines are the plan's.
async fn selected_input(
    connection: &Connection,
    source: &Source,
    rule: &EmailRule,
    write_to: Option<&Path>,
) -> anyhow::Result<Input> {
    let selection = progress::select(connection, source, rule).await?;
    for line in selection_notes(source, rule, &selection) {
        progress::note(line);
    }
    anyhow::ensure!(
        !selection.mapped.is_empty(),
        "{source} gave no user with a partner address: nothing to plan"
    );
    let bytes = selection.to_csv();
    let path = match write_to {
        Some(path) => {
            selection::write_input(path, &bytes)?;
            progress::note(format!(
                "Wrote {} users to {}: review it, then `b2b-convert apply --input {}`.",
                selection.mapped.len(),
                path.display(),
                path.display()
            ));
            path
        }
        None => {
            progress::note(
                "Nothing was written: add --write-input FILE to keep this selection for apply.",
            );
            Path::new("(selection)")
        }
    };
    // The bytes just written: the same digest as the file, without reading it back.
    Ok(input::parse_input(path, &bytes)?)
}
