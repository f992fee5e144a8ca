//! What `faithbench list` prints and what `docs/registry.md` holds: every method (with its
//! parameters and defaults), preset, per-family default, evaluator, dataset kind and model
//! preset, read from the registries — so a new entry appears here with no other edit.

use std::fmt::Write as _;

use faithbench_explain::defaults::FAMILY_DEFAULTS;
use faithbench_explain::presets::PRESETS;
use faithbench_explain::{MethodConfig, METHODS};
use serde_json::Value;

fn method_params(m: &faithbench_explain::MethodInfo) -> Vec<(String, String)> {
    let example: Value = serde_json::from_str(m.example).unwrap_or(Value::Null);
    let params = example
        .as_object()
        .and_then(|ex| MethodConfig::new(m.name, ex).ok())
        .map(|c| c.params().clone())
        .unwrap_or_default();
    params
        .into_iter()
        .map(|(k, v)| {
            let per_family = FAMILY_DEFAULTS
                .iter()
                .any(|f| f.values.iter().any(|(mm, kk, _)| *mm == m.name && *kk == k));
            let shown = match (v.is_null(), per_family) {
                (true, true) => "model-dependent".to_string(),
                (true, false) => "unset".to_string(),
                (false, _) => v.to_string(),
            };
            (k, shown)
        })
        .collect()
}

fn evaluator_keys(e: &faithbench_eval::EvaluatorInfo) -> String {
    e.example.to_string()
}

