//! Explaining one input (`faithbench explain`): one image or one text, one method, files in a
//! folder: `<method>.npy` (the token map: `h × w` patch grid for images, one value per token for
//! text), `<method>_overlay.png` (images: upsampled, min–max normalised map over the resized
//! image) or `<method>_tokens.html` (text), and `<method>.json` (classes, logits, parameters).

use std::path::{Path, PathBuf};

use faithbench_data::files::file_stem;
use faithbench_data::npy::write_npy_f32;
use faithbench_eval::{argmax, softmax};
use faithbench_explain::{ExplainBatch, MethodConfig};
use faithbench_models::preprocess::{open_rgb, ResizeMode};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::{AnyModel, Layout, ModelInput, ModelSource};
use faithbench_report::overlay::heatmap_overlay;
use faithbench_report::tokens_html::token_heatmap_html;
use serde::Serialize;

use crate::classifier::{ImageModel, TextModel};
use crate::error::{Classify, Error, Result};
use crate::gallery::upscale;
use crate::modality::image::{prepare_image, upsample_map};

/// What to explain.
#[derive(Debug, Clone)]
pub enum Subject {
    /// An image file.
    Image(PathBuf),
    /// A text.
    Text(String),
}

/// Settings of one explanation.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    /// Model folder or weights file.
    pub model: PathBuf,
    /// Architecture preset for a weights file.
    pub preset: Option<String>,
    /// Key layout for a weights file.
    pub layout: Option<Layout>,
    /// The input.
    pub subject: Subject,
    /// The method and its parameters.
    pub method: MethodConfig,
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
    method: MethodConfig,
    explainer: String,
    explained_class: usize,
    predicted_class: usize,
    top5: Vec<(usize, f32)>,
    map_file: PathBuf,
    map_shape: Vec<usize>,
    view_file: PathBuf,
}

/// A method config from a name and `KEY=VALUE` parameters. Values are TOML literals
/// (`3`, `0.5`, `true`, `"text"`); anything that is not a TOML literal is taken as a string.
pub fn method_config(method: &str, params: &[String]) -> Result<MethodConfig> {
    let mut table = serde_json::Map::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Error::input(format!("--param {p:?}: expected KEY=VALUE")))?;
        let k = k.trim();
        if k.is_empty() || k == "method" {
            return Err(Error::input(format!("--param {p:?}: invalid key")));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or_else(|| serde_json::Value::String(v.to_string()));
        table.insert(k.to_string(), value);
    }
    MethodConfig::new(method, &table)
        .map_err(|e| Error::input(format!("--method {method} with --param {params:?}: {e}")))
}

fn top5(logits: &[f32]) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    idx.into_iter().take(5).map(|i| (i, logits[i])).collect()
}

/// Class names from a Hugging Face `config.json` (`id2label`), empty when absent.
fn id2label(path: &Path) -> Vec<String> {
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

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).failure(|| format!("{}: cannot write", path.display()))
}

