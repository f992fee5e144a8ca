//! Explaining one input (`faithbench explain`): one image or one text, one method, files in a
//! folder: `<method>.npy` (the token map: `h × w` patch grid for images, one value per token for
//! text), `<method>_overlay.png` (images: upsampled, min–max normalised map over the resized
//! image) or `<method>_tokens.html` (text), and `<method>.json` (classes, logits, parameters).

use std::path::{Path, PathBuf};

use faithbench_data::files::file_stem;
use faithbench_data::npy::write_npy_f32;
use faithbench_eval::{argmax, softmax};
use faithbench_explain::{ExplainBatch, MethodConfig};
use faithbench_models::clip::ClipTextView;
use faithbench_models::clip_tokenize::ClipTokenizer;
use faithbench_models::preprocess::{open_rgb, ResizeMode};
use faithbench_models::tokenize::TextTokenizer;
use faithbench_models::{AnyModel, Explainable, Layout, ModelInput, ModelSource, ModelSpec};
use faithbench_report::overlay::heatmap_overlay;
use faithbench_report::tokens_html::token_heatmap_html;
use serde::Serialize;

use crate::classifier::{ImageModel, TextModel};
use crate::error::{Classify, Error, Result};
use crate::gallery::upscale;
use crate::modality::image::{prepare_image, upsample_map};

/// Which CLIP tower to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tower {
    /// The image tower: the image's map for the similarity logit of one of the texts
    /// (protocols §1.1, §1.6).
    #[default]
    Image,
    /// The text tower: each text's token map for its similarity with the image (the CLIP
    /// notebook's text side, protocols §1.6).
    Text,
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
    /// An image (ViT, CLIP).
    pub image: Option<PathBuf>,
    /// Texts: the text of a BERT, or a CLIP's prompts (classes of the image tower; the texts
    /// explained by the text tower).
    pub texts: Vec<String>,
    /// CLIP: which tower.
    pub tower: Tower,
    /// The method and its parameters.
    pub method: MethodConfig,
    /// Explained class: a class of the model, or the index of a CLIP prompt (default: the
    /// prediction).
    pub class: Option<usize>,
    /// Resize mode for images.
    pub resize: ResizeMode,
    /// Output folder.
    pub out: PathBuf,
    /// Device name.
    pub device: String,
    /// Float precision of every tensor (`f64`: see `[run] precision`).
    pub precision: faithbench_models::precision::Precision,
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

fn short(text: &str) -> String {
    if text.chars().count() > 60 {
        text.chars()
            .take(60)
            .collect::<String>()
            .trim_end()
            .to_string()
            + " …"
    } else {
        text.to_string()
    }
}

fn usage(req: &ExplainRequest, what: &str) -> Error {
    Error::input(format!("{}: {what}", req.model.display()))
}

/// What one explanation produced: the map and how to show it.
enum View {
    /// An image map on a `grid × grid` patch grid.
    Image {
        image: image::RgbImage,
        grid: usize,
        patch: usize,
    },
    /// A token map.
    Tokens { tokens: Vec<String>, title: String },
}

