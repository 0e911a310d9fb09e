//! `cargo llm-bench accept`: pending snapshots (`.snap.new`) become the snapshots, for users
//! without cargo-insta.

use super::Outcome;
use crate::cli::AcceptSettings;
use crate::error::ExitKind;
use crate::report::snapshot;
use std::path::Path;

pub fn accept(settings: &AcceptSettings) -> anyhow::Result<Outcome> {
    let accepted = snapshot::accept_pending(&settings.snapshots)?;
    if accepted.is_empty() {
        println!(
            "no pending snapshots in {}",
            shown(&settings.snapshots).display()
        );
    }
    for path in &accepted {
        println!("accepted {}", shown(path).display());
    }
    if accepted.len() > 1 {
        println!("{} snapshots accepted", accepted.len());
    }
    Ok(Outcome(ExitKind::Success))
}

/// A path relative to where the user stands, when it is below it.
fn shown(path: &Path) -> &Path {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or(path)
}
