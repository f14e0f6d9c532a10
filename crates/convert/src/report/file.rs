//! Writing the report page: atomically, and readable by its owner only.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::{ReportInput, render_html};

/// Renders the report and writes it to `path` atomically: the page goes to a temporary
/// file beside it, is flushed to disk, then renamed over `path`, so a crash leaves
/// either the old file or the whole new one, never half a report.
///
/// The file is created readable by its owner only (on Unix), like the journal: it lists
/// people, their addresses and what happened to their accounts.
pub fn write_html(input: &ReportInput, path: &Path) -> Result<(), io::Error> {
    let html = render_html(input);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: the report path has no file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Same directory, so the rename stays on one filesystem and is atomic.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4()
    ));
    let written = write_then_rename(&tmp, path, html.as_bytes());
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    {
        // Makes the rename itself durable. Some filesystems refuse to sync a directory;
        // the report is complete either way, so that is not worth failing the command.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn write_then_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), io::Error> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)
}