/// Explains one input; returns the files written.
pub fn explain(req: &ExplainRequest) -> Result<Vec<PathBuf>> {
    let source = if req.model.is_dir() {
        if req.preset.is_some() || req.layout.is_some() {
            return Err(usage(
                req,
                "--preset/--layout go with a weights file; a model folder has faithbench.json",
            ));
        }
        ModelSource::from_dir(&req.model, None)?
    } else {
        let preset = req.preset.as_deref().ok_or_else(|| {
            usage(
                req,
                &format!(
                    "a weights file needs --preset ({})",
                    faithbench_models::source::model_preset_names()
                ),
            )
        })?;
        ModelSource::from_weights(&req.model, preset, req.layout, None)?
    };
    let device = faithbench_models::device_by_name(&req.device)?;
    faithbench_models::precision::configure(&device, req.precision)?;
    let device = device.autodiff();
    std::fs::create_dir_all(&req.out)
        .failure(|| format!("{}: cannot create the output folder", req.out.display()))?;
    let is_clip = matches!(source.spec, ModelSpec::Clip { .. });
    if is_clip {
        return explain_clip(req, &source, &device);
    }
    let any = source.load(&device)?;
    let model = any.as_explainable();
    let facts = source.facts();
    let method = req.method.resolved(facts.family, facts.num_layers);
    match &any {
        AnyModel::Vit(vit) => {
            let path = match (&req.image, req.texts.is_empty()) {
                (Some(p), true) => p,
                _ => return Err(usage(req, "a ViT explains one --image (and no --text)")),
            };
            let c = &vit.config;
            let prepared = prepare_image(&open_rgb(path)?, c.image_size, req.resize);
            let cls = ImageModel {
                model,
                normalization: c.normalization(),
                num_classes: c.num_classes,
            };
            let input = cls.input(&prepared.raw, 1, c.image_size, c.image_size);
            let logits = cls.logits_of(&input)?;
            let view = View::Image {
                image: prepared.image,
                grid: c.grid(),
                patch: c.patch_size,
            };
            one(
                req,
                model,
                &method,
                &input,
                &logits,
                view,
                &path.display().to_string(),
                "",
                Vec::new(),
            )
        }
        AnyModel::Bert(bert) => {
            let text = match (&req.image, req.texts.as_slice()) {
                (None, [t]) => t,
                _ => return Err(usage(req, "a BERT explains one --text (and no --image)")),
            };
            let tok = TextTokenizer::from_file(source.tokenizer_path()?)?;
            let (batch, encs) = tok.batch(&[text.as_str()], bert.config.max_position, &device)?;
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
            let names = source
                .dir
                .as_deref()
                .map(|d| id2label(&d.join("config.json")))
                .unwrap_or_default();
            let title = short(text);
            one(
                req,
                model,
                &method,
                &input,
                &logits,
                View::Tokens { tokens, title },
                text,
                "",
                names,
            )
        }
    }
}

/// CLIP: the image tower against the texts, or the text tower against the image.
fn explain_clip(
    req: &ExplainRequest,
    source: &ModelSource,
    device: &burn::prelude::Device,
) -> Result<Vec<PathBuf>> {
    let path = req.image.as_ref().ok_or_else(|| {
        usage(
            req,
            "a CLIP explains an --image against one or more --text prompts",
        )
    })?;
    if req.texts.is_empty() {
        return Err(usage(
            req,
            "a CLIP explains an --image against one or more --text prompts",
        ));
    }
    let clip = source.load_clip(device)?;
    let c = clip.config.clone();
    let prepared = prepare_image(&open_rgb(path)?, c.image_size, req.resize);
    match req.tower {
        Tower::Image => {
            let view = crate::classifier::clip_zero_shot(&clip, &req.texts)?;
            let method = req.method.resolved(view.family(), view.num_layers());
            let cls = ImageModel {
                model: &view,
                normalization: c.normalization(),
                num_classes: req.texts.len(),
            };
            let input = cls.input(&prepared.raw, 1, c.image_size, c.image_size);
            let logits = cls.logits_of(&input)?;
            let v = View::Image {
                image: prepared.image,
                grid: c.grid(),
                patch: c.patch_size,
            };
            one(
                req,
                &view,
                &method,
                &input,
                &logits,
                v,
                &path.display().to_string(),
                "",
                req.texts.clone(),
            )
        }
        Tower::Text => {
            let raw = burn::prelude::Tensor::<4>::from_data(
                burn::prelude::TensorData::new(
                    prepared.raw.clone(),
                    [1, 3, c.image_size, c.image_size],
                ),
                device,
            );
            let view = ClipTextView::from_images(clip.clone(), &c.normalization().apply(raw))?;
            let method = req.method.resolved(view.family(), view.num_layers());
            let tok = ClipTokenizer::new()?;
            let mut written = Vec::new();
            for (i, text) in req.texts.iter().enumerate() {
                let (batch, enc) =
                    tok.tokenize_batch(&[text.as_str()], c.context_length, true, device)?;
                let input = ModelInput::Text(batch);
                let logits = TextModel {
                    model: &view,
                    num_classes: 1,
                    pad_id: 0,
                }
                .logits_of(&input)?;
                let e = enc
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::failure("no encoding"))?;
                // the EOT read-out covers the tokens between start and end
                let eot = e.eot_position();
                let tokens = e.texts[1..eot].to_vec();
                let suffix = if req.texts.len() > 1 {
                    format!("_text{i}")
                } else {
                    String::new()
                };
                let v = View::Tokens {
                    tokens,
                    title: short(text),
                };
                written.extend(one(
                    &ExplainRequest {
                        class: Some(0),
                        ..req.clone()
                    },
                    &view,
                    &method,
                    &input,
                    &logits,
                    v,
                    text,
                    &suffix,
                    vec![path.display().to_string()],
                )?);
            }
            Ok(written)
        }
    }
}

