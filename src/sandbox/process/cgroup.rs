//! A pids cgroup per untrusted process tree: the process limit that holds for root, and a
//! handle that finds and kills every process of the tree, whatever sessions or groups it made.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where new pids cgroups can be made: the pids hierarchy (cgroup v1) or the unified one
/// (cgroup v2 with the pids controller), under the cgroup this process is in.
#[derive(Debug, Clone)]
pub struct PidsHierarchy {
    parent: PathBuf,
}

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
            let hierarchy = PidsHierarchy { parent };
            // Only a hierarchy we can really make a limited group in will do.
            let probe = hierarchy.create(1).ok()?;
            drop(probe);
            Some(hierarchy)
        })
    }

    /// A new cgroup allowing at most `max_processes` tasks (threads count).
    pub fn create(&self, max_processes: u32) -> std::io::Result<PidsGroup> {
        let name = format!(
            "llm-bench-{}-{}",
            std::process::id(),
            NEXT_GROUP.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.parent.join(name);
        std::fs::create_dir(&dir)?;
        // Made first, so that a failure below still removes the folder.
        let mut group = PidsGroup {
            procs: None,
            dir: dir.clone(),
        };
        std::fs::write(dir.join("pids.max"), max_processes.to_string())?;
        group.procs = Some(File::options().write(true).open(dir.join("cgroup.procs"))?);
        Ok(group)
    }
}

/// One tree's cgroup; dropping it kills whatever is left in it and removes it.
#[derive(Debug)]
pub struct PidsGroup {
    /// Open for writing before the fork, so the child joins with one `write` and no allocation.
    procs: Option<File>,
    dir: PathBuf,
}

impl PidsGroup {
    /// The file a child writes `0` to, to join the group.
    pub fn procs(&self) -> Option<&File> {
        self.procs.as_ref()
    }

    /// Whether a fork in the tree was refused for the limit.
    pub fn limit_was_hit(&self) -> bool {
        // v1 and v2 both say `max N`, N the number of refused forks.
        std::fs::read_to_string(self.dir.join("pids.events")).is_ok_and(|events| {
            events
                .lines()
                .filter_map(|line| line.strip_prefix("max "))
                .any(|count| count.trim() != "0")
        })
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
        // A group is removable once its last task is reaped, which may take a moment.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
