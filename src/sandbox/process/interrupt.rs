//! Ctrl-C, SIGTERM and SIGHUP: a flag the signal handler sets, checked on the normal call
//! stack. Running children are killed at once; the run then unwinds with [`Interrupted`], so
//! reports of what was scored can still be written. A second signal ends the tool outright.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// The signal that interrupted the run, or 0.
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

/// The run was interrupted by a signal: the error that unwinds it, and what to exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {}", signal_name(*.signal))]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    /// 128 + the signal number, as a shell reports it: 130 for Ctrl-C, 143 for SIGTERM.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.signal).unwrap_or(u8::MAX)
    }
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned())
}

/// Whether (and by what) the run has been interrupted.
pub fn interruption() -> Option<Interrupted> {
    match INTERRUPTED_BY.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(Interrupted { signal }),
    }
}

/// Installs the handlers. The first signal sets the flag and kills every live child tree; a
/// second one gets the default action (the tool ends at once), for a run that will not stop.
pub fn watch_interrupts() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // Registered first, so it runs as the second signal's handler looks at `seen`.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&seen))?;
        signal_hook::flag::register(signal, Arc::clone(&seen))?;
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    // This thread only records and kills; the threads doing the work see the flag and return.
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = INTERRUPTED_BY.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
            super::kill_live_trees();
        }
    });
    Ok(())
}
