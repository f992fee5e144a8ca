//! File helpers shared by every crate that writes or identifies files: content hashes, the one
//! file-name rule, atomic writes.

use std::path::{Path, PathBuf};

/// An I/O failure on a file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}: {source}")]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// What was being done.
    pub message: &'static str,
    /// Cause.
    #[source]
    pub source: std::io::Error,
}

/// sha256 of a file's contents (streamed), lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, FileError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let err = |message, source| FileError {
        path: path.to_path_buf(),
        message,
        source,
    };
    let mut f = std::fs::File::open(path).map_err(|e| err("cannot open file to hash it", e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| err("read error while hashing", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// sha256 of a byte string, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string usable as (part of) a file name: characters outside `[A-Za-z0-9._-]` become `_`
/// (and a leading `.` is prefixed with `_`). The one file-name rule of faithbench: records,
/// plots, galleries and ERASER results files are named through it.
pub fn file_stem(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        format!("_{out}")
    } else {
        out
    }
}

/// Writes a file atomically: to a temporary sibling, then renamed over the target, so a killed
/// process never leaves a half-written file under the final name. Creates the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let err = |message, source| FileError {
        path: path.to_path_buf(),
        message,
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err("cannot create its folder", e))?;
    // unique per writer: process id, a per-process counter, and the clock (two hosts sharing a
    // file system may have equal process ids)
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}-{:x}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        nanos
    ));
    std::fs::write(&tmp, bytes).map_err(|e| err("cannot write a temporary file", e))?;
    std::fs::rename(&tmp, path).map_err(|e| err("cannot move the temporary file into place", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two writers of one cache key in one process used to share the temporary file name
    /// (`.<name>.tmp-<pid>`), so one could rename the other's half-written file into place.
    #[test]
    fn write_atomic_concurrent_writers_of_one_file_never_corrupt_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.npy");
        // each writer writes a different, self-checking payload: 64 KiB of one byte value
        let payload = |w: u8| vec![w; 1 << 16];
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        std::thread::scope(|s| {
            let writers: Vec<_> = (0..6u8)
                .map(|w| {
                    let path = path.clone();
                    s.spawn(move || {
                        for _ in 0..40 {
                            write_atomic(&path, &payload(w)).unwrap();
                        }
                    })
                })
                .collect();
            let stop2 = stop.clone();
            let path2 = path.clone();
            let reader = s.spawn(move || {
                let mut reads = 0;
                while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(b) = std::fs::read(&path2) {
                        assert_eq!(b.len(), 1 << 16, "torn file");
                        assert!(b.iter().all(|&x| x == b[0]), "mixed writers");
                        reads += 1;
                    }
                }
                reads
            });
            for w in writers {
                w.join().unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0, "the reader saw the file");
        });
        let b = std::fs::read(&path).unwrap();
        assert_eq!(b.len(), 1 << 16);
        assert!(b.iter().all(|&x| x == b[0] && x < 6));
        // no temporary files left behind
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("Ours-H"), "Ours-H");
        assert_eq!(
            file_stem("generic_attention[mean_then_clamp]"),
            "generic_attention_mean_then_clamp_"
        );
        assert_eq!(file_stem("a/b c"), "a_b_c");
        assert_eq!(file_stem(".."), "_..");
        assert_eq!(file_stem(""), "_");
    }

    #[test]
    fn hashes_and_atomic_writes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = std::env::temp_dir().join(format!("fb-files-{}", std::process::id()));
        let p = dir.join("sub").join("x.txt");
        write_atomic(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), sha256_hex(b"abc"));
        assert!(sha256_file(&dir.join("none"))
            .unwrap_err()
            .to_string()
            .contains("none"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