/// Explains one input; returns the files written.
pub fn explain(req: &ExplainRequest) -> Result<Vec<PathBuf>> {
    let source = if req.model.is_dir() {
        if req.preset.is_some() || req.layout.is_some() {
            return Err(Error::input(format!(
                "{}: --preset/--layout go with a weights file; a model folder has faithbench.json",
                req.model.display()
            )));
        }
        ModelSource::from_dir(&req.model, None)?
    } else {
        let preset = req.preset.as_deref().ok_or_else(|| {
            Error::input(format!(
                "{}: a weights file needs --preset ({})",
                req.model.display(),
                faithbench_models::source::model_preset_names()
            ))
        })?;
        ModelSource::from_weights(&req.model, preset, req.layout, None)?
    };
    let facts = source.facts();
    let method = req.method.resolved(facts.family, facts.num_layers);
    let explainer = method.build()?;
    let device = faithbench_models::device_by_name(&req.device)?.autodiff();
    let any = source.load(&device)?;
    let model = any.as_explainable();
    std::fs::create_dir_all(&req.out)
        .failure(|| format!("{}: cannot create the output folder", req.out.display()))?;
    let stem = file_stem(method.method());
    let map_file = req.out.join(format!("{stem}.npy"));

    enum View {
        Image(image::RgbImage, usize, usize),
        Text(Vec<String>),
    }
    let (input, logits, view, input_desc, ids): (ModelInput, Vec<f32>, View, String, Vec<String>) =
        match (&req.subject, &any) {
            (Subject::Image(path), AnyModel::Vit(vit)) => {
                let img = open_rgb(path)?;
                let c = &vit.config;
                let s = c.image_size;
                let prepared = prepare_image(&img, s, req.resize);
                let cls = ImageModel {
                    model,
                    normalization: c.normalization(),
                    num_classes: c.num_classes,
                };
                let input = cls.input(&prepared.raw, 1, s, s);
                let logits = cls.logits_of(&input)?;
                (
                    input,
                    logits,
                    View::Image(prepared.image, c.grid(), c.patch_size),
                    path.display().to_string(),
                    vec![path.display().to_string()],
                )
            }
            (Subject::Text(text), AnyModel::Bert(bert)) => {
                let tok = TextTokenizer::from_file(source.tokenizer_path()?)?;
                let (batch, encs) =
                    tok.batch(&[text.as_str()], bert.config.max_position, &device)?;
                let input = ModelInput::Text(batch);
                let tm = TextModel {
                    model,
                    num_classes: bert.config.num_classes,
                    pad_id: tok.pad_id(),
                };
                let logits = tm.logits_of(&input)?;
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
                return Err(Error::input(format!(
                    "{}: a BERT model explains --text, not --image",
                    req.model.display()
                )))
            }
            (Subject::Text(_), AnyModel::Vit(_)) => {
                return Err(Error::input(format!(
                    "{}: a ViT explains --image, not --text",
                    req.model.display()
                )))
            }
        };
    let predicted = argmax(&logits);
    let class = req.class.unwrap_or(predicted);
    if class >= logits.len() {
        return Err(Error::input(format!(
            "--class {class} is out of range: the model has {} classes",
            logits.len()
        )));
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
                return Err(Error::failure(format!(
                    "explainer returned {} values for a {grid}×{grid} grid",
                    row.len()
                )));
            }
            let (up, norm) =
                upsample_map(&row, grid, patch).map_err(|e| Error::failure(e.to_string()))?;
            let norm = norm.unwrap_or_else(|| vec![0.0; up.len()]);
            let overlay = upscale(heatmap_overlay(&img, &norm)?);
            let p = req.out.join(format!("{stem}_overlay.png"));
            overlay
                .save(&p)
                .failure(|| format!("{}: cannot write", p.display()))?;
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
            let probs = softmax(&logits);
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
            write_file(&p, html.as_bytes())?;
            (vec![row.len()], p)
        }
    };
    write_npy_f32(&map_file, &shape, &row)
        .failure(|| format!("{}: cannot write", map_file.display()))?;
    let report = Report {
        input: input_desc,
        model: req.model.clone(),
        method: method.clone(),
        explainer: explainer.name(),
        explained_class: class,
        predicted_class: predicted,
        top5: top5(&logits),
        map_file: map_file.clone(),
        map_shape: shape,
        view_file: view_file.clone(),
    };
    let jp = req.out.join(format!("{stem}.json"));
    let text =
        serde_json::to_string_pretty(&report).failure(|| "cannot serialise the report")? + "\n";
    write_file(&jp, text.as_bytes())?;
    Ok(vec![map_file, view_file, jp])
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
        assert_eq!(c.get("start_layer"), Some(&serde_json::json!(2)));
        assert_eq!(c.get("steps"), Some(&serde_json::json!(5)));
        assert_eq!(c.get("objective"), Some(&serde_json::json!("probability")));
        let e = method_config("ours_h", &["stepz=5".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("stepz"), "{e}");
        assert!(method_config("nope", &[]).is_err());
        assert!(method_config("rollout", &["x".into()]).is_err());
    }
}
