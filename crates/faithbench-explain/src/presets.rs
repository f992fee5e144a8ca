//! Named presets: the per-model hyper-parameters of the reference code (protocols §1.7, §2), so a
//! config can say `preset = "ours_h/vit_b16_perturbation"` instead of repeating start layers.
//! Layer indices are 0-based first included layers; "L−1" presets are written for the 12-layer
//! models the reference used.

use crate::MethodConfig;

/// A named parameter set.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// `method/setting`.
    pub name: &'static str,
    /// Where the numbers come from.
    pub source: &'static str,
    /// The method config as JSON (the same keys as a run config's `[[explainers]]` table).
    pub json: &'static str,
}

/// Every preset.
pub const PRESETS: &[Preset] = &[
    Preset { name: "ours_h/vit_b16_perturbation", source: "TI generate_visualizations.py start_layer=4 → layers 3..11, 20 IG steps, logit", json: r#"{"method":"ours_h","start_layer":3,"steps":20,"objective":"logit"}"# },
    Preset { name: "ours_t/vit_b16_perturbation", source: "TI generate_visualizations.py start_layer=7 → layers 6..11", json: r#"{"method":"ours_t","start_layer":6,"steps":20,"objective":"logit"}"# },
    Preset { name: "ours_h/vit_notebook", source: "TI ViT.ipynb: layers 3..11", json: r#"{"method":"ours_h","start_layer":3,"steps":20}"# },
    Preset { name: "ours_t/vit_notebook", source: "TI ViT.ipynb: layers 3..11", json: r#"{"method":"ours_t","start_layer":3,"steps":20}"# },
    Preset { name: "ours_h/vit_generator_default", source: "TI generator default start_layer → layers 3..L-1 (ViT-L/16, MAE: no released setting)", json: r#"{"method":"ours_h","start_layer":3,"steps":20}"# },
    Preset { name: "ours_t/vit_generator_default", source: "TI generator default start_layer=6 → layers 5..L-1 (ViT-L/16, MAE: no released setting)", json: r#"{"method":"ours_t","start_layer":5,"steps":20}"# },
    Preset { name: "ours_h/interpretdl_cv", source: "InterpretDL BTCVInterpreter defaults: start_layer 3, gradient of the probability", json: r#"{"method":"ours_h","start_layer":3,"steps":20,"objective":"probability"}"# },
    Preset { name: "ours_t/interpretdl_cv", source: "InterpretDL BTCVInterpreter defaults (token mode)", json: r#"{"method":"ours_t","start_layer":3,"steps":20,"objective":"probability"}"# },
    Preset { name: "ours_h/bert", source: "TI ExplanationGenerator: last layer only (11)", json: r#"{"method":"ours_h","start_layer":11,"steps":20}"# },
    Preset { name: "ours_t/bert", source: "TI ExplanationGenerator: last four layers (8..11)", json: r#"{"method":"ours_t","start_layer":8,"steps":20}"# },
    Preset { name: "ours_h/clip", source: "TI CLIP visualisation.py: layer 11 only", json: r#"{"method":"ours_h","start_layer":11,"steps":20}"# },
    Preset { name: "ours_t/clip", source: "TI CLIP visualisation.py: layer 11 only", json: r#"{"method":"ours_t","start_layer":11,"steps":20}"# },
    Preset { name: "ours_t/clip_reference", source: "TI CLIP visualisation.py: layer 11 only, v·W_Oᵀ of ln_1 of the post-attention stream (pitfall P9a)", json: r#"{"method":"ours_t","start_layer":11,"steps":20,"vproj":"post_attention"}"# },
    Preset { name: "ours_h/clip_notebook", source: "TI CLIP.ipynb interpret_ours(num_layers=10): layer 11", json: r#"{"method":"ours_h","start_layer":11,"steps":20}"# },
    Preset { name: "ours_t/clip_notebook", source: "TI CLIP.ipynb interpret_ours_c(num_layers=8): layers 9..11 (text side too)", json: r#"{"method":"ours_t","start_layer":9,"steps":20}"# },
    Preset { name: "rollout/clip", source: "TI CLIP Interpretor.generate_rollout: all layers", json: r#"{"method":"rollout","start_layer":0}"# },
    Preset { name: "generic_attention/clip", source: "TI CLIP generate_generic_attribution (num_layers=10) and Chefer 2021b CLIP notebook (start_layer=-1): clamp then mean, layer 11 only", json: r#"{"method":"generic_attention","order":"clamp_then_mean","start_layer":11}"# },
    Preset { name: "rollout/vit", source: "TI/Chefer ViT scripts: layers 1..11", json: r#"{"method":"rollout","start_layer":1}"# },
    Preset { name: "rollout/bert", source: "TI/Chefer BERT: all layers", json: r#"{"method":"rollout","start_layer":0}"# },
    Preset { name: "generic_attention/vit_ti_perturbation", source: "TI generate_genattr (mean then clamp), perturbation start_layer=2 → layers 1..11", json: r#"{"method":"generic_attention","order":"mean_then_clamp","start_layer":1}"# },
    Preset { name: "generic_attention/vit_ti_segmentation", source: "TI generate_genattr, segmentation default → layers 0..11", json: r#"{"method":"generic_attention","order":"mean_then_clamp","start_layer":0}"# },
    Preset { name: "generic_attention/chefer", source: "Chefer 2021b ViT notebook: clamp then mean, all layers", json: r#"{"method":"generic_attention","order":"clamp_then_mean","start_layer":0}"# },
    Preset { name: "generic_attention/bert_ti", source: "TI BERT generate_genattr: clamp then mean, last layer", json: r#"{"method":"generic_attention","order":"clamp_then_mean","start_layer":11}"# },
    Preset { name: "transformer_attribution/vit_ti", source: "TI/Chefer ViT_LRP: layers_ours, start 1, no row normalisation", json: r#"{"method":"transformer_attribution","rules":"layers_ours","start_layer":1,"row_normalise":false}"# },
    Preset { name: "transformer_attribution/bert_ti", source: "TI BERT generate_LRP: layers_lrp, start 11, row-normalised", json: r#"{"method":"transformer_attribution","rules":"layers_lrp","start_layer":11,"row_normalise":true}"# },
    Preset { name: "transformer_attribution/bert_chefer", source: "Chefer BERT pipeline: layers_ours, start 11, row-normalised", json: r#"{"method":"transformer_attribution","rules":"layers_ours","start_layer":11,"row_normalise":true}"# },
    Preset { name: "partial_lrp/vit_ti", source: "TI ViT: layers_ours", json: r#"{"method":"partial_lrp","rules":"layers_ours"}"# },
    Preset { name: "partial_lrp/vit_chefer", source: "Chefer 2021a ViT: layers_lrp", json: r#"{"method":"partial_lrp","rules":"layers_lrp"}"# },
    Preset { name: "partial_lrp/bert_ti", source: "TI BERT: layers_lrp", json: r#"{"method":"partial_lrp","rules":"layers_lrp"}"# },
    Preset { name: "transformer_attribution/mae_reference", source: "TI ViT_LRP mae=True: layers_ours, start 1, no row normalisation, fc_norm on every token before the patch mean (pitfall P7)", json: r#"{"method":"transformer_attribution","rules":"layers_ours","start_layer":1,"row_normalise":false,"fc_norm_order":"norm_then_pool"}"# },
    Preset { name: "partial_lrp/mae_reference", source: "TI ViT_LRP mae=True: layers_ours, fc_norm on every token before the patch mean (pitfall P7)", json: r#"{"method":"partial_lrp","rules":"layers_ours","fc_norm_order":"norm_then_pool"}"# },
    Preset { name: "raw_attention/mae_reference", source: "TI mae=True: mean over keys (pitfall P8)", json: r#"{"method":"raw_attention","mae_axis":"key"}"# },
    Preset { name: "attn_gradcam/mae_reference", source: "TI mae=True: mean over keys (pitfall P8)", json: r#"{"method":"attn_gradcam","mae_axis":"key"}"# },
];

/// The preset of this name.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

impl Preset {
    /// The preset as a config.
    pub fn config(&self) -> MethodConfig {
        // The JSON literals above are checked by `every_preset_parses`.
        serde_json::from_str(self.json).unwrap_or_else(|e| panic!("preset {}: {e}", self.name))
    }

    /// The preset's JSON object, to merge user overrides into.
    pub fn object(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::from_str::<serde_json::Value>(self.json) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_names_its_method() {
        for p in PRESETS {
            let c = p.config();
            assert!(
                p.name.starts_with(&format!("{}/", c.method())),
                "{}",
                p.name
            );
        }
        let names: std::collections::BTreeSet<_> = PRESETS.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), PRESETS.len(), "names are unique");
    }

    #[test]
    fn paper_vit_b16_start_layers() {
        let h = preset("ours_h/vit_b16_perturbation")
            .expect("preset")
            .config();
        assert_eq!(h.method(), "ours_h");
        assert_eq!(h.get("start_layer"), Some(&serde_json::json!(3)));
        assert_eq!(h.get("steps"), Some(&serde_json::json!(20)));
        let t = preset("ours_t/vit_b16_perturbation")
            .expect("preset")
            .config();
        assert_eq!(t.get("start_layer"), Some(&serde_json::json!(6)));
    }
}
