//! `faithbench explain`: one image or one text, one method, files in a folder:
//! `<method>.npy` (token map: `h × w` patch grid for images, one value per token for text),
//! `<method>_overlay.png` (images: upsampled, min–max normalised map over the resized image) or
//! `<method>_tokens.html` (text), and `<method>.json` (classes, logits, parameters).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use faithbench_data::npy::write_npy_f32;
use faithbench_eval::maps::{min_max_normalise, upsample_bilinear};
use faithbench_explain::{ExplainBatch, MethodConfig};
use faithbench_models::preprocess::{open_rgb, prepare, to_chw_unit, ResizeMode};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::{AnyModel, Layout, ModelInput};
use faithbench_report::overlay::heatmap_overlay;
use faithbench_report::tokens_html::token_heatmap_html;
use serde::Serialize;

use crate::model::{Classifier, ModelSource};
use crate::util::{argmax, file_stem};

/// What to explain.
#[derive(Debug, Clone)]
pub enum Subject {
    /// An image file.
    Image(PathBuf),
    /// A text.
    Text(String),
}

/// `faithbench explain` settings.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    /// Model folder or weights file.
    pub model: PathBuf,
    /// Preset for a weights file.
    pub preset: Option<String>,
    /// Layout for a weights file.
    pub layout: Option<Layout>,
    /// Input.
    pub subject: Subject,
    /// Method name.
    pub method: String,
    /// `key=value` parameters.
    pub params: Vec<String>,
    /// Explained class (default: the prediction).
    pub class: Option<usize>,
    /// Resize mode for images.
    pub resize: ResizeMode,
    /// Output folder.
    pub out: PathBuf,
    /// Device name.
    pub device: String,
}

#[derive(Serialize)]
struct Report {
    input: String,
    model: PathBuf,
    method: serde_json::Value,
    explainer: String,
    explained_class: usize,
    predicted_class: usize,
    top5: Vec<(usize, f32)>,
    map_file: PathBuf,
    map_shape: Vec<usize>,
    view_file: PathBuf,
}

/// Parses `--method` and `--param k=v` into a method config. Values are TOML literals
/// (`3`, `0.5`, `true`, `"text"`); anything that is not a TOML literal is taken as a string.
pub fn method_config(method: &str, params: &[String]) -> Result<MethodConfig> {
    let mut table = toml::Table::new();
    table.insert("method".into(), toml::Value::String(method.to_string()));
    for p in params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p:?}: expected KEY=VALUE"))?;
        let k = k.trim();
        if k.is_empty() || k == "method" {
            bail!("--param {p:?}: invalid key");
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.to_string()));
        table.insert(k.to_string(), value);
    }
    toml::Value::Table(table)
        .try_into::<MethodConfig>()
        .map_err(|e| {
            anyhow::anyhow!(
                "--method {method} with --param {params:?}: {}",
                e.to_string().trim()
            )
        })
}

fn top5(logits: &[f32]) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    idx.into_iter().take(5).map(|i| (i, logits[i])).collect()
}

