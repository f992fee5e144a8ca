//! The per-family defaults of every explainer parameter that depends on the model: one table,
//! so a new model family adds one entry here and touches no explainer file.
//!
//! Values follow the reference code (protocols §1.7, §2): start layers of the ViT-B/16
//! perturbation scripts and of the BERT `ExplanationGenerator`, and the LRP rule sets each
//! reference pipeline uses (pitfalls P5, P6). Layer defaults are written for the reference's
//! 12-layer models and scaled to other depths by [`DefaultValue`]'s rules.

use faithbench_models::{Explainable, Family};
use serde_json::{Map, Value};

use crate::{ExplainError, Result};

/// A default that may depend on the model's depth L.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// A 0-based layer counted from the first layer, capped at the last: `min(k, L − 1)`.
    Layer(usize),
    /// The first of the last `k` layers: `max(L − k, 0)` (`LastLayers(1)` = the last layer).
    LastLayers(usize),
    /// A fixed value, as JSON.
    Json(&'static str),
}

impl DefaultValue {
    /// The value for a model of `num_layers` layers.
    pub fn value(self, num_layers: usize) -> Value {
        match self {
            DefaultValue::Layer(k) => Value::from(k.min(num_layers.saturating_sub(1))),
            DefaultValue::LastLayers(k) => Value::from(num_layers.saturating_sub(k)),
            // The literals of FAMILY_DEFAULTS are checked by `every_default_parses`.
            DefaultValue::Json(j) => serde_json::from_str(j).unwrap_or(Value::Null),
        }
    }

    /// How the default reads in listings (`3`, `L−1`, `"layers_ours"`).
    pub fn describe(self) -> String {
        match self {
            DefaultValue::Layer(k) => k.to_string(),
            DefaultValue::LastLayers(k) => format!("L−{k}"),
            DefaultValue::Json(j) => j.to_string(),
        }
    }
}

/// The defaults of one model family.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDefaults {
    /// The family.
    pub family: Family,
    /// Where the values come from.
    pub source: &'static str,
    /// `(method, parameter, default)`.
    pub values: &'static [(&'static str, &'static str, DefaultValue)],
}

use DefaultValue::{Json, LastLayers, Layer};

/// Every family's defaults. A parameter without an entry for a family has no model-dependent
/// default there: configs must set it (the explainer says so).
pub const FAMILY_DEFAULTS: &[FamilyDefaults] = &[
    FamilyDefaults {
        family: Family::Vit,
        source: "TI ViT-B/16 perturbation scripts (generate_visualizations.py) and Chefer's ViT_LRP",
        values: &[
            ("ours_h", "start_layer", Layer(3)),
            ("ours_t", "start_layer", Layer(6)),
            ("rollout", "start_layer", Layer(1)),
            ("generic_attention", "start_layer", Layer(1)),
            ("partial_lrp", "rules", Json("\"layers_ours\"")),
            ("transformer_attribution", "rules", Json("\"layers_ours\"")),
            ("transformer_attribution", "start_layer", Layer(1)),
            ("transformer_attribution", "row_normalise", Json("false")),
        ],
    },
    FamilyDefaults {
        family: Family::Clip,
        source: "TI CLIP visualisation.py (the perturbation test keeps the last layer only for Ours and generic attention; rollout from layer 0) and, for the LRP methods TI has no CLIP code for, the ViT settings",
        values: &[
            ("ours_h", "start_layer", LastLayers(1)),
            ("ours_t", "start_layer", LastLayers(1)),
            ("rollout", "start_layer", Layer(0)),
            ("generic_attention", "start_layer", LastLayers(1)),
            ("partial_lrp", "rules", Json("\"layers_ours\"")),
            ("transformer_attribution", "rules", Json("\"layers_ours\"")),
            ("transformer_attribution", "start_layer", Layer(1)),
            ("transformer_attribution", "row_normalise", Json("false")),
        ],
    },
    FamilyDefaults {
        family: Family::ClipText,
        source: "TI CLIP notebook, text side (interpret_ours: last layer; interpret_ours_c: layers 9..11; generic attention: last layer)",
        values: &[
            ("ours_h", "start_layer", LastLayers(1)),
            ("ours_t", "start_layer", LastLayers(3)),
            ("rollout", "start_layer", Layer(0)),
            ("generic_attention", "start_layer", LastLayers(1)),
        ],
    },
    FamilyDefaults {
        family: Family::Bert,
        source: "TI BERT ExplanationGenerator (generate_ours: last layer, generate_ours_c: last four, generate_LRP with layers_lrp)",
        values: &[
            ("ours_h", "start_layer", LastLayers(1)),
            ("ours_t", "start_layer", LastLayers(4)),
            ("rollout", "start_layer", Layer(0)),
            ("generic_attention", "start_layer", LastLayers(1)),
            ("partial_lrp", "rules", Json("\"layers_lrp\"")),
            ("transformer_attribution", "rules", Json("\"layers_lrp\"")),
            ("transformer_attribution", "start_layer", LastLayers(1)),
            ("transformer_attribution", "row_normalise", Json("true")),
        ],
    },
];

