//! `kind = "text_model_randomization"`: the model-parameter randomisation sanity check on a
//! text model (Spearman per word piece; no SSIM for sequences). The protocol, its keys and its
//! metrics are those of [`super::model_randomization`].

use faithbench_data::Modality;

use crate::evaluator::EvaluatorInfo;
use crate::evaluators::model_randomization::{build, default_name, resolve, TOLERANCES};

/// The registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "text_model_randomization",
    summary: "sanity check on text models (Adebayo et al. 2018, Quantus MPRT): re-explain on models re-initialised from the output down, Spearman of each map with the original",
    protocol: "protocols §4.10",
    modality: Modality::Text,
    needs: &[],
    metrics: "spearman, spearman_last, fails, spearman@<kk>_<step>",
    example: r#"{"order": "cascading"}"#,
    tolerances: TOLERANCES,
    resolve: |t, c| resolve(t, c, "text_model_randomization"),
    default_name: |s| default_name(s, "text_model_randomization"),
    build: |r| build(r, "text_model_randomization"),
};
