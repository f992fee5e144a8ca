//! Heat-map galleries: `gallery/<dataset>/<position>__<explainer>__<class>.png` for the first
//! `gallery` samples of each image dataset, and `gallery/index.html` listing them; token heat maps
//! `gallery/<dataset>/<position>__<explainer>__<class>.html` for text datasets, listed in
//! `gallery/<dataset>/index.html` (and linked from `gallery/index.html`).
//!
//! Perturbation datasets get the overlay of the upsampled, min–max normalised map on the resized
//! image; segmentation datasets get three panels: overlay | thresholded prediction (map > mean) |
//! ground truth; text datasets get the word pieces shaded by their (clamped, min–max normalised)
//! relevance.

use std::path::{Path, PathBuf};

use faithbench_data::files::file_stem;
use faithbench_eval::ExplainedClass;
use faithbench_report::html::escape;
use faithbench_report::overlay::{gallery_html, heatmap_overlay, side_by_side, GalleryItem};
use faithbench_report::tokens_html::token_heatmap_html;
use image::{Rgb, RgbImage};

use crate::error::{Classify, Result};
use crate::plan::{Plan, PlanDataset};

/// `predicted` / `target`.
pub fn class_name(c: ExplainedClass) -> &'static str {
    match c {
        ExplainedClass::Predicted => "predicted",
        ExplainedClass::Target => "target",
    }
}

/// Path of one gallery image.
pub fn item_path(
    out: &Path,
    dataset: &str,
    position: usize,
    explainer_stem: &str,
    class: ExplainedClass,
) -> PathBuf {
    out.join("gallery").join(file_stem(dataset)).join(format!(
        "{position:05}__{explainer_stem}__{}.png",
        class_name(class)
    ))
}

/// Path of one text gallery page.
pub fn text_item_path(
    out: &Path,
    dataset: &str,
    position: usize,
    explainer_stem: &str,
    class: ExplainedClass,
) -> PathBuf {
    item_path(out, dataset, position, explainer_stem, class).with_extension("html")
}

/// Writes one token heat-map page.
pub fn write_text_item(
    path: &Path,
    title: &str,
    tokens: &[String],
    scores: &[f32],
    meta: &[(String, String)],
) -> Result<()> {
    let html = token_heatmap_html(title, tokens, scores, meta)?;
    Ok(faithbench_data::files::write_atomic(path, html.as_bytes())?)
}

