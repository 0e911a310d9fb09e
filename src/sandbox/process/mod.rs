//! The one place that spawns processes, and so the one place that says how each is confined.
//!
//! Every [`Job`] declares its [`Confinement`]: trusted toolchain work on our own input, or
//! untrusted work (any build or run of generated code) with its [`Limits`]; the policy behind
//! the second lives in [`confine`]. Every job gets an explicit environment, a null stdin,
//! captured and capped output, and a wall timeout that kills its whole tree (TERM, then KILL;
//! the PID namespace or pids cgroup takes children that left the process group with it).

mod cgroup;
pub mod confine;
mod interrupt;

pub use confine::{
    ConfinementError, Limits, Policy, SandboxLevel, SandboxRequest, Untrusted, View,
};
pub use interrupt::{interruption, watch_interrupts, Interrupted};

use cgroup::PidsGroup;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a process group gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(300);

/// Output past this many bytes per stream is dropped for trusted jobs.
pub const DEFAULT_OUTPUT_CAP: usize = 256 * 1024;

/// What a job is trusted with.
#[derive(Debug, Clone)]
pub enum Confinement {
    /// Toolchain work on input we wrote (`cargo metadata`, `cargo fetch`, `rustc -V`, rustfmt,
    /// which only parses): a cleared environment and a timeout.
    Trusted,
    /// Generated code is built or run: the sandbox and limits of the run's policy.
    Untrusted(Untrusted),
}

/// A process to run: program, arguments, working directory and the whole environment.
#[derive(Debug, Clone)]
pub struct Job {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// The complete environment: nothing is inherited from ours.
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
    pub output_cap: usize,
    pub confinement: Confinement,
}