/// The default of `method.key` for a family, if the table has one.
pub fn lookup(method: &str, key: &str, family: Family) -> Option<DefaultValue> {
    FAMILY_DEFAULTS
        .iter()
        .find(|f| f.family == family)?
        .values
        .iter()
        .find(|(m, k, _)| *m == method && *k == key)
        .map(|(_, _, v)| *v)
}

/// Fills every `null` parameter of `method` that has a default for `family`.
pub fn fill(method: &str, params: &mut Map<String, Value>, family: Family, num_layers: usize) {
    for (k, v) in params.iter_mut() {
        if v.is_null() {
            if let Some(d) = lookup(method, k, family) {
                *v = d.value(num_layers);
            }
        }
    }
}

/// The value of an unset parameter for the model being explained (used when an explainer was
/// built from a config that was not resolved for its model).
pub fn for_model<T: serde::de::DeserializeOwned>(
    method: &str,
    key: &str,
    model: &dyn Explainable,
) -> Result<T> {
    let family = model.family();
    let d = lookup(method, key, family).ok_or_else(|| {
        ExplainError::Config(format!(
            "{method}: `{key}` has no default for {} models; set it in the config",
            family.name()
        ))
    })?;
    serde_json::from_value(d.value(model.num_layers()))
        .map_err(|e| ExplainError::Internal(format!("default {method}.{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_names_a_registered_parameter() {
        for f in FAMILY_DEFAULTS {
            for (m, k, d) in f.values {
                let info = crate::registry::method(m).unwrap_or_else(|| panic!("{m}"));
                let params = (info.parse)(&Map::new()).or_else(|_| {
                    let example: Value = serde_json::from_str(info.example).expect("example");
                    (info.parse)(example.as_object().expect("object"))
                });
                let params = params.expect("defaults parse");
                assert!(params.contains_key(*k), "{m}.{k} is not a parameter");
                if let Json(j) = d {
                    assert!(serde_json::from_str::<Value>(j).is_ok(), "{m}.{k}: {j}");
                }
            }
        }
    }

    /// The rules of the reference: Ours-H from layer 3 and Ours-T from 6 on a 12-layer ViT,
    /// capped at the last layer on shallow ones; BERT last layer / last four.
    #[test]
    fn layer_rules_by_hand() {
        let v = |m, k, fam, l| lookup(m, k, fam).expect("default").value(l);
        assert_eq!(v("ours_h", "start_layer", Family::Vit, 12), 3);
        assert_eq!(v("ours_t", "start_layer", Family::Vit, 12), 6);
        assert_eq!(v("ours_t", "start_layer", Family::Vit, 4), 3);
        assert_eq!(v("ours_h", "start_layer", Family::Bert, 12), 11);
        assert_eq!(v("ours_t", "start_layer", Family::Bert, 12), 8);
        assert_eq!(v("ours_t", "start_layer", Family::Bert, 2), 0);
        assert_eq!(v("rollout", "start_layer", Family::Vit, 1), 0);
        assert_eq!(
            v("transformer_attribution", "rules", Family::Bert, 12),
            "layers_lrp"
        );
        assert!(lookup("random", "seed", Family::Vit).is_none());
    }
}