/// The text of `faithbench list`.
pub fn listing() -> String {
    let mut out = String::new();
    out.push_str("Methods ([[explainers]] method = \"...\"; parameters with their defaults):\n");
    for m in METHODS {
        let _ = writeln!(out, "  {:<25} {}", m.name, m.summary);
        let params: Vec<String> = method_params(m)
            .into_iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        if !params.is_empty() {
            let _ = writeln!(out, "  {:<25}   {}", "", params.join(", "));
        }
    }
    out.push_str("\nModel-dependent defaults (per model family):\n");
    for f in FAMILY_DEFAULTS {
        let vals: Vec<String> = f
            .values
            .iter()
            .map(|(m, k, d)| format!("{m}.{k} = {}", d.describe()))
            .collect();
        let _ = writeln!(out, "  {:<6} {}", f.family.name(), vals.join(", "));
    }
    out.push_str("\nPresets ([[explainers]] preset = \"...\"; keys next to it override):\n");
    for p in PRESETS {
        let _ = writeln!(out, "  {:<40} {}", p.name, p.source);
    }
    out.push_str("\nEvaluators ([[evaluators]] kind = \"...\"):\n");
    for e in faithbench_eval::EVALUATORS {
        let _ = writeln!(
            out,
            "  {:<18} {} ({}; {} datasets{})",
            e.kind,
            e.summary,
            e.protocol,
            e.modality.name(),
            if e.needs.is_empty() {
                String::new()
            } else {
                format!(
                    " with {}",
                    e.needs
                        .iter()
                        .map(|c| c.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        let _ = writeln!(out, "  {:<18}   metrics: {}", "", e.metrics);
        let _ = writeln!(out, "  {:<18}   minimal table: {}", "", evaluator_keys(e));
    }
    out.push_str("\nDatasets ([datasets.NAME] kind = \"...\"; also model, limit, and resize (images) or max_length (text)):\n");
    for d in faithbench_data::DATASETS {
        let _ = writeln!(out, "  {:<14} {}", d.kind, d.summary);
        for (k, what) in d.keys {
            let _ = writeln!(out, "  {:<14}   {k}: {what}", "");
        }
    }
    out.push_str("  resize modes: squash (PIL Resize((S,S)), default), shorter_crop (Resize(256)+CenterCrop(224)), clip_bicubic\n");
    out.push_str("\nModel presets ([model] weights = \"...\", preset = \"...\", layout = ...):\n");
    for p in faithbench_models::MODEL_PRESETS {
        let layouts: Vec<&str> = p.layouts.iter().map(|l| l.name()).collect();
        let _ = writeln!(
            out,
            "  {:<12} {} (layouts: {})",
            p.name,
            p.description,
            layouts.join(", ")
        );
    }
    out
}

fn md(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The registry as Markdown (the body of `docs/registry.md`).
pub fn registry_markdown() -> String {
    let mut out = String::from(
        "# Registry\n\nGenerated from the registries by `faithbench list --markdown`; a test fails when this file is out of date \
         (regenerate it with `cargo run --release -p faithbench-cli -- list --markdown > docs/registry.md`).\n\n",
    );
    out.push_str("## Explainers (`[[explainers]] method = \"...\"`)\n\n| method | what | reference | parameters (defaults) |\n|---|---|---|---|\n");
    for m in METHODS {
        let params: Vec<String> = method_params(m)
            .into_iter()
            .map(|(k, v)| format!("`{k}` = {v}"))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            m.name,
            md(m.summary),
            md(m.reference),
            md(&params.join(", "))
        );
    }
    out.push_str("\n## Model-dependent explainer defaults (per family)\n\n| family | method | parameter | default | source |\n|---|---|---|---|---|\n");
    for f in FAMILY_DEFAULTS {
        for (m, k, d) in f.values {
            let _ = writeln!(
                out,
                "| {} | `{m}` | `{k}` | {} | {} |",
                f.family.name(),
                md(&d.describe()),
                md(f.source)
            );
        }
    }
    out.push_str("\n## Explainer presets (`preset = \"...\"`)\n\n| preset | parameters | source |\n|---|---|---|\n");
    for p in PRESETS {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} |",
            p.name,
            md(p.json),
            md(p.source)
        );
    }
    out.push_str("\n## Evaluators (`[[evaluators]] kind = \"...\"`)\n\n| kind | what | protocol | datasets | metrics | minimal table | `check` tolerances |\n|---|---|---|---|---|---|---|\n");
    for e in faithbench_eval::EVALUATORS {
        let needs: Vec<&str> = e.needs.iter().map(|c| c.describe()).collect();
        let tols: Vec<String> = e
            .tolerances
            .iter()
            .map(|(p, t)| format!("`{p}` {t}"))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {}{} | {} | `{}` | {} |",
            e.kind,
            md(e.summary),
            e.protocol,
            e.modality.name(),
            if needs.is_empty() {
                String::new()
            } else {
                format!(" with {}", needs.join(", "))
            },
            md(e.metrics),
            md(e.example),
            if tols.is_empty() {
                "1e-6 (all)".to_string()
            } else {
                tols.join(", ")
            }
        );
    }
    out.push_str("\n## Dataset kinds (`[datasets.NAME] kind = \"...\"`)\n\n| kind | what | modality | annotations | keys |\n|---|---|---|---|---|\n");
    for d in faithbench_data::DATASETS {
        let caps: Vec<&str> = d.capabilities.iter().map(|c| c.describe()).collect();
        let keys: Vec<String> = d.keys.iter().map(|(k, w)| format!("`{k}`: {w}")).collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            d.kind,
            md(d.summary),
            d.modality.name(),
            caps.join(", "),
            md(&keys.join("; "))
        );
    }
    out.push_str("\nEvery dataset table also takes `model`, `limit`, and `resize` (image kinds: `squash`, `shorter_crop`, `clip_bicubic`) or `max_length` (text kinds, default 512).\n");
    out.push_str("\n## Model presets (`[model] weights = \"...\", preset = \"...\"`)\n\n| preset | what | layouts |\n|---|---|---|\n");
    for p in faithbench_models::MODEL_PRESETS {
        let layouts: Vec<String> = p
            .layouts
            .iter()
            .map(|l| format!("`{}`", l.name()))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            p.name,
            md(p.description),
            layouts.join(", ")
        );
    }
    out
}