impl Job {
    /// A trusted job; [`Job::untrusted`] confines it.
    pub fn new(program: impl Into<OsString>, cwd: &Path, timeout: Duration) -> Job {
        Job {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.to_owned(),
            env: Vec::new(),
            timeout,
            output_cap: DEFAULT_OUTPUT_CAP,
            confinement: Confinement::Trusted,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Job {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Job {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Job {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs(mut self, vars: &[(OsString, OsString)]) -> Job {
        self.env.extend(vars.iter().cloned());
        self
    }

    /// Runs the job as untrusted code: its output cap becomes the limits' own.
    pub fn untrusted(mut self, untrusted: Untrusted) -> Job {
        self.output_cap = untrusted.limits.output_bytes;
        self.confinement = Confinement::Untrusted(untrusted);
        self
    }
}

/// Why a process tree was stopped, or what stopped it, in the words reports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Timeout,
    OutputLimit,
    ProcessLimit,
    MemoryLimit,
    CpuLimit,
    FileSizeLimit,
    NetworkDenied,
    Signal(i32),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Timeout => f.write_str("timeout"),
            Stop::OutputLimit => f.write_str("output limit"),
            Stop::ProcessLimit => f.write_str("process limit"),
            Stop::MemoryLimit => f.write_str("memory limit"),
            Stop::CpuLimit => f.write_str("cpu time limit (killed by signal 24)"),
            Stop::FileSizeLimit => f.write_str("file size limit (killed by signal 25)"),
            Stop::NetworkDenied => f.write_str("network denied"),
            Stop::Signal(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// What a finished (or killed) process left behind.
#[derive(Debug)]
pub struct Finished {
    /// `None` when the process was killed for running past its timeout or its output cap.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub truncated: bool,
    /// The limit or signal that ended the tree, for untrusted jobs that did not succeed.
    pub stop: Option<Stop>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    pub fn timed_out(&self) -> bool {
        self.stop == Some(Stop::Timeout)
    }
}

/// Runs a job to completion, its timeout or its output cap. Errors when the process cannot be
/// started, and with [`Interrupted`] (inside an `io::Error`) when the run is interrupted.
pub fn run(job: &Job) -> std::io::Result<Finished> {
    check_interrupted()?;
    let started = Instant::now();
    let (mut command, cgroup) = match &job.confinement {
        Confinement::Trusted => {
            let mut command = std::process::Command::new(&job.program);
            command.args(&job.args).current_dir(&job.cwd);
            (command, None)
        }
        Confinement::Untrusted(untrusted) => {
            untrusted.command(&job.program, &job.args, &job.cwd)?
        }
    };
    command
        .env_clear()
        .envs(job.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn()?;
    let tree = LiveTree::register(child.id(), cgroup);
    let overflow = Arc::new(AtomicBool::new(false));
    let stdout = drain(child.stdout.take(), job.output_cap, Arc::clone(&overflow));
    let stderr = drain(child.stderr.take(), job.output_cap, Arc::clone(&overflow));
    let ended = wait(child, job.timeout, &overflow);
    // Whatever the process started and left behind goes with it.
    tree.kill();
    let process_limit_hit = tree.process_limit_hit();
    drop(tree);
    let ended = ended?;
    let (stdout, stdout_truncated) = collect(&stdout);
    let (stderr, stderr_truncated) = collect(&stderr);
    let status = match ended {
        Ended::Exited(status) => Some(status),
        Ended::TimedOut | Ended::Overflowed => None,
    };
    let stop = match (&job.confinement, ended) {
        (_, Ended::TimedOut) => Some(Stop::Timeout),
        (_, Ended::Overflowed) => Some(Stop::OutputLimit),
        (Confinement::Trusted, _) => None,
        (Confinement::Untrusted(_), Ended::Exited(status)) if status.success() => None,
        (Confinement::Untrusted(_), Ended::Exited(status)) => {
            why_it_failed(status, process_limit_hit, &stdout, &stderr)
        }
    };
    Ok(Finished {
        status,
        stdout,
        stderr,
        elapsed: started.elapsed(),
        truncated: stdout_truncated || stderr_truncated,
        stop,
    })
}

/// The limit an untrusted tree that failed most likely ran into, from what it left behind;
/// `None` for a plain failure (a test that failed, code that did not compile).
fn why_it_failed(
    status: ExitStatus,
    process_limit_hit: bool,
    stdout: &str,
    stderr: &str,
) -> Option<Stop> {
    let said = |needle: &str| stderr.contains(needle) || stdout.contains(needle);
    // bwrap's init reports a command killed by signal N as exit code 128 + N, and libtest a
    // test's child process killed by one as a note.
    let signal = status
        .signal()
        .or_else(|| {
            status
                .code()
                .filter(|code| (129..=128 + 64).contains(code))
                .map(|code| code - 128)
        })
        .or_else(|| {
            let note = "child process exited with signal ";
            let text = if stderr.contains(note) {
                stderr
            } else {
                stdout
            };
            let after = &text[text.find(note)? + note.len()..];
            after
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        });
    match signal {
        Some(24) => Some(Stop::CpuLimit),
        Some(25) => Some(Stop::FileSizeLimit),
        _ if said("memory allocation of") || said("Cannot allocate memory") => {
            Some(Stop::MemoryLimit)
        }
        _ if process_limit_hit
            || said("Resource temporarily unavailable")
            || said("Cannot fork") =>
        {
            Some(Stop::ProcessLimit)
        }
        // Inside the sandbox's network namespace only a loopback of its own exists: every
        // address is unreachable or refuses.
        _ if [
            "Network is unreachable",
            "os error 101",
            "Connection refused",
            "os error 111",
        ]
        .iter()
        .any(|needle| said(needle)) =>
        {
            Some(Stop::NetworkDenied)
        }
        _ if said("File too large") => Some(Stop::FileSizeLimit),
        signal => signal.map(Stop::Signal),
    }
}

fn check_interrupted() -> std::io::Result<()> {
    match interruption() {
        Some(interrupted) => Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            interrupted,
        )),
        None => Ok(()),
    }
}

/// Process trees running now: an interrupt kills them at once, because a group of its own
/// does not get the terminal's Ctrl-C.
static LIVE_TREES: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// A child's tree, registered as live for as long as this value lives.
struct LiveTree {
    group: i32,
    cgroup: Option<PidsGroup>,
}

impl LiveTree {
    fn register(pid: u32, cgroup: Option<PidsGroup>) -> LiveTree {
        let group = pid as i32;
        LIVE_TREES
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(group);
        LiveTree { group, cgroup }
    }

    fn kill(&self) {
        let _ = killpg(Pid::from_raw(self.group), Signal::SIGKILL);
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
    }

    fn process_limit_hit(&self) -> bool {
        self.cgroup.as_ref().is_some_and(PidsGroup::limit_was_hit)
    }
}

impl Drop for LiveTree {
    fn drop(&mut self) {
        LIVE_TREES
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .retain(|&group| group != self.group);
    }
}

/// Kills the process group of every live tree; each tree's PID namespace or cgroup takes the
/// rest when its runner sees the interruption.
fn kill_live_trees() {
    for &group in LIVE_TREES
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .iter()
    {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    }
}

/// A process that escaped its group (setsid) can hold our pipes open forever; we stop
/// waiting for its output this long after the process itself ended.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// What a drain thread has read so far, and whether it reached the end of the stream.
#[derive(Debug, Default)]
struct Drained {
    kept: Vec<u8>,
    truncated: bool,
    finished: bool,
}

type Shared = Arc<(Mutex<Drained>, Condvar)>;

/// Reads a stream to its end on its own thread, keeping at most `cap` bytes; past the cap it
/// raises `overflow` and keeps reading (and dropping), so the writer never blocks on us.
fn drain<R: Read + Send + 'static>(
    stream: Option<R>,
    cap: usize,
    overflow: Arc<AtomicBool>,
) -> Shared {
    let shared: Shared = Arc::default();
    let writer = Arc::clone(&shared);
    thread::spawn(move || {
        let (state, ended) = &*writer;
        let mut buffer = [0u8; 16 * 1024];
        if let Some(mut stream) = stream {
            while let Ok(n @ 1..) = stream.read(&mut buffer) {
                let mut drained = state.lock().unwrap_or_else(|poison| poison.into_inner());
                let room = cap.saturating_sub(drained.kept.len());
                drained.kept.extend_from_slice(&buffer[..n.min(room)]);
                if n > room {
                    drained.truncated = true;
                    overflow.store(true, Ordering::SeqCst);
                }
            }
        }
        state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .finished = true;
        ended.notify_all();
    });
    shared
}

/// The output read so far; waits a moment for the end of the stream, which a process that
/// escaped the group may hold open forever.
fn collect(shared: &Shared) -> (String, bool) {
    let (state, ended) = &**shared;
    let guard = state.lock().unwrap_or_else(|poison| poison.into_inner());
    let (drained, _) = ended
        .wait_timeout_while(guard, PIPE_GRACE, |drained| !drained.finished)
        .unwrap_or_else(|poison| poison.into_inner());
    let mut text = String::from_utf8_lossy(&drained.kept).into_owned();
    if !drained.finished {
        text.push_str("\n(output cut: a process that left the group kept the pipe open)");
    }
    (text, drained.truncated || !drained.finished)
}

/// How the wait for a child ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Exited(ExitStatus),
    TimedOut,
    Overflowed,
}

/// Waits for the child; past the timeout or the output cap the whole group gets SIGTERM,
/// then SIGKILL; an interruption kills it and returns [`Interrupted`].
///
/// A thread of its own blocks in `wait`, so an exit is seen the moment it happens (polling
/// would add its interval to every one of thousands of short test runs); this thread wakes
/// every few milliseconds for the timeout, the output cap and interruptions.
fn wait(mut child: Child, timeout: Duration, overflow: &AtomicBool) -> std::io::Result<Ended> {
    let group = Pid::from_raw(child.id() as i32);
    let (exited, exit) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let deadline = Instant::now() + timeout;
    let stop = |ended: Ended| -> std::io::Result<Ended> {
        kill_group(group, &exit)?;
        Ok(ended)
    };
    loop {
        match exit.recv_timeout(Duration::from_millis(5)) {
            Ok(status) => return Ok(Ended::Exited(status?)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(std::io::Error::other("lost the wait for a child process"))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if interruption().is_some() {
            stop(Ended::TimedOut)?;
            check_interrupted()?;
        }
        if overflow.load(Ordering::SeqCst) {
            return stop(Ended::Overflowed);
        }
        if Instant::now() >= deadline {
            return stop(Ended::TimedOut);
        }
    }
}

/// SIGTERM to the group, a moment's grace, then SIGKILL; returns once the child is reaped.
fn kill_group(
    group: Pid,
    exit: &std::sync::mpsc::Receiver<std::io::Result<ExitStatus>>,
) -> std::io::Result<()> {
    let _ = killpg(group, Signal::SIGTERM);
    let ended_in_grace = exit.recv_timeout(TERM_GRACE).is_ok();
    // Children of the group may outlive the leader, so the group is killed either way.
    let _ = killpg(group, Signal::SIGKILL);
    if !ended_in_grace {
        exit.recv()
            .map_err(|_| std::io::Error::other("lost the wait for a child process"))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, timeout: Duration) -> Finished {
        let job = Job::new("/bin/sh", Path::new("/"), timeout)
            .arg("-c")
            .arg(script);
        run(&job).unwrap()
    }

    #[test]
    fn the_environment_is_not_inherited() {
        std::env::set_var("LLM_BENCH_TEST_SECRET", "hunter2");
        let finished = shell("echo \"[$LLM_BENCH_TEST_SECRET]\"", Duration::from_secs(5));
        assert_eq!(finished.stdout.trim(), "[]");
    }

    #[test]
    fn a_process_past_its_timeout_is_killed_with_its_children() {
        let started = Instant::now();
        let finished = shell(
            "sleep 30 & sleep 30; echo never",
            Duration::from_millis(200),
        );
        assert!(finished.timed_out());
        assert!(!finished.stdout.contains("never"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_is_capped() {
        let mut job = Job::new("/bin/sh", Path::new("/"), Duration::from_secs(10))
            .arg("-c")
            .arg("yes | head -c 1000000");
        job.output_cap = 1000;
        let finished = run(&job).unwrap();
        assert_eq!(finished.stdout.len(), 1000);
        assert!(finished.truncated);
    }

    fn untrusted(request: SandboxRequest) -> Untrusted {
        Untrusted {
            policy: std::sync::Arc::new(Policy::detect(request, Vec::new(), None).unwrap()),
            view: View::Toolchain,
            limits: Limits {
                memory_bytes: 1 << 30,
                file_bytes: 1 << 20,
                cpu_seconds: 10,
                processes: 32,
                output_bytes: 1 << 16,
            },
            writable: Vec::new(),
            readable: Vec::new(),
        }
    }

    /// Fails, rather than passes, where the machine gives no network namespace to check.
    #[test]
    fn untrusted_processes_cannot_reach_a_listener_on_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        for request in [SandboxRequest::Bwrap, SandboxRequest::Unshare] {
            let job = Job::new("/bin/bash", Path::new("/"), Duration::from_secs(10))
                .arg("-c")
                .arg(format!(
                    "echo hi > /dev/tcp/127.0.0.1/{port} && echo connected"
                ))
                .untrusted(untrusted(request));
            let finished = run(&job).unwrap();
            assert!(
                !finished.stdout.contains("connected"),
                "{request:?}: {finished:?}"
            );
            assert!(
                matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "{request:?}: the listener was reached"
            );
        }
    }

    #[test]
    fn a_child_that_calls_setsid_dies_with_its_untrusted_tree() {
        let marker = format!("98{}", std::process::id());
        let job = Job::new("/bin/sh", Path::new("/"), Duration::from_secs(10))
            .arg("-c")
            .arg(format!("setsid sleep {marker} & echo started"))
            .untrusted(untrusted(SandboxRequest::Bwrap));
        let finished = run(&job).unwrap();
        assert!(finished.stdout.contains("started"), "{finished:?}");
        std::thread::sleep(Duration::from_millis(100));
        let survivors = std::process::Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .unwrap();
        assert!(
            survivors.stdout.is_empty(),
            "a setsid child outlived its tree"
        );
    }

    #[test]
    fn untrusted_processes_see_no_host_file_and_no_environment_of_ours() {
        std::env::set_var("LLM_BENCH_TEST_SECRET", "hunter2");
        let job = Job::new("/bin/sh", Path::new("/"), Duration::from_secs(10))
            .arg("-c")
            .arg("cat /etc/passwd; cat /proc/1/environ; env")
            .untrusted(untrusted(SandboxRequest::Bwrap));
        let finished = run(&job).unwrap();
        assert!(!finished.stdout.contains("root:"), "{finished:?}");
        assert!(!finished.stdout.contains("hunter2"), "{finished:?}");
    }

    #[test]
    fn an_untrusted_tree_that_prints_past_its_cap_is_stopped_for_it() {
        let job = Job::new("/bin/sh", Path::new("/"), Duration::from_secs(10))
            .arg("-c")
            .arg("yes")
            .untrusted(untrusted(SandboxRequest::Bwrap));
        let finished = run(&job).unwrap();
        assert_eq!(finished.stop, Some(Stop::OutputLimit));
    }

    #[test]
    fn children_left_behind_are_killed_and_output_is_kept() {
        let marker = format!("llm-bench-orphan-{}", std::process::id());
        let finished = shell(
            &format!("echo before; sh -c 'sleep 30; echo {marker}' & exit 0"),
            Duration::from_secs(10),
        );
        assert!(finished.stdout.starts_with("before"), "{finished:?}");
        std::thread::sleep(Duration::from_millis(100));
        let survivors = std::process::Command::new("pgrep")
            .arg("-f")
            .arg(&marker)
            .output()
            .unwrap();
        assert!(survivors.stdout.is_empty(), "a child outlived its process");
    }

    #[test]
    fn stdin_is_closed() {
        let finished = shell("cat; echo done", Duration::from_secs(5));
        assert_eq!(finished.stdout.trim(), "done");
    }
}
