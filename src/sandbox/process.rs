//! The one place that spawns processes: explicit environment, null stdin, capped output,
//! resource limits, and a wall timeout that kills the whole process group (TERM, then KILL).

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a process group gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(300);

/// Output past this many bytes per stream is dropped; generated code can print forever.
pub const DEFAULT_OUTPUT_CAP: usize = 256 * 1024;

/// Resource limits applied to untrusted processes (the test binaries).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Address space, in bytes.
    pub memory_bytes: u64,
    /// Largest file the process may write, in bytes.
    pub file_bytes: u64,
    /// CPU seconds before the kernel sends SIGXCPU/SIGKILL.
    pub cpu_seconds: u64,
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
    pub limits: Option<Limits>,
}

impl Job {
    pub fn new(program: impl Into<OsString>, cwd: &Path, timeout: Duration) -> Job {
        Job {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.to_owned(),
            env: Vec::new(),
            timeout,
            output_cap: DEFAULT_OUTPUT_CAP,
            limits: None,
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

    pub fn limits(mut self, limits: Limits) -> Job {
        self.limits = Some(limits);
        self
    }
}

/// What a finished (or killed) process left behind.
#[derive(Debug)]
pub struct Finished {
    /// `None` when the process was killed for running past its timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub truncated: bool,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }
}

/// Runs a job to completion or timeout. Errors only when the process cannot be started.
pub fn run(job: &Job) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut command = Command::new(&job.program);
    command
        .args(&job.args)
        .current_dir(&job.cwd)
        .env_clear()
        .envs(job.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(limits) = job.limits {
        apply_limits(&mut command, limits);
    }
    let mut child = command.spawn()?;
    let group = LiveGroup::register(child.id());
    let stdout = drain(child.stdout.take(), job.output_cap);
    let stderr = drain(child.stderr.take(), job.output_cap);
    let status = wait_with_timeout(&mut child, job.timeout)?;
    // Whatever the process started and left behind in its group goes with it.
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    drop(group);
    let (stdout, stdout_truncated) = collect(&stdout);
    let (stderr, stderr_truncated) = collect(&stderr);
    Ok(Finished {
        status,
        stdout,
        stderr,
        elapsed: started.elapsed(),
        truncated: stdout_truncated || stderr_truncated,
    })
}

#[expect(
    unsafe_code,
    reason = "limits and namespaces must be set in the child between fork and exec"
)]
fn apply_limits(command: &mut Command, limits: Limits) {
    use nix::sched::{unshare, CloneFlags};
    use nix::sys::resource::{setrlimit, Resource};
    // SAFETY: the closure only makes system calls (setrlimit, unshare), which are
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let set =
                |resource, value| setrlimit(resource, value, value).map_err(std::io::Error::from);
            set(Resource::RLIMIT_AS, limits.memory_bytes)?;
            set(Resource::RLIMIT_FSIZE, limits.file_bytes)?;
            set(Resource::RLIMIT_CPU, limits.cpu_seconds)?;
            set(Resource::RLIMIT_CORE, 0)?;
            // A network namespace of its own holds only a loopback that is down: no traffic
            // leaves. Without root, a user namespace grants the right to make one. Where
            // neither is allowed the process runs unisolated; `network_isolation` tells.
            if unshare(CloneFlags::CLONE_NEWNET).is_err() {
                let _ = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET);
            }
            Ok(())
        });
    }
}

/// Process groups running now; an interrupt kills them before the tool exits, because a
/// group of its own does not get the terminal's Ctrl-C.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// A process group registered as live for as long as this value lives.
struct LiveGroup(i32);

impl LiveGroup {
    fn register(pid: u32) -> LiveGroup {
        let group = pid as i32;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(group);
        LiveGroup(group)
    }
}

impl Drop for LiveGroup {
    fn drop(&mut self) {
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .retain(|&group| group != self.0);
    }
}

/// On SIGINT, SIGTERM or SIGHUP: kill every live process group, then exit with 128 + the
/// signal number (130 for Ctrl-C), as a shell would.
pub fn kill_children_on_interrupt() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            for &group in LIVE_GROUPS
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .iter()
            {
                let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            }
            std::process::exit(128 + signal);
        }
    });
    Ok(())
}

/// Whether processes with limits really get a network namespace of their own here.
pub fn network_isolation() -> bool {
    let job = Job::new("/bin/sh", Path::new("/"), Duration::from_secs(10))
        .arg("-c")
        .arg("readlink /proc/self/ns/net")
        .limits(Limits {
            memory_bytes: 1 << 30,
            file_bytes: 1 << 20,
            cpu_seconds: 10,
        });
    let own = std::fs::read_link("/proc/self/ns/net").ok();
    match (run(&job), own) {
        (Ok(finished), Some(own)) => {
            finished.success() && finished.stdout.trim() != own.to_string_lossy()
        }
        _ => false,
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

/// Reads a stream to its end on its own thread, keeping at most `cap` bytes.
fn drain<R: Read + Send + 'static>(stream: Option<R>, cap: usize) -> Shared {
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
                drained.truncated |= n > room;
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

/// Waits for the child; past the timeout the whole group gets SIGTERM, then SIGKILL.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            kill_group(child);
            return Ok(None);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn kill_group(child: &mut Child) {
    let group = Pid::from_raw(child.id() as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let grace_deadline = Instant::now() + TERM_GRACE;
    while Instant::now() < grace_deadline && matches!(child.try_wait(), Ok(None)) {
        thread::sleep(Duration::from_millis(10));
    }
    // Children of the group may outlive the leader, so the group is killed either way.
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
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

    #[test]
    fn limited_processes_cannot_reach_the_network() {
        if !network_isolation() {
            eprintln!("skipped: this machine allows no network namespaces");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let job = Job::new("/bin/bash", Path::new("/"), Duration::from_secs(10))
            .arg("-c")
            .arg(format!(
                "echo hi > /dev/tcp/127.0.0.1/{port} && echo connected"
            ))
            .limits(Limits {
                memory_bytes: 1 << 30,
                file_bytes: 1 << 20,
                cpu_seconds: 10,
            });
        let finished = run(&job).unwrap();
        assert!(!finished.stdout.contains("connected"), "{finished:?}");
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
