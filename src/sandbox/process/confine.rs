//! The confinement policy: which sandbox this machine allows, and how an untrusted process
//! is started inside it (bubblewrap's namespaces and mounts, `unshare`, resource limits).
//!
//! Trusted work (`cargo metadata`, `cargo fetch`, `rustc -V`, rustfmt, which only parses) gets a
//! cleared environment and a timeout. Untrusted work — every build and run of generated code —
//! also gets, at the `bwrap` level: new user, network, PID, IPC and UTS namespaces; a root made
//! of the system's `/usr`, the toolchain and the cargo registry, all read-only; the scratch
//! folders it is given as the only writable places; a private `/tmp`; `--die-with-parent` and
//! `--new-session`. bwrap is started from the job's explicit environment, so nothing of ours —
//! secrets included — is in any `/proc/N/environ` inside.

use super::cgroup::{PidsGroup, PidsHierarchy};
use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

/// The sandbox the user asks for (`--sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxRequest {
    /// bubblewrap when it works here, else `unshare` of what the kernel allows, with a warning.
    #[default]
    Auto,
    Bwrap,
    Unshare,
    /// Resource limits only: generated code sees the machine. Only when asked for by name.
    None,
}

impl FromStr for SandboxRequest {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(SandboxRequest::Auto),
            "bwrap" => Ok(SandboxRequest::Bwrap),
            "unshare" => Ok(SandboxRequest::Unshare),
            "none" => Ok(SandboxRequest::None),
            other => Err(format!(
                "unknown sandbox `{other}` (expected auto, bwrap, unshare or none)"
            )),
        }
    }
}

/// The sandbox a run really used; reports record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxLevel {
    Bwrap,
    Unshare,
    None,
}

impl fmt::Display for SandboxLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SandboxLevel::Bwrap => "bwrap",
            SandboxLevel::Unshare => "unshare",
            SandboxLevel::None => "none",
        })
    }
}

/// Why the requested sandbox cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ConfinementError {
    #[error("the bwrap sandbox was asked for, but {0}")]
    BwrapUnavailable(String),
}

/// Resource limits of one untrusted process tree. Each process of the tree gets the memory,
/// CPU and file limits of its own; the process and output limits are for the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space, in bytes.
    pub memory_bytes: u64,
    /// Largest file a process may write, in bytes.
    pub file_bytes: u64,
    /// CPU seconds before the kernel stops a process (SIGXCPU).
    pub cpu_seconds: u64,
    /// Processes and threads alive at once in the tree.
    pub processes: u32,
    /// Bytes of stdout and of stderr kept; a tree that prints more is stopped.
    pub output_bytes: usize,
}

/// The isolation this machine gives untrusted processes, found once per run.
#[derive(Debug)]
pub struct Policy {
    level: SandboxLevel,
    bwrap: Option<PathBuf>,
    /// Visible read-only to every untrusted process: the toolchain and the cargo registry.
    shared_read_only: Vec<PathBuf>,
    /// Cargo's home: a private writable folder inside, with the registry bound read-only.
    cargo_home: Option<PathBuf>,
    pids: Option<PidsHierarchy>,
    /// Namespaces `unshare` got when probed (the `unshare` level).
    unshare_flags: nix::sched::CloneFlags,
    missing: Vec<String>,
}

/// What of the host an untrusted tree sees, beyond the folders it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The system's `/usr`, a full `/dev`, the linker's `/etc/alternatives`, the toolchain and
    /// the cargo registry: what a build needs.
    Toolchain,
    /// The system's `/usr`, the dynamic loader's cache and the data devices (`null`, `zero`,
    /// `full`, `random`, `urandom`): all a built test binary needs. Every mount left out is
    /// work bubblewrap does not repeat for each of the thousands of test runs.
    Runtime,
}

