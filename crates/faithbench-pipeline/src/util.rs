//! Small helpers: canonical JSON and its hash, timestamps.

use crate::error::{Classify, Result};

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
    let value = serde_json::to_value(v).failure(|| "cannot serialise to JSON")?;
    serde_json::to_string(&canonicalize(&value)).failure(|| "cannot serialise to JSON")
}

/// sha256 of the canonical JSON of a value.
pub fn canonical_hash<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(faithbench_data::files::sha256_hex(
        canonical_json(v)?.as_bytes(),
    ))
}

/// Pretty canonical JSON with a final newline (for files people read).
pub fn pretty_json<T: serde::Serialize>(v: &T) -> Result<String> {
    let value = serde_json::to_value(v).failure(|| "cannot serialise to JSON")?;
    Ok(serde_json::to_string_pretty(&canonicalize(&value))
        .failure(|| "cannot serialise to JSON")?
        + "\n")
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

/// The git commit of the working directory, if it is a git checkout.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
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
}
