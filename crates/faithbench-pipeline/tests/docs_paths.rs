//! The README and the docs name only things that exist: every `configs/…`, `docs/…`,
//! `datasets/…`, `models/…`, `fixtures/…` and `scripts/…` path they mention is in the
//! repository, and every config they name parses and resolves (a dry run: `${VAR}`s get dummy
//! values, nothing but the config is read). Every config under `configs/` resolves too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use faithbench_pipeline::published::PublishedFile;
use faithbench_pipeline::Settings;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The Markdown files users read.
fn documents() -> Vec<PathBuf> {
    let r = root();
    let mut out = vec![r.join("README.md")];
    for dir in [
        "docs",
        "configs/paper",
        "datasets",
        "fixtures",
        "models",
        "scripts",
    ] {
        let Ok(rd) = std::fs::read_dir(r.join(dir)) else {
            continue;
        };
        let mut md: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        md.sort();
        out.extend(md);
    }
    out
}

const PREFIXES: [&str; 6] = [
    "configs/",
    "docs/",
    "datasets/",
    "models/",
    "fixtures/",
    "scripts/",
];

/// Repository paths mentioned in a text: a known top-level folder at a word start, then path
/// characters; trailing punctuation is dropped. A path followed by `*` is a glob prefix and is
/// kept with its `*`.
fn mentioned_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    for (i, _) in text.char_indices() {
        let Some(p) = PREFIXES.iter().find(|p| text[i..].starts_with(*p)) else {
            continue;
        };
        if i > 0 {
            let prev = bytes[i - 1];
            if prev.is_ascii_alphanumeric()
                || matches!(prev, b'_' | b'-' | b'.' | b'/' | b'$' | b'}')
            {
                continue;
            }
        }
        let rest = &text[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('*') {
            out.insert(format!("{}*", &rest[..end]));
            continue;
        }
        let path = rest[..end].trim_end_matches(['.', ',', ':', ')']);
        if path.len() > p.len() {
            out.insert(path.to_string());
        }
    }
    out
}

/// Whether a mentioned path exists (a glob prefix: some entry of its folder starts with it).
fn exists(root: &Path, p: &str) -> bool {
    match p.strip_suffix('*') {
        None => root.join(p).exists(),
        Some(prefix) => {
            let (dir, stem) = prefix.rsplit_once('/').unwrap_or((".", prefix));
            std::fs::read_dir(root.join(dir)).is_ok_and(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().starts_with(stem))
            })
        }
    }
}

fn dummy(name: &str) -> Option<String> {
    Some(format!("/dummy/{name}"))
}

/// A shipped TOML file: a published-numbers file (`published.toml`) must read as one, every
/// other file as a run config.
fn check_toml(p: &Path) -> Result<(), String> {
    if p.file_name().is_some_and(|n| n == "published.toml") {
        return PublishedFile::read(p)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    Settings::load_with(p, &dummy)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn every_path_the_docs_name_exists_and_every_named_config_resolves() {
    let r = root();
    let mut missing = Vec::new();
    let mut configs = BTreeSet::new();
    let docs = documents();
    assert!(docs.len() >= 5, "{docs:?}");
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for p in mentioned_paths(&text) {
            if !exists(&r, &p) {
                missing.push(format!("{}: {p}", doc.strip_prefix(&r).unwrap().display()));
            } else if p.ends_with(".toml") {
                configs.insert(p);
            }
        }
    }
    assert!(missing.is_empty(), "named but missing: {missing:#?}");
    assert!(configs.contains("configs/demo.toml"), "{configs:?}");
    for c in &configs {
        if let Err(e) = check_toml(&r.join(c)) {
            panic!("{c}: {e}");
        }
    }
}

#[test]
fn every_shipped_config_resolves() {
    let mut stack = vec![root().join("configs")];
    let mut found = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "toml") {
                if let Err(e) = check_toml(&p) {
                    panic!("{e}");
                }
                found += 1;
            }
        }
    }
    assert!(found >= 5, "only {found} configs");
}

/// The path scanner by hand.
#[test]
fn mentioned_paths_by_hand() {
    let t = "run `configs/demo.toml`, see docs/config.md. Not xconfigs/a, ${CONFIG_DIR}/../../datasets/x, \
             (models/shapes_vit_cls) and configs/paper/*.toml";
    let got: Vec<String> = mentioned_paths(t).into_iter().collect();
    assert_eq!(
        got,
        vec![
            "configs/demo.toml",
            "configs/paper/*",
            "docs/config.md",
            "models/shapes_vit_cls"
        ]
    );
    assert!(exists(&root(), "configs/paper/vit_b16_*"));
    assert!(!exists(&root(), "configs/paper/nothing_*"));
}