fn mask_image(mask: &[bool], size: u32) -> RgbImage {
    RgbImage::from_fn(size, size, |x, y| {
        if mask[(y * size + x) as usize] {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

/// Small inputs (the 64 px shipped benchmark) are enlarged (nearest neighbour) to at least
/// 192 px so that overlays and captions stay readable; 224 px ImageNet images are kept as is.
pub fn upscale(img: RgbImage) -> RgbImage {
    let f = (192 + img.width() - 1) / img.width().max(1);
    if f <= 1 {
        return img;
    }
    image::imageops::resize(
        &img,
        img.width() * f,
        img.height() * f,
        image::imageops::FilterType::Nearest,
    )
}

/// Writes one gallery image. `map` is the normalised `S × S` map (None if constant);
/// `gt` the resized mask for segmentation datasets.
pub fn write_item(
    path: &Path,
    image: &RgbImage,
    map: Option<&[f32]>,
    gt: Option<&[u8]>,
    label: &str,
) -> Result<()> {
    let size = image.width();
    let zeros;
    let m = match map {
        Some(m) => m,
        None => {
            zeros = vec![0.0f32; (size * size) as usize];
            &zeros
        }
    };
    let overlay = upscale(heatmap_overlay(image, m)?);
    let out = match gt {
        None => overlay,
        Some(gt) => {
            let pred: Vec<bool> = match map {
                Some(m) => {
                    let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len() as f64;
                    m.iter().map(|&v| v as f64 > mean).collect()
                }
                None => vec![false; m.len()],
            };
            let truth: Vec<bool> = gt.iter().map(|&v| v == 1).collect();
            side_by_side(
                &[
                    overlay,
                    upscale(mask_image(&pred, size)),
                    upscale(mask_image(&truth, size)),
                ],
                &[label, "prediction (map > mean)", "ground truth"],
            )?
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .failure(|| format!("{}: cannot create folder", dir.display()))?;
    }
    out.save(path)
        .failure(|| format!("{}: cannot write gallery image", path.display()))
}

/// The classes the evaluators of a dataset explain (each once, in plan order).
fn dataset_classes(plan: &Plan, ds: &PlanDataset) -> Result<Vec<ExplainedClass>> {
    let mut classes: Vec<ExplainedClass> = Vec::new();
    for e in plan.plan.evaluators.iter().filter(|e| e.dataset == ds.name) {
        let c = plan.evaluator(e)?.explained();
        if !classes.contains(&c) {
            classes.push(c);
        }
    }
    Ok(classes)
}

/// One overlay image of a run's gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Dataset name.
    pub dataset: String,
    /// Sample position in the dataset.
    pub position: usize,
    /// Sample id.
    pub sample_id: String,
    /// Explainer label.
    pub explainer: String,
    /// The class the map explains.
    pub class: ExplainedClass,
    /// The PNG (under the run folder's `gallery/`).
    pub path: PathBuf,
}

/// The overlay images of the image datasets' galleries that exist, by dataset, sample,
/// explainer and class (plan order).
pub fn image_items(plan: &Plan) -> Result<Vec<ImageItem>> {
    let out = &plan.locations.out_dir;
    let mut items = Vec::new();
    for ds in &plan.plan.datasets {
        if ds.modality() == faithbench_data::Modality::Text {
            continue;
        }
        let classes = dataset_classes(plan, ds)?;
        for (pos, id) in ds.sample_ids.iter().enumerate().take(plan.options.gallery) {
            for x in plan.plan.explainers.iter().filter(|x| plan.applies(x, ds)) {
                for &c in &classes {
                    let p = item_path(out, &ds.name, pos, &x.stem, c);
                    if p.exists() {
                        items.push(ImageItem {
                            dataset: ds.name.clone(),
                            position: pos,
                            sample_id: id.clone(),
                            explainer: x.label.clone(),
                            class: c,
                            path: p,
                        });
                    }
                }
            }
        }
    }
    Ok(items)
}

/// Writes `gallery/index.html` with every gallery image of the plan that exists, and
/// `gallery/<dataset>/index.html` listing the token heat-map pages of each text dataset. Returns
/// the main index, or None when there is nothing to show.
pub fn write_index(plan: &Plan) -> Result<Option<PathBuf>> {
    let out = &plan.locations.out_dir;
    let mut items = Vec::new();
    let mut text_indexes: Vec<(String, PathBuf)> = Vec::new();
    for ds in &plan.plan.datasets {
        if ds.modality() == faithbench_data::Modality::Text {
            let classes = dataset_classes(plan, ds)?;
            let explainers: Vec<_> = plan
                .plan
                .explainers
                .iter()
                .filter(|x| plan.applies(x, ds))
                .collect();
            let mut rows = String::new();
            for (pos, id) in ds.sample_ids.iter().enumerate().take(plan.options.gallery) {
                let mut links = Vec::new();
                for x in &explainers {
                    for &c in &classes {
                        let p = text_item_path(out, &ds.name, pos, &x.stem, c);
                        if p.exists() {
                            let name = p
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            links.push(format!(
                                "<a href=\"{}\">{} ({} class)</a>",
                                escape(&name),
                                escape(&x.label),
                                class_name(c)
                            ));
                        }
                    }
                }
                if !links.is_empty() {
                    rows.push_str(&format!(
                        "<li><b>{}</b> #{pos}: {}</li>\n",
                        escape(id),
                        links.join(" · ")
                    ));
                }
            }
            if !rows.is_empty() {
                let dir = out.join("gallery").join(file_stem(&ds.name));
                let p = dir.join("index.html");
                let title = format!("{} — {} — token heat maps", plan.plan.name, ds.name);
                let html = format!(
                    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n\
<style>body {{ font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 24px; }} li {{ margin: 6px 0; }}</style>\n\
</head>\n<body>\n<h1>{t}</h1>\n<ul>\n{rows}</ul>\n</body>\n</html>\n",
                    t = escape(&title)
                );
                faithbench_data::files::write_atomic(&p, html.as_bytes())?;
                text_indexes.push((ds.name.clone(), p));
            }
        }
    }
    for it in image_items(plan)? {
        items.push(GalleryItem {
            image: it
                .path
                .strip_prefix(out.join("gallery"))
                .unwrap_or(&it.path)
                .to_path_buf(),
            sample_id: it.sample_id,
            label: format!("{} #{}", it.dataset, it.position),
            explainer: format!("{} ({} class)", it.explainer, class_name(it.class)),
        });
    }
    if items.is_empty() {
        return Ok(text_indexes.into_iter().next().map(|(_, p)| p));
    }
    let index = gallery_html(
        out.join("gallery"),
        &format!("{} — explanations", plan.plan.name),
        &items,
    )?;
    if !text_indexes.is_empty() {
        // link the token heat-map pages from the main page
        let html = std::fs::read_to_string(&index)
            .failure(|| format!("{}: cannot read", index.display()))?;
        let links: String = text_indexes
            .iter()
            .map(|(name, _)| {
                format!(
                    "<li><a href=\"{}/index.html\">{} (token heat maps)</a></li>",
                    escape(&file_stem(name)),
                    escape(name)
                )
            })
            .collect();
        let html = html.replacen(
            "</h1>\n",
            &format!("</h1>\n<p>Text datasets:</p>\n<ul>{links}</ul>\n"),
            1,
        );
        faithbench_data::files::write_atomic(&index, html.as_bytes())?;
    }
    Ok(Some(index))
}
