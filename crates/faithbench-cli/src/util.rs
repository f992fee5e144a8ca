//! Small helpers: hashing, canonical JSON, timestamps, file-name sanitising, atomic writes.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a byte string, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// sha256 of a file's contents (streamed), hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("{}: cannot open file to hash it", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("{}: read error while hashing", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// A JSON value with every object's keys sorted (recursively).
pub fn canonicalize(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), canonicalize(&m[k]));
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(canonicalize).collect())
        }
        other => other.clone(),
    }
}

/// Compact canonical JSON (sorted keys, no whitespace) of a serialisable value.
pub fn canonical_json<T: serde::Serialize>(v: &T) -> Result<String> {
    let value = serde_json::to_value(v).context("cannot serialise to JSON")?;
    Ok(serde_json::to_string(&canonicalize(&value))?)
}

/// sha256 of the canonical JSON of a value.
pub fn canonical_hash<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(sha256_hex(canonical_json(v)?.as_bytes()))
}

/// A string usable as (part of) a file name: characters outside `[A-Za-z0-9._-]` become `_`.
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
/// process never leaves a half-written file under the final name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create folder", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        format!(
            "{}: cannot move the temporary file {} into place",
            path.display(),
            tmp.display()
        )
    })
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp (`2024-01-31T12:34:56Z`).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Index of the largest value (ties: the lowest index, like `torch.max` on CPU).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Formats a removal level for metric names: `0.1` → `0.1`, `0.25` → `0.25`.
pub fn level_name(p: f64) -> String {
    let s = format!("{p}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"z": [ {"y": 1, "x": 2} ], "c": 0.1}}"#)
                .unwrap();
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"c":0.1,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn rfc3339_known_instants() {
        let t = |s: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(rfc3339(t(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(t(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(t(1_706_704_496)), "2024-01-31T12:34:56Z");
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
    }

    #[test]
    fn argmax_ties_take_lowest_index() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(level_name(0.1), "0.1");
        assert_eq!(level_name(1.0), "1.0");
    }
}
