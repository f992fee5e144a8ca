//! What AttnLRP ([`crate::attnlrp`]) and CP-LRP ([`crate::cp_lrp`]) share: LRP computed as
//! Gradient × Input with modified gradients (lxt's "efficient" implementation), one forward and
//! one backward per batch (`Explainable::input_relevance` under [`GradRules`]), the relevance
//! of the input read out per token ([`crate::common`]'s `input_maps`). The two methods differ
//! only in the default of `attention`.
//!
//! Rules (faithbench_models::rules): every LayerNorm `identity` (std detached), every
//! element-wise activation `identity` (gradient f(x)/(x+1e-10)), attention `uniform` (AttnLRP:
//! q, k ¼ and v ½ of their gradient, softmax gradient unchanged) or `constant` (CP-LRP: q, k
//! detached). Linear layers and the patch convolution pass the plain gradient (LRP-0 / ε → 0).
//! lxt's ViT recipe adds zennit γ-rules on Linear/Conv layers (a zennit composite lxt's
//! `monkey_patch_zennit` converts to Gradient × Input); faithbench does not implement them (no
//! `gamma` parameter; the key is rejected like any unknown key).

use faithbench_models::{
    ActivationRule, AttentionRule, Explainable, GradRules, InputGradRequest, NormRule, Objective,
};
use serde::{Deserialize, Serialize};

use crate::common::input_maps;
use crate::input_x_gradient::check_targets;
use crate::{ExplainBatch, Explainer, Result, TokenMaps};

fn default_attention<const CP: bool>() -> AttentionRule {
    if CP {
        AttentionRule::Constant
    } else {
        AttentionRule::Uniform
    }
}
fn default_identity_norm() -> NormRule {
    NormRule::Identity
}
fn default_identity_activation() -> ActivationRule {
    ActivationRule::Identity
}

/// Parameters of AttnLRP (`CP = false`) and CP-LRP (`CP = true`); the defaults are lxt's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrpGxiConfig<const CP: bool> {
    /// Attention rule: `uniform` (AttnLRP's default: uniform rule on both matrix products, q and
    /// k get ¼ of their gradient, v ½, the softmax gradient unchanged), `constant` (CP-LRP's
    /// default: q and k detached, relevance only through v) or `gradient` (no rule).
    #[serde(default = "default_attention::<CP>")]
    pub attention: AttentionRule,
    /// LayerNorm rule (every LayerNorm, including embedding, `ln_pre`, `ln_post`, final and
    /// `fc_norm`): `identity` (default, the standard deviation detached) or `gradient`.
    #[serde(default = "default_identity_norm")]
    pub layer_norm: NormRule,
    /// Element-wise activation rule (GELU, QuickGELU, BERT's pooler tanh): `identity`
    /// (default, gradient f(x)/(x+1e-10)) or `gradient`.
    #[serde(default = "default_identity_activation")]
    pub activation: ActivationRule,
    /// The explained score: the class logit (default, lxt's) or its softmax probability.
    #[serde(default)]
    pub objective: Objective,
}

impl<const CP: bool> Default for LrpGxiConfig<CP> {
    fn default() -> Self {
        Self {
            attention: default_attention::<CP>(),
            layer_norm: NormRule::Identity,
            activation: ActivationRule::Identity,
            objective: Objective::Logit,
        }
    }
}

/// AttnLRP / CP-LRP: the named method and its parameters.
#[derive(Debug, Clone)]
pub struct LrpGxi<const CP: bool> {
    /// `attnlrp` or `cp_lrp`.
    pub method: &'static str,
    /// Parameters.
    pub config: LrpGxiConfig<CP>,
}

impl<const CP: bool> LrpGxi<CP> {
    fn rules(&self) -> GradRules {
        GradRules {
            attention: self.config.attention,
            layer_norm: self.config.layer_norm,
            activation: self.config.activation,
        }
    }
}

/// The variant suffix of a name: the rules that differ from the method's defaults.
fn variant_name<const CP: bool>(method: &str, c: &LrpGxiConfig<CP>) -> String {
    let d = LrpGxiConfig::<CP>::default();
    let mut parts = Vec::new();
    if c.attention != d.attention {
        parts.push(format!("attention={}", rule_name(&c.attention)));
    }
    if c.layer_norm != d.layer_norm {
        parts.push(format!("layer_norm={}", rule_name(&c.layer_norm)));
    }
    if c.activation != d.activation {
        parts.push(format!("activation={}", rule_name(&c.activation)));
    }
    if c.objective != d.objective {
        parts.push(format!("objective={}", rule_name(&c.objective)));
    }
    if parts.is_empty() {
        method.to_string()
    } else {
        format!("{method}[{}]", parts.join(","))
    }
}

fn rule_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

impl<const CP: bool> Explainer for LrpGxi<CP> {
    fn name(&self) -> String {
        variant_name(self.method, &self.config)
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        let b = check_targets(batch)?;
        let request = InputGradRequest {
            targets: batch.targets.to_vec(),
            objective: self.config.objective,
            rules: self.rules(),
        };
        let r = model.input_relevance(batch.input, &vec![1.0; b], &request)?;
        input_maps(model, batch.input, r, &self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::toy::{image, Quadratic};
    use crate::MethodConfig;

    fn rules_of(method: &str, extra: serde_json::Value) -> (String, GradRules) {
        let mut v = extra;
        v["method"] = method.into();
        let explainer = MethodConfig::from_value(v).unwrap().build().unwrap();
        let toy = Quadratic::default();
        let input = image(&[1.0; 12]);
        let ids = vec!["a".to_string()];
        let batch = ExplainBatch {
            input: &input,
            targets: &[0],
            ids: &ids,
        };
        let maps = explainer.explain(&toy, &batch).unwrap();
        // one call at α = 1: 2x² summed over 3 channels
        assert_eq!(maps.values, vec![6.0; 4]);
        let rules = toy.rules.lock().unwrap()[0];
        (explainer.name(), rules)
    }

    #[test]
    fn attnlrp_and_cp_lrp_differ_only_in_the_attention_default() {
        let (name, r) = rules_of("attnlrp", serde_json::json!({}));
        assert_eq!(name, "attnlrp");
        assert_eq!(
            r,
            GradRules {
                attention: AttentionRule::Uniform,
                layer_norm: NormRule::Identity,
                activation: ActivationRule::Identity,
            }
        );
        let (name, r) = rules_of("cp_lrp", serde_json::json!({}));
        assert_eq!(name, "cp_lrp");
        assert_eq!(r.attention, AttentionRule::Constant);
        assert_eq!(
            (r.layer_norm, r.activation),
            (NormRule::Identity, ActivationRule::Identity)
        );
        let (name, r) = rules_of(
            "attnlrp",
            serde_json::json!({"attention": "gradient", "layer_norm": "gradient", "activation": "gradient"}),
        );
        assert!(r.is_plain());
        assert_eq!(
            name,
            "attnlrp[attention=gradient,layer_norm=gradient,activation=gradient]"
        );
    }

    #[test]
    fn unknown_rules_are_config_errors() {
        for bad in [
            serde_json::json!({"method": "attnlrp", "attention": "gamma"}),
            serde_json::json!({"method": "cp_lrp", "gamma": 0.25}),
        ] {
            assert!(MethodConfig::from_value(bad).is_err());
        }
    }
}