/// Explains one prepared input and writes its files.
#[allow(clippy::too_many_arguments)]
fn one(
    req: &ExplainRequest,
    model: &dyn Explainable,
    method: &MethodConfig,
    input: &ModelInput,
    logits: &[f32],
    view: View,
    input_desc: &str,
    suffix: &str,
    class_names: Vec<String>,
) -> Result<Vec<PathBuf>> {
    let explainer = method.build()?;
    let predicted = argmax(logits);
    let class = req.class.unwrap_or(predicted);
    if class >= logits.len() {
        return Err(Error::input(format!(
            "--class {class} is out of range: the model has {} classes",
            logits.len()
        )));
    }
    let ids = vec![input_desc.to_string()];
    let maps = explainer.explain(
        model,
        &ExplainBatch {
            input,
            targets: &[class],
            ids: &ids,
        },
    )?;
    let row = maps.row(0).to_vec();
    let stem = format!("{}{suffix}", file_stem(method.method()));
    let named = |c: usize| match class_names.get(c) {
        Some(n) if !n.is_empty() => format!("{c} ({n})"),
        _ => c.to_string(),
    };
    let (shape, view_file) = match view {
        View::Image { image, grid, patch } => {
            if row.len() != grid * grid {
                return Err(Error::failure(format!(
                    "explainer returned {} values for a {grid}×{grid} grid",
                    row.len()
                )));
            }
            let (up, norm) =
                upsample_map(&row, grid, patch).map_err(|e| Error::failure(e.to_string()))?;
            let norm = norm.unwrap_or_else(|| vec![0.0; up.len()]);
            let overlay = upscale(heatmap_overlay(&image, &norm)?);
            let p = req.out.join(format!("{stem}_overlay.png"));
            overlay
                .save(&p)
                .failure(|| format!("{}: cannot write", p.display()))?;
            (vec![grid, grid], p)
        }
        View::Tokens { tokens, title } => {
            if tokens.len() != row.len() {
                return Err(Error::failure(format!(
                    "explainer returned {} values for {} tokens",
                    row.len(),
                    tokens.len()
                )));
            }
            let probs = softmax(logits);
            let meta = vec![
                ("model".to_string(), req.model.display().to_string()),
                ("explainer".to_string(), explainer.name()),
                ("explained class".to_string(), named(class)),
                (
                    "predicted class".to_string(),
                    format!("{} — p = {:.3}", named(predicted), probs[predicted]),
                ),
                ("tokens".to_string(), tokens.len().to_string()),
            ];
            let html = token_heatmap_html(
                &format!("{} — “{}”", explainer.name(), title),
                &tokens,
                &row,
                &meta,
            )?;
            let p = req.out.join(format!("{stem}_tokens.html"));
            write_file(&p, html.as_bytes())?;
            (vec![row.len()], p)
        }
    };
    let map_file = req.out.join(format!("{stem}.npy"));
    write_npy_f32(&map_file, &shape, &row)
        .failure(|| format!("{}: cannot write", map_file.display()))?;
    let report = Report {
        input: input_desc.to_string(),
        model: req.model.clone(),
        method: method.clone(),
        explainer: explainer.name(),
        explained_class: class,
        predicted_class: predicted,
        top5: top5(logits),
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
