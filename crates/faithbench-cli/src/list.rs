//! `faithbench list`: methods (with their parameters and defaults), evaluators, datasets,
//! presets.

use std::fmt::Write as _;

use faithbench_explain::MethodConfig;
use faithbench_models::vit::VitConfig;

/// (method, description).
pub const METHODS: [(&str, &str); 10] = [
    ("ours_h", "Ours-H: head-wise attention perception × IG reasoning feedback (Chen et al. 2023)"),
    ("ours_t", "Ours-T: token-wise attention perception × IG reasoning feedback (Chen et al. 2023)"),
    ("raw_attention", "last-layer attention, head mean"),
    ("rollout", "attention rollout with residual (Abnar & Zuidema 2020)"),
    ("attn_gradcam", "GradCAM on the last attention map (Chefer's variant)"),
    ("generic_attention", "generic attention explainability (Chefer et al. 2021b); order clamp_then_mean | mean_then_clamp"),
    ("partial_lrp", "partial LRP, last layer (Voita et al. 2019 via Chefer's LRP)"),
    ("transformer_attribution", "LRP ⊙ gradient rollout (Chefer et al. 2021a)"),
    ("random", "seeded uniform noise, a sanity floor"),
    ("precomputed", "maps computed elsewhere (.npy folder or .safetensors), needs `path`"),
];

/// The text of `faithbench list`.
pub fn listing() -> String {
    let mut out = String::new();
    out.push_str("Methods ([[explainers]] method = \"...\"; parameters with their defaults; `null` = model-dependent default):\n");
    for (m, d) in METHODS {
        let _ = writeln!(out, "  {m:<25} {d}");
        let json = if m == "precomputed" {
            format!(r#"{{"method": "{m}", "path": "maps/"}}"#)
        } else {
            format!(r#"{{"method": "{m}"}}"#)
        };
        if let Ok(c) = serde_json::from_str::<MethodConfig>(&json) {
            if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&c) {
                let params: Vec<String> = map
                    .iter()
                    .filter(|(k, _)| k.as_str() != "method")
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                if !params.is_empty() {
                    let _ = writeln!(out, "  {:<25}   {}", "", params.join(", "));
                }
            }
        }
    }
    out.push_str("\nPresets ([[explainers]] preset = \"...\"; keys next to it override):\n");
    for p in faithbench_explain::presets::PRESETS {
        let _ = writeln!(out, "  {:<40} {}", p.name, p.source);
    }
    out.push_str(
        "\nEvaluators ([[evaluators]] kind = \"...\"):\n  \
         perturbation   pixel removal (spec §4.1): mode = positive|negative, class = predicted|target,\n                 \
         auc = bi2023|chefer2021|trapezoid, levels = [0.1, …, 0.9], removal = \"raw_black\"\n                 \
         metrics: auc, clean_accuracy, accuracy@<p>\n  \
         segmentation   ImageNet-Segmentation (spec §4.2), explains the predicted class\n                 \
         metrics: pixel_accuracy, miou, map, mf1\n  \
         eraser_rationales  top-k word rationales vs ERASER evidence (spec §4.4, §4.7): class = target|predicted,\n                 \
         ks = [5, …, 80], alignment = offsets|reference, faithfulness = true, removal = delete|mask,\n                 \
         aopc_thresholds, iou_threshold = 0.5, listing = fresh|reference_accumulated, results_files = true\n                 \
         metrics: token_f1@k (the paper's token-F1), token_precision/recall/micro_f1@k, rationale_f1@k, iou_f1@k,\n                 \
         comprehensiveness@k, sufficiency@k, auprc, average_precision, roc_auc, *_aopc, clean_accuracy\n  \
         text_perturbation  token removal (spec §4.5, §4.6): mode = positive|negative, class = target|predicted,\n                 \
         fractions = movies_reference|newsgroups_reference|[..], length_rule = real_tokens|padded_to_512,\n                 \
         auc = trapezoid_normalised|trapezoid; metrics: auc, clean_accuracy, accuracy@<p>\n",
    );
    out.push_str(
        "\nDatasets ([dataset] kind = \"...\"):\n  \
         imagenet_val   root = ImageNet val folder, subset = index .npy (optional), limit, resize\n  \
         imagenet_seg   path = gtsegs_ijcv.mat, limit, resize\n  \
         eraser         root = folder with docs/ and {train,val,test}.jsonl, split = \"test\" | [..], max_length = 512,\n                 \
         limit, classes = [\"NEG\", \"POS\"] (text; BERT models)\n  \
         newsgroups     root = scripts/export_20newsgroups.py output, sample3000 = true, max_length = 512, limit\n  \
         resize modes:  squash (PIL Resize((S,S)), default), shorter_crop (Resize(256)+CenterCrop(224)), clip_bicubic\n",
    );
    out.push_str(
        "\nModel presets ([model] weights = \"...\", preset = \"...\", layout = timm|hf_vit):\n",
    );
    for p in ["vit_b16", "vit_l16", "vit_mae_b16"] {
        if let Some(c) = VitConfig::preset(p) {
            let _ = writeln!(
                out,
                "  {p:<12} {}×{} input, patch {}, {} layers, {} heads, hidden {}, {} classes, pool {:?}, normalisation {:?}",
                c.image_size, c.image_size, c.patch_size, c.depth, c.heads, c.hidden, c.num_classes, c.pool, c.normalization()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn listing_mentions_every_method() {
        let l = super::listing();
        for (m, _) in super::METHODS {
            assert!(l.contains(m), "{m}");
        }
        assert!(l.contains("steps = 20"), "{l}");
        assert!(l.contains("vit_mae_b16"));
        assert!(l.contains("eraser_rationales") && l.contains("newsgroups"));
    }
}
