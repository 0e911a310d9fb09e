//! The toolchain's own binaries, found once per sandbox: called through a rustup proxy, every
//! rustfmt, rustc or cargo process costs a second process start (tens of milliseconds).

use super::process::{self, Job};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// The programs the sandbox starts: absolute paths into the toolchain's sysroot where it has
/// them, bare names otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Toolchain {
    pub(crate) rustc: OsString,
    pub(crate) rustfmt: OsString,
    pub(crate) cargo: OsString,
    /// Whether `rustc` is the sysroot's own binary, so cargo should be told to use it.
    pub(crate) rustc_resolved: bool,
}

impl Toolchain {
    /// Asks `rustc --print sysroot`, with the builds' environment and from `cwd`, which
    /// toolchain the builds get — exactly as a proxy would choose it: `RUSTUP_TOOLCHAIN`, a
    /// `rust-toolchain.toml` above `cwd`, then rustup's default — and takes that toolchain's
    /// binaries. Without an answer, or for a binary the sysroot lacks, the bare name stays and
    /// PATH (a proxy, maybe) finds it on every call, as it did before.
    ///
    /// `cargo_of_caller` is `$CARGO`: inside `cargo llm-bench`, the cargo that started us.
    pub(crate) fn resolve(
        build_env: &[(OsString, OsString)],
        cwd: &Path,
        cargo_of_caller: Option<OsString>,
    ) -> Toolchain {
        let job = Job::new("rustc", cwd, Duration::from_secs(60))
            .envs(build_env)
            .args(["--print", "sysroot"]);
        let sysroot = match process::run(&job) {
            Ok(finished) if finished.success() => Some(finished.stdout.trim().to_owned()),
            _ => None,
        };
        Toolchain::in_sysroot(sysroot.as_deref().map(Path::new), cargo_of_caller)
    }

    fn in_sysroot(sysroot: Option<&Path>, cargo_of_caller: Option<OsString>) -> Toolchain {
        let binary = |name: &str| {
            sysroot
                .map(|sysroot| sysroot.join("bin").join(name))
                .filter(|path| path.is_absolute() && path.is_file())
                .map(OsString::from)
        };
        let rustc = binary("rustc");
        Toolchain {
            rustc_resolved: rustc.is_some(),
            rustc: rustc.unwrap_or_else(|| OsString::from("rustc")),
            rustfmt: binary("rustfmt").unwrap_or_else(|| OsString::from("rustfmt")),
            cargo: cargo_of_caller
                .or_else(|| binary("cargo"))
                .unwrap_or_else(|| OsString::from("cargo")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_come_from_the_sysroot_when_it_has_them() {
        let sysroot = tempfile::tempdir().unwrap();
        std::fs::create_dir(sysroot.path().join("bin")).unwrap();
        for name in ["rustc", "cargo"] {
            std::fs::write(sysroot.path().join("bin").join(name), "").unwrap();
        }
        let toolchain = Toolchain::in_sysroot(Some(sysroot.path()), None);
        let bin = sysroot.path().join("bin");
        assert_eq!(toolchain.rustc, bin.join("rustc").into_os_string());
        assert_eq!(toolchain.cargo, bin.join("cargo").into_os_string());
        assert!(toolchain.rustc_resolved);
        // No rustfmt component: the name is left for PATH, and its error, to handle.
        assert_eq!(toolchain.rustfmt, OsString::from("rustfmt"));
    }

    #[test]
    fn the_cargo_that_started_us_wins_over_the_sysroot() {
        let sysroot = tempfile::tempdir().unwrap();
        std::fs::create_dir(sysroot.path().join("bin")).unwrap();
        std::fs::write(sysroot.path().join("bin/cargo"), "").unwrap();
        let toolchain =
            Toolchain::in_sysroot(Some(sysroot.path()), Some(OsString::from("/opt/cargo")));
        assert_eq!(toolchain.cargo, OsString::from("/opt/cargo"));
    }

    #[test]
    fn without_a_sysroot_the_bare_names_stay() {
        let toolchain = Toolchain::in_sysroot(None, None);
        assert_eq!(
            (toolchain.rustc, toolchain.rustfmt, toolchain.cargo),
            ("rustc".into(), "rustfmt".into(), "cargo".into())
        );
        assert!(!toolchain.rustc_resolved);
    }

    #[test]
    fn the_real_toolchain_resolves_to_absolute_paths() {
        let env: Vec<(OsString, OsString)> = ["PATH", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "HOME"]
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (OsString::from(name), value)))
            .collect();
        let toolchain = Toolchain::resolve(&env, Path::new("/"), None);
        assert!(toolchain.rustc_resolved, "{toolchain:?}");
        assert!(Path::new(&toolchain.rustc).is_absolute());
        assert!(Path::new(&toolchain.rustfmt).is_absolute(), "{toolchain:?}");
    }
}
