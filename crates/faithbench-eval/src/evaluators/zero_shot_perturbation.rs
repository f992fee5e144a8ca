//! `kind = "zero_shot_perturbation"`: the paper's CLIP perturbation test (protocols §4.3). The
//! classifier is the image against the prompt embeddings of every class (a CLIP model whose
//! `zero_shot` prompts the run config names, computed once per run); the explained text is the
//! predicted (or the ground-truth) class's prompt alone; hits are scored against the ground
//! truth. It is the image perturbation test ([`super::perturbation`]) with the reference
//! script's protocol as defaults:
//!
//! * levels 0, 0.1, …, 1.0 (11, both ends measured; NumPy's `arange(0, 1.1, 0.1)` values);
//! * pixels removed in the **normalised** tensor (value 0 = the model's mean colour,
//!   `removal = "normalised_zero"`, pitfall P9d), not black;
//! * AUC = trapezoid over those 11 points of the accuracy in percent, no extra end point
//!   (`auc = "trapezoid"`, `sklearn.metrics.auc(arange(0, 1.1, 0.1), acc %)`, pitfall P9e).
//!
//! Every default is a key of its own (`levels`, `removal`, `auc` as in `perturbation`), so the
//! clean variants (e.g. black removal) are one key away. The reference's prompt quirk (Python
//! tuples of synonyms inside the prompt, pitfall P9c) is a property of the CLIP model's prompts,
//! `zero_shot.names = "reference_tuple"` in the model table.

use serde_json::{Map, Value};

use faithbench_data::{Capability, Modality};

use crate::evaluator::{
    config, from_settings, EvalResult, Evaluator, EvaluatorInfo, ResolveContext, Resolved,
};
use crate::evaluators::perturbation::{
    resolve_keys, snake, Keys, NamedRemoval, Perturbation, Removal, Settings,
};
use crate::perturbation::{
    ExplainedClass, PerturbationConfig, PerturbationMode, RemovalValue, ScoredClass,
};

/// The reference's levels: `np.arange(0, 1.1, 0.1)` = `i · 0.1`, i = 0..10.
pub fn clip_levels() -> Vec<f64> {
    (0..11).map(|i| i as f64 * 0.1).collect()
}

/// Registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "zero_shot_perturbation",
    summary: "CLIP zero-shot perturbation: the image against every class prompt; pixels removed in the normalised tensor at 0, 0.1, …, 1.0; AUC over those points in percent",
    protocol: "protocols §4.3",
    modality: Modality::Image,
    needs: &[Capability::Labels],
    metrics: "auc, clean_accuracy, accuracy@<p>, tie_share, tie_share@<p>",
    example: r#"{"mode": "positive"}"#,
    tolerances: &[("auc", 0.5), ("clean_accuracy", 0.005), ("accuracy@*", 0.005), ("tie_share", 0.005), ("tie_share@*", 0.005)],
    resolve,
    default_name: |s| match serde_json::from_value::<Settings>(s.clone()) {
        Ok(s) => format!(
            "zero_shot_perturbation_{}_{}",
            snake(&s.config.mode),
            snake(&s.config.explained_class)
        ),
        Err(_) => "zero_shot_perturbation".into(),
    },
    build: |r| {
        Ok(Box::new(Perturbation {
            settings: from_settings("zero_shot_perturbation", &r.settings)?,
            kind: "zero_shot_perturbation",
        }) as Box<dyn Evaluator>)
    },
};

fn resolve(table: &Map<String, Value>, ctx: &ResolveContext<'_>) -> EvalResult<Resolved> {
    let mut table = table.clone();
    // the reference's AUC rule unless the config names another
    table
        .entry("auc")
        .or_insert_with(|| Value::String("trapezoid".into()));
    let mut k: Keys = config("zero_shot_perturbation", &table)?;
    if k.removal.is_none() {
        k.removal = Some(Removal::Named(NamedRemoval::NormalisedZero));
    }
    let reference = PerturbationConfig {
        mode: PerturbationMode::Positive,
        levels: clip_levels(),
        removal: RemovalValue::RawBlack,
        scored_class: ScoredClass::GroundTruth,
        explained_class: ExplainedClass::Predicted,
        ties: Default::default(),
    };
    resolve_keys(k, reference, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auc::AucRule;
    use crate::evaluator::ImageFacts;
    use crate::evaluator::Protocol;

    fn ctx(image: Option<ImageFacts>) -> ResolveContext<'static> {
        ResolveContext::for_tests(image)
    }

    const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];

    /// The reference protocol: 11 levels from 0 to 1, removal at the normalisation mean, the
    /// plain trapezoid in percent.
    #[test]
    fn defaults_are_the_reference_protocol() {
        let facts = Some(ImageFacts {
            mean: CLIP_MEAN,
            std: [0.26862954, 0.26130258, 0.2757771],
        });
        let t = serde_json::json!({"mode": "negative"});
        let r = resolve(t.as_object().unwrap(), &ctx(facts)).unwrap();
        let s: Settings = serde_json::from_value(r.settings.clone()).unwrap();
        assert_eq!(s.config.levels.len(), 11);
        assert_eq!(s.config.levels[0], 0.0);
        assert_eq!(
            s.config.levels[3], 0.30000000000000004,
            "NumPy's arange value"
        );
        assert_eq!(s.config.levels[10], 1.0);
        assert_eq!(s.config.removal, RemovalValue::PerChannel(CLIP_MEAN));
        assert_eq!(s.auc, AucRule::Trapezoid);
        assert_eq!(
            (EVALUATOR.default_name)(&r.settings),
            "zero_shot_perturbation_negative_predicted"
        );
        let e = Perturbation {
            settings: s,
            kind: EVALUATOR.kind,
        };
        assert_eq!(Protocol::kind(&e), "zero_shot_perturbation");
        assert_eq!(Protocol::tolerance(&e, "auc"), 0.5, "percent");
        assert_eq!(Protocol::tolerance(&e, "accuracy@0.5"), 0.005);
        // clean variants are one key away
        let t = serde_json::json!({"mode": "positive", "removal": "raw_black", "auc": "bi2023", "levels": [0.5]});
        let r = resolve(t.as_object().unwrap(), &ctx(facts)).unwrap();
        let s: Settings = serde_json::from_value(r.settings).unwrap();
        assert_eq!(s.config.removal, RemovalValue::RawBlack);
        assert_eq!(s.auc, AucRule::Bi2023);
        // without the model's normalisation the mean colour is unknown
        let t = serde_json::json!({"mode": "positive"});
        let e = resolve(t.as_object().unwrap(), &ctx(None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("normalised_zero"), "{e}");
    }
}
