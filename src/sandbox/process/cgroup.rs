//! A pids cgroup per untrusted process tree: the process limit that holds for root, and a
//! handle that finds and kills every process of the tree, whatever sessions or groups it made.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where new pids cgroups can be made: the pids hierarchy (cgroup v1) or the unified one
/// (cgroup v2 with the pids controller), under the cgroup this process is in.
///
/// A group whose tree is gone is kept for the next tree rather than removed: removing a cgroup
/// waits for the kernel (milliseconds each, on the path of every one of thousands of test runs),
/// and an empty group carries nothing from one tree to the next but its counters, which are
/// reset or read relative to their value at hand-over. The kept groups are removed with the
/// hierarchy.
#[derive(Debug)]
pub struct PidsHierarchy {
    parent: PathBuf,
    idle: IdleGroups,
}

/// Empty groups ready for another tree; `None` once the hierarchy is gone, so a group handed
/// back after that is removed instead.
type IdleGroups = Arc<Mutex<Option<Vec<PathBuf>>>>;

/// Tells the cgroups of concurrent runs apart.
static NEXT_GROUP: AtomicU64 = AtomicU64::new(0);

impl PidsHierarchy {
    /// The pids hierarchy this process may create cgroups in, if any (usually only as root).
    pub fn find() -> Option<PidsHierarchy> {
        let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mut candidates = Vec::new();
        for line in membership.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let path = path.trim_start_matches('/');
            if controllers.split(',').any(|c| c == "pids") {
                candidates.push(Path::new("/sys/fs/cgroup/pids").join(path));
            } else if controllers.is_empty() {
                for mount in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    let dir = Path::new(mount).join(path);
                    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                        .is_ok_and(|text| text.split_whitespace().any(|c| c == "pids"));
                    if enabled {
                        candidates.push(dir);
                    }
                }
            }
        }
        candidates.into_iter().find_map(|parent| {
            let hierarchy = PidsHierarchy {
                parent,
                idle: Arc::new(Mutex::new(Some(Vec::new()))),
            };
            // Only a hierarchy we can really make a limited group in will do.
            let probe = hierarchy.create(1).ok()?;
            drop(probe);
            Some(hierarchy)
        })
    }

    /// An empty cgroup allowing at most `max_processes` tasks (threads count): a kept one, or a
    /// new one.
    pub fn create(&self, max_processes: u32) -> std::io::Result<PidsGroup> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .as_mut()
            .and_then(Vec::pop);
        let dir = match kept {
            Some(dir) => dir,
            None => {
                let dir = self.parent.join(format!(
                    "llm-bench-{}-{}",
                    std::process::id(),
                    NEXT_GROUP.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir(&dir)?;
                dir
            }
        };
        // Made first, so that a failure below still hands back or removes the folder.
        let mut group = PidsGroup {
            procs: None,
            refused_before: 0,
            dir,
            idle: Arc::clone(&self.idle),
        };
        std::fs::write(group.dir.join("pids.max"), max_processes.to_string())?;
        group.refused_before = group.refused_forks();
        // The child joins from between fork and exec, single-threaded, so moving its one thread
        // moves the whole process. cgroup v1's `tasks` does that without the kernel's global
        // lock that `cgroup.procs` takes (and waits out an RCU grace period for: milliseconds
        // per test run); v2 has no such file, and `cgroup.procs` it is.
        let tasks = group.dir.join("tasks");
        let join = if tasks.exists() {
            tasks
        } else {
            group.dir.join("cgroup.procs")
        };
        group.procs = Some(File::options().write(true).open(join)?);
        Ok(group)
    }
}

impl Drop for PidsHierarchy {
    fn drop(&mut self) {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        for dir in idle.into_iter().flatten() {
            remove_group_dir(&dir);
        }
    }
}

/// Removes an empty group's folder; it is removable once its last task is reaped, which may
/// take a moment.
fn remove_group_dir(dir: &Path) {
    for _ in 0..100 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// One tree's cgroup; dropping it kills whatever is left in it and hands it back, empty, for
/// the next tree.
#[derive(Debug)]
pub struct PidsGroup {
    /// Open for writing before the fork, so the child joins with one `write` and no allocation.
    procs: Option<File>,
    /// Forks the group had refused before this tree got it.
    refused_before: u64,
    dir: PathBuf,
    idle: IdleGroups,
}

impl PidsGroup {
    /// The file a child writes `0` to, to join the group (before exec, while it has one thread).
    pub fn procs(&self) -> Option<&File> {
        self.procs.as_ref()
    }

    /// Whether a fork in the tree was refused for the limit.
    pub fn limit_was_hit(&self) -> bool {
        self.refused_forks() > self.refused_before
    }

    /// Forks the group has refused for its limit since it was made.
    fn refused_forks(&self) -> u64 {
        // v1 and v2 both say `max N`, N the number of refused forks.
        std::fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|events| {
                events
                    .lines()
                    .find_map(|line| line.strip_prefix("max ")?.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Whether no task is left in the group, nor counted against its limit: a task that has
    /// left `cgroup.procs` still counts until it is reaped.
    fn is_empty(&self) -> bool {
        std::fs::read_to_string(self.dir.join("pids.current"))
            .is_ok_and(|current| current.trim() == "0")
    }

    /// Kills every process in the group until none is left (a fork storm refills it while
    /// we read, so read again).
    pub fn kill_all(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            self.wait_empty();
            return;
        }
        for _ in 0..1000 {
            let Ok(members) = std::fs::read_to_string(self.dir.join("cgroup.procs")) else {
                return;
            };
            let pids: Vec<i32> = members
                .lines()
                .filter_map(|line| line.trim().parse().ok())
                .collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn wait_empty(&self) {
        for _ in 0..1000 {
            match std::fs::read_to_string(self.dir.join("cgroup.procs")) {
                Ok(members) if !members.trim().is_empty() => {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                _ => return,
            }
        }
    }
}

impl Drop for PidsGroup {
    fn drop(&mut self) {
        self.procs = None;
        self.kill_all();
        // Only a group seen empty goes to the next tree: nothing of this one may be in it.
        if self.is_empty() {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if let Some(idle) = idle.as_mut() {
                idle.push(std::mem::take(&mut self.dir));
                return;
            }
        }
        remove_group_dir(&self.dir);
    }
}
