//! `faithbench list` against sources independent of the registries it prints: the methods the
//! float64 PyTorch reference fixtures cover (`fixtures/explain/params.json`), the kinds the
//! shipped configs use (`configs/**/*.toml`), and the protocols of the paper's benchmark; and
//! `faithbench list --markdown` against the committed `docs/registry.md`.

use std::collections::BTreeSet;
use std::path::Path;

mod common;
use common::{faithbench, ok, repo, stdout};

fn toml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

/// The first word of each entry line of a listing section (`  name  description`).
fn names_in_section(listing: &str, header: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in listing.lines() {
        if line.starts_with(header) {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() {
                break;
            }
            // entry lines have a name right after two spaces; continuation lines are indented
            if let Some(rest) = line.strip_prefix("  ") {
                if !rest.starts_with(' ') {
                    if let Some(w) = rest.split_whitespace().next() {
                        out.insert(w.to_string());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn list_covers_every_referenced_method_and_every_kind_the_configs_use() {
    let o = faithbench(&["list"], &[]);
    ok(&o);
    let l = stdout(&o);
    let methods = names_in_section(&l, "Methods");
    let evaluators = names_in_section(&l, "Evaluators");
    let datasets = names_in_section(&l, "Datasets");
    let presets = names_in_section(&l, "Model presets");

    // every method the PyTorch reference computes
    let params: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/explain/params.json")).unwrap(),
    )
    .unwrap();
    let mut reference = BTreeSet::new();
    for m in params["models"].as_object().unwrap().values() {
        for k in m["keys"].as_object().unwrap().values() {
            reference.insert(k["method"].as_str().unwrap().to_string());
        }
    }
    assert!(reference.len() >= 8, "{reference:?}");
    for m in &reference {
        assert!(
            methods.contains(m),
            "reference method `{m}` is not listed: {methods:?}"
        );
    }
    // the paper's benchmark: its method, the floor and plug-in maps, its protocols
    for m in ["ours_h", "ours_t", "random", "precomputed"] {
        assert!(methods.contains(m), "{m}");
    }
    for e in [
        "perturbation",
        "segmentation",
        "eraser_rationales",
        "text_perturbation",
    ] {
        assert!(evaluators.contains(e), "{e}: {evaluators:?}");
    }
    for p in ["vit_b16", "vit_l16", "vit_mae_b16"] {
        assert!(presets.contains(p), "{p}: {presets:?}");
    }

    // every kind and method a shipped config uses
    let mut files = Vec::new();
    toml_files(&repo().join("configs"), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        let v: toml::Value = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let tables = |key: &str| -> Vec<toml::Value> {
            match v.get(key) {
                Some(toml::Value::Array(a)) => a.clone(),
                Some(toml::Value::Table(t)) => t.values().cloned().collect(),
                _ => Vec::new(),
            }
        };
        for e in tables("evaluators") {
            let k = e["kind"].as_str().unwrap();
            assert!(evaluators.contains(k), "{}: evaluator `{k}`", f.display());
        }
        for x in tables("explainers") {
            if let Some(m) = x.get("method").and_then(|m| m.as_str()) {
                assert!(methods.contains(m), "{}: method `{m}`", f.display());
            }
        }
        let mut ds = tables("datasets");
        ds.extend(v.get("dataset").cloned());
        for d in ds {
            let k = d["kind"].as_str().unwrap();
            assert!(datasets.contains(k), "{}: dataset `{k}`", f.display());
        }
    }
}

#[test]
fn docs_registry_is_the_generated_listing() {
    let o = faithbench(&["list", "--markdown"], &[]);
    ok(&o);
    let committed = std::fs::read_to_string(repo().join("docs/registry.md")).unwrap();
    assert!(
        committed == stdout(&o),
        "docs/registry.md is out of date: regenerate it with \
         `cargo run --release -p faithbench-cli -- list --markdown > docs/registry.md`"
    );
}