/// How one job is confined: the policy of the run and the job's own limits and folders.
#[derive(Debug, Clone)]
pub struct Untrusted {
    pub policy: std::sync::Arc<Policy>,
    pub view: View,
    pub limits: Limits,
    /// The only places the tree may write (bound read-write at the same path).
    pub writable: Vec<PathBuf>,
    /// More places to see read-only (a test binary), beyond the toolchain.
    pub readable: Vec<PathBuf>,
}

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl Policy {
    /// Finds what `request` gets on this machine. `shared_read_only` lists the toolchain's
    /// folders; `cargo_home` is where the registry lives.
    pub fn detect(
        request: SandboxRequest,
        shared_read_only: Vec<PathBuf>,
        cargo_home: Option<PathBuf>,
    ) -> Result<Policy, ConfinementError> {
        let mut policy = Policy {
            level: SandboxLevel::None,
            bwrap: None,
            shared_read_only,
            cargo_home,
            pids: running_as_root().then(PidsHierarchy::find).flatten(),
            unshare_flags: nix::sched::CloneFlags::empty(),
            missing: Vec::new(),
        };
        if request == SandboxRequest::None {
            policy
                .missing
                .push("no isolation at all (--sandbox none)".to_owned());
            return Ok(policy);
        }
        if matches!(request, SandboxRequest::Auto | SandboxRequest::Bwrap) {
            match policy.probe_bwrap() {
                Ok(bwrap) => {
                    policy.bwrap = Some(bwrap);
                    policy.level = SandboxLevel::Bwrap;
                }
                Err(reason) if request == SandboxRequest::Bwrap => {
                    return Err(ConfinementError::BwrapUnavailable(reason))
                }
                Err(reason) => policy.missing.push(reason),
            }
        }
        if policy.level != SandboxLevel::Bwrap {
            policy.level = SandboxLevel::Unshare;
            policy
                .missing
                .push("no private view of the filesystem (host files are readable)".to_owned());
            policy.probe_unshare();
        }
        if policy.pids.is_none() && running_as_root() {
            policy
                .missing
                .push("no process limit (root, and no pids cgroup can be made)".to_owned());
        }
        Ok(policy)
    }

    pub fn level(&self) -> SandboxLevel {
        self.level
    }

    /// What untrusted code is not kept from on this machine, one phrase each.
    pub fn missing_protections(&self) -> &[String] {
        &self.missing
    }

    fn probe_bwrap(&self) -> Result<PathBuf, String> {
        let bwrap = find_on_path("bwrap").ok_or("bwrap is not installed")?;
        let probe = Command::new(&bwrap)
            .env_clear()
            .args(self.bwrap_args(View::Toolchain, &[], &[], Path::new("/")))
            .args(["--", "/bin/true"])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|error| format!("bwrap cannot be started: {error}"))?;
        if probe.status.success() {
            Ok(bwrap)
        } else {
            Err(format!(
                "bwrap cannot make its namespaces here: {}",
                String::from_utf8_lossy(&probe.stderr).trim()
            ))
        }
    }

    /// Finds which namespaces a process may unshare here, most first.
    fn probe_unshare(&mut self) {
        use nix::sched::CloneFlags;
        let user = if running_as_root() {
            CloneFlags::empty()
        } else {
            CloneFlags::CLONE_NEWUSER
        };
        let all =
            user | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
        for flags in [all, user | CloneFlags::CLONE_NEWNET, CloneFlags::empty()] {
            if unshare_works(flags) {
                self.unshare_flags = flags;
                break;
            }
        }
        self.missing.push(
            "no PID namespace (a child that calls setsid may outlive its stage unless a pids cgroup holds it)"
                .to_owned(),
        );
        if !self.unshare_flags.contains(CloneFlags::CLONE_NEWNET) {
            self.missing
                .push("no network isolation (no network namespace can be made)".to_owned());
        }
    }

    /// bubblewrap's arguments up to the command, for a tree that sees `view` and may write
    /// `writable`.
    fn bwrap_args(
        &self,
        view: View,
        writable: &[PathBuf],
        readable: &[PathBuf],
        cwd: &Path,
    ) -> Vec<String> {
        let mut args: Vec<String> = [
            "--unshare-user",
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut add = |parts: &[&str]| args.extend(parts.iter().map(|part| (*part).to_owned()));
        // Merged-/usr systems link these into /usr; older ones have them as folders.
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            match std::fs::read_link(top) {
                Ok(target) => add(&["--symlink", &target.to_string_lossy(), top]),
                Err(_) if Path::new(top).is_dir() => add(&["--ro-bind", top, top]),
                Err(_) => {}
            }
        }
        match view {
            View::Toolchain => add(&["--dev", "/dev"]),
            View::Runtime => {
                for device in [
                    "/dev/null",
                    "/dev/zero",
                    "/dev/full",
                    "/dev/random",
                    "/dev/urandom",
                ] {
                    add(&["--dev-bind-try", device, device]);
                }
            }
        }
        // The dynamic loader's cache, and for builds the `cc` alternative the linker is found
        // through; the rest of /etc (passwd, credentials, configuration) stays out of sight.
        add(&["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]);
        if view == View::Toolchain {
            for file in ["/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"] {
                add(&["--ro-bind-try", file, file]);
            }
            if let Some(home) = &self.cargo_home {
                let home = home.to_string_lossy();
                add(&["--tmpfs", &home]);
                for sub in ["registry", "git"] {
                    let path = format!("{home}/{sub}");
                    add(&["--ro-bind-try", &path, &path]);
                }
            }
            for path in &self.shared_read_only {
                let path = path.to_string_lossy();
                add(&["--ro-bind", &path, &path]);
            }
        }
        for path in readable {
            let path = path.to_string_lossy();
            add(&["--ro-bind", &path, &path]);
        }
        for path in writable {
            let path = path.to_string_lossy();
            add(&["--bind", &path, &path]);
        }
        add(&["--chdir", &cwd.to_string_lossy()]);
        args
    }
}

impl Untrusted {
    /// The command that runs `program args` confined, and the cgroup that holds its tree.
    pub(super) fn command(
        &self,
        program: &std::ffi::OsStr,
        args: &[std::ffi::OsString],
        cwd: &Path,
    ) -> std::io::Result<(Command, Option<PidsGroup>)> {
        let policy = &*self.policy;
        let group = match &policy.pids {
            Some(hierarchy) => Some(hierarchy.create(self.limits.processes)?),
            None => None,
        };
        // Without a cgroup the count is per user, which only a user namespace of the tree's
        // own makes the tree's: set inside it, after it exists.
        let nproc_inside = group.is_none().then_some(self.limits.processes);
        let mut command = match (policy.level, &policy.bwrap) {
            (SandboxLevel::Bwrap, Some(bwrap)) => {
                let mut command = Command::new(bwrap);
                command.args(policy.bwrap_args(self.view, &self.writable, &self.readable, cwd));
                command.arg("--");
                if let Some(processes) = nproc_inside {
                    command.args(["prlimit", &format!("--nproc={processes}"), "--"]);
                }
                command.arg(program).args(args);
                command
            }
            _ => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
        };
        command.current_dir(cwd);
        let unshare_flags = match policy.level {
            SandboxLevel::Unshare => policy.unshare_flags,
            _ => nix::sched::CloneFlags::empty(),
        };
        let nproc_in_pre_exec = match policy.level {
            SandboxLevel::Bwrap => None,
            _ => nproc_inside,
        };
        let procs_fd = group
            .as_ref()
            .and_then(PidsGroup::procs)
            .map(std::os::fd::AsRawFd::as_raw_fd);
        set_limits_at_exec(
            &mut command,
            self.limits,
            unshare_flags,
            nproc_in_pre_exec,
            procs_fd,
        );
        Ok((command, group))
    }
}

#[expect(
    unsafe_code,
    reason = "limits, cgroup membership and namespaces must be set in the child between fork and exec"
)]
fn set_limits_at_exec(
    command: &mut Command,
    limits: Limits,
    unshare_flags: nix::sched::CloneFlags,
    nproc: Option<u32>,
    cgroup_procs: Option<std::os::fd::RawFd>,
) {
    use nix::sys::resource::{setrlimit, Resource};
    // SAFETY: the closure only makes system calls (write, setrlimit, unshare), which are
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some(fd) = cgroup_procs {
                // `0` is the writing process: the child joins before it can fork.
                let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                nix::unistd::write(fd, b"0").map_err(std::io::Error::from)?;
            }
            let set =
                |resource, value| setrlimit(resource, value, value).map_err(std::io::Error::from);
            set(Resource::RLIMIT_AS, limits.memory_bytes)?;
            set(Resource::RLIMIT_FSIZE, limits.file_bytes)?;
            set(Resource::RLIMIT_CPU, limits.cpu_seconds)?;
            set(Resource::RLIMIT_CORE, 0)?;
            if !unshare_flags.is_empty() {
                nix::sched::unshare(unshare_flags).map_err(std::io::Error::from)?;
            }
            if let Some(processes) = nproc {
                set(Resource::RLIMIT_NPROC, u64::from(processes))?;
            }
            Ok(())
        });
    }
}

/// Whether a process may unshare `flags` here.
fn unshare_works(flags: nix::sched::CloneFlags) -> bool {
    let mut command = Command::new("/bin/true");
    command.env_clear().stdin(std::process::Stdio::null());
    set_limits_at_exec(
        &mut command,
        Limits {
            memory_bytes: 1 << 30,
            file_bytes: 1 << 20,
            cpu_seconds: 10,
            processes: 16,
            output_bytes: 1 << 10,
        },
        flags,
        None,
        None,
    );
    command.status().is_ok_and(|status| status.success())
}

/// The first `name` on our PATH that is a file.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