/// Runs `faithbench explain`; returns the files written.
pub fn explain(req: &ExplainRequest) -> Result<Vec<PathBuf>> {
    let method = method_config(&req.method, &req.params)?;
    let source = if req.model.is_dir() {
        if req.preset.is_some() || req.layout.is_some() {
            bail!(
                "{}: --preset/--layout go with a weights file; a model folder has faithbench.json",
                req.model.display()
            );
        }
        ModelSource::from_dir(&req.model, None)?
    } else {
        let preset = req.preset.as_deref().with_context(|| {
            format!(
                "{}: a weights file needs --preset (vit_b16, vit_l16, vit_mae_b16)",
                req.model.display()
            )
        })?;
        ModelSource::from_weights(&req.model, preset, req.layout, None)?
    };
    let facts = source.facts();
    let method = method.resolved(facts.family, facts.num_layers);
    let explainer = method.build()?;
    let device = faithbench_models::device_by_name(&req.device)?.autodiff();
    let any = source.load(&device)?;
    let model = any.as_explainable();
    std::fs::create_dir_all(&req.out)
        .with_context(|| format!("{}: cannot create output folder", req.out.display()))?;
    let stem = file_stem(method.method());
    let map_file = req.out.join(format!("{stem}.npy"));
    let mut written = Vec::new();

    let (input, logits, view, input_desc, ids) = match (&req.subject, &any) {
        (Subject::Image(path), AnyModel::Vit(vit)) => {
            let img = open_rgb(path)?;
            let s = vit.config.image_size;
            let img = prepare(&img, s, req.resize);
            let mut raw = Vec::new();
            to_chw_unit(&img, &mut raw);
            let cls = Classifier {
                model,
                normalization: vit.config.normalization(),
                num_classes: vit.config.num_classes,
            };
            let input = cls.input(&raw, 1, s, s);
            let logits = cls.logits_of(&input)?;
            (
                input,
                logits,
                View::Image(img, vit.config.grid(), vit.config.patch_size),
                path.display().to_string(),
                vec![path.display().to_string()],
            )
        }
        (Subject::Text(text), AnyModel::Bert(bert)) => {
            let dir = source.dir.as_deref().with_context(|| {
                "text models need a model folder with tokenizer.json or vocab.txt".to_string()
            })?;
            let tok_path = ["tokenizer.json", "vocab.txt"]
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.exists())
                .with_context(|| {
                    format!(
                        "{}: no tokenizer.json or vocab.txt in the model folder",
                        dir.display()
                    )
                })?;
            let tok = TextTokenizer::from_file(&tok_path)?;
            let (batch, encs) = tok.batch(&[text.as_str()], bert.config.max_position, &device)?;
            let input = ModelInput::Text(batch);
            let logits = model
                .logits(&input)?
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("cannot read logits: {e:?}"))?;
            let tokens = encs
                .into_iter()
                .next()
                .map(|e| e.tokens)
                .unwrap_or_default();
            (
                input,
                logits,
                View::Text(tokens),
                text.clone(),
                vec!["text".to_string()],
            )
        }
        (Subject::Image(_), AnyModel::Bert(_)) => {
            bail!(
                "{}: a BERT model explains --text, not --image",
                req.model.display()
            )
        }
        (Subject::Text(_), AnyModel::Vit(_)) => {
            bail!(
                "{}: a ViT explains --image, not --text",
                req.model.display()
            )
        }
    };
    let predicted = argmax(&logits);
    let class = req.class.unwrap_or(predicted);
    if class >= logits.len() {
        bail!(
            "--class {class} is out of range: the model has {} classes",
            logits.len()
        );
    }
    let maps = explainer.explain(
        model,
        &ExplainBatch {
            input: &input,
            targets: &[class],
            ids: &ids,
        },
    )?;
    let row = maps.row(0).to_vec();
    let (shape, view_file) = match view {
        View::Image(img, grid, patch) => {
            if row.len() != grid * grid {
                bail!(
                    "explainer returned {} values for a {grid}×{grid} grid",
                    row.len()
                );
            }
            let up = upsample_bilinear(&row, grid, grid, patch)?;
            let norm = min_max_normalise(&up).unwrap_or_else(|_| vec![0.0; up.len()]);
            let overlay = crate::gallery::upscale(heatmap_overlay(&img, &norm)?);
            let p = req.out.join(format!("{stem}_overlay.png"));
            overlay
                .save(&p)
                .with_context(|| format!("{}: cannot write", p.display()))?;
            (vec![grid, grid], p)
        }
        View::Text(tokens) => {
            let names = source
                .dir
                .as_deref()
                .map(|d| id2label(&d.join("config.json")))
                .unwrap_or_default();
            let named = |c: usize| match names.get(c) {
                Some(n) => format!("{c} ({n})"),
                None => c.to_string(),
            };
            let probs = crate::text_run::softmax(&logits);
            let meta = vec![
                ("model".to_string(), req.model.display().to_string()),
                ("explainer".to_string(), explainer.name()),
                ("explained class".to_string(), named(class)),
                (
                    "predicted class".to_string(),
                    format!("{} — p = {:.3}", named(predicted), probs[predicted]),
                ),
                ("word pieces".to_string(), tokens.len().to_string()),
            ];
            let short: String = if input_desc.chars().count() > 60 {
                input_desc
                    .chars()
                    .take(60)
                    .collect::<String>()
                    .trim_end()
                    .to_string()
                    + " …"
            } else {
                input_desc.clone()
            };
            let html = token_heatmap_html(
                &format!("{} — “{}”", explainer.name(), short),
                &tokens,
                &row,
                &meta,
            )?;
            let p = req.out.join(format!("{stem}_tokens.html"));
            std::fs::write(&p, html).with_context(|| format!("{}: cannot write", p.display()))?;
            (vec![row.len()], p)
        }
    };
    write_npy_f32(&map_file, &shape, &row)?;
    written.push(map_file.clone());
    written.push(view_file.clone());
    let report = Report {
        input: input_desc,
        model: req.model.clone(),
        method: serde_json::to_value(&method)?,
        explainer: explainer.name(),
        explained_class: class,
        predicted_class: predicted,
        top5: top5(&logits),
        map_file,
        map_shape: shape,
        view_file,
    };
    let jp = req.out.join(format!("{stem}.json"));
    std::fs::write(&jp, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("{}: cannot write", jp.display()))?;
    written.push(jp);
    Ok(written)
}

/// Class names from a Hugging Face `config.json` (`id2label`), empty when absent.
fn id2label(path: &std::path::Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let Some(m) = v.get("id2label").and_then(|m| m.as_object()) else {
        return Vec::new();
    };
    let mut out = vec![String::new(); m.len()];
    for (k, name) in m {
        if let (Ok(i), Some(n)) = (k.parse::<usize>(), name.as_str()) {
            if i < out.len() {
                out[i] = n.to_string();
            }
        }
    }
    out
}

enum View {
    Image(image::RgbImage, usize, usize),
    Text(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_as_toml_literals() {
        let c = method_config(
            "ours_h",
            &[
                "start_layer=2".into(),
                "steps=5".into(),
                "objective=probability".into(),
            ],
        )
        .unwrap();
        match c {
            MethodConfig::OursH(b) => {
                assert_eq!(b.start_layer, Some(2));
                assert_eq!(b.steps, 5);
                assert_eq!(b.objective, faithbench_models::Objective::Probability);
            }
            other => panic!("{other:?}"),
        }
        let e = method_config("ours_h", &["stepz=5".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("stepz"), "{e}");
        assert!(method_config("nope", &[]).is_err());
        assert!(method_config("rollout", &["x".into()]).is_err());
    }
}
