//! The run-folder lock: one `faithbench run` (or `merge`) writes a run folder at a time.
//!
//! The lock is the file `<run folder>/.faithbench.lock`, created exclusively (`create_new`) and
//! holding the owner's process id, host name and start time. A second run finds it and refuses
//! with a message naming the owner. A lock left by a killed run is *stale*: when its host is
//! this host and no process with its id is alive (`/proc/<pid>` is absent), it is replaced with
//! a note. A lock of another host cannot be checked from here; the message says so and which
//! file to remove once that run is known to be dead. The lock is removed when the run ends
//! (also on errors: it is released on drop).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Classify, Error, Result};

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = ".faithbench.lock";

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// Start time (RFC 3339).
    pub started_at: String,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else "unknown").
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether a process of this host is alive (Linux: `/proc/<pid>` exists). On systems without
/// `/proc` every process counts as alive, so no lock is ever taken for stale there.
pub fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

impl RunLock {
    /// Takes the lock of run folder `dir` (which must exist). `log` is told when a stale lock
    /// is replaced.
    pub fn acquire(dir: &Path, log: &mut dyn FnMut(&str)) -> Result<RunLock> {
        let path = dir.join(LOCK_FILE);
        let me = LockOwner {
            pid: std::process::id(),
            host: host_name(),
            started_at: crate::util::rfc3339(std::time::SystemTime::now()),
        };
        let body = serde_json::to_string(&me).unwrap_or_default() + "\n";
        for attempt in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(body.as_bytes())
                        .and_then(|_| f.flush())
                        .failure(|| format!("{}: cannot write the lock", path.display()))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt == 0 => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let owner: Option<LockOwner> = serde_json::from_str(text.trim()).ok();
                    match owner {
                        Some(o) if o.host == me.host && !process_alive(o.pid) => {
                            log(&format!(
                                "{}: removing the stale lock of process {} (started {}), which is no longer running",
                                path.display(),
                                o.pid,
                                o.started_at
                            ));
                            std::fs::remove_file(&path).failure(|| {
                                format!("{}: cannot remove the stale lock", path.display())
                            })?;
                        }
                        Some(o) if o.host == me.host => {
                            return Err(Error::input(format!(
                                "{}: another faithbench (process {}, started {}) is writing this run folder; \
                                 wait for it to finish or choose another --out",
                                dir.display(),
                                o.pid,
                                o.started_at
                            )));
                        }
                        Some(o) => {
                            return Err(Error::input(format!(
                                "{}: a faithbench on host `{}` (process {}, started {}) holds this run folder, \
                                 which cannot be checked from `{}`; if that run is dead, remove {}",
                                dir.display(),
                                o.host,
                                o.pid,
                                o.started_at,
                                me.host,
                                path.display()
                            )));
                        }
                        None => {
                            return Err(Error::input(format!(
                                "{}: holds a lock file that is not faithbench's ({:?}); remove it if no run is using the folder",
                                path.display(),
                                text.chars().take(80).collect::<String>()
                            )));
                        }
                    }
                }
                Err(e) => {
                    return Err(e).failure(|| format!("{}: cannot create the lock", path.display()))
                }
            }
        }
        Err(Error::input(format!(
            "{}: the lock was taken again while replacing a stale one; another run started just now",
            path.display()
        )))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_and_the_lock_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = |_: &str| {};
        let l = RunLock::acquire(dir.path(), &mut log).unwrap();
        let e = RunLock::acquire(dir.path(), &mut log).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Input);
        assert!(e.to_string().contains("another faithbench"), "{e}");
        assert!(
            e.to_string().contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(l);
        assert!(!dir.path().join(LOCK_FILE).exists());
        RunLock::acquire(dir.path(), &mut log).unwrap();
    }

    #[test]
    fn stale_lock_of_a_dead_process_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        // pid_max on Linux is at most 2^22, so this process cannot exist
        let dead = LockOwner {
            pid: 4_194_304 + 17,
            host: host_name(),
            started_at: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let mut lines = Vec::new();
        let l = RunLock::acquire(dir.path(), &mut |s: &str| lines.push(s.to_string())).unwrap();
        assert!(
            lines[0].contains("stale lock of process 4194321"),
            "{lines:?}"
        );
        let now: LockOwner = serde_json::from_str(
            std::fs::read_to_string(dir.path().join(LOCK_FILE))
                .unwrap()
                .trim(),
        )
        .unwrap();
        assert_eq!(now.pid, std::process::id());
        drop(l);
    }

    #[test]
    fn lock_of_another_host_names_the_file_to_remove() {
        let dir = tempfile::tempdir().unwrap();
        let other = LockOwner {
            pid: 1,
            host: format!("{}-elsewhere", host_name()),
            started_at: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&other).unwrap(),
        )
        .unwrap();
        let e = RunLock::acquire(dir.path(), &mut |_: &str| {}).unwrap_err();
        assert!(e.to_string().contains("-elsewhere"), "{e}");
        assert!(e.to_string().contains(LOCK_FILE), "{e}");
        // a foreign file is not silently removed either
        std::fs::write(dir.path().join(LOCK_FILE), "hello").unwrap();
        let e = RunLock::acquire(dir.path(), &mut |_: &str| {}).unwrap_err();
        assert!(e.to_string().contains("not faithbench's"), "{e}");
    }
}
