//! Integrated gradients (Sundararajan et al. 2017), a plain gradient baseline:
//! `(x − x₀) ⊙ (1/m) Σ_k ∂y_c(x₀ + α_k (x − x₀))/∂x` with the zero baseline `x₀ = 0` in the
//! model's input space (the normalised image — zero is the mean colour, not black — or the word
//! / token embeddings, with position and type embeddings kept), on Ours' grid
//! `α_k = k/(m−1)`, k = 0..m−1 (the loop of [`crate::beyond`], shared through `common::ig_mean`).
//! Summed per patch with the sign kept (images) or over the hidden size (text), read out as
//! [`crate::input_x_gradient`].

use burn::prelude::*;
use faithbench_models::{Explainable, GradRules, InputGradRequest, Objective};
use serde::{Deserialize, Serialize};

use crate::common::{ig_mean, input_maps};
use crate::input_x_gradient::check_targets;
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "integrated_gradients",
    summary: "integrated gradients from a zero baseline at the normalised pixels (summed per patch, signed) or the word embeddings",
    reference: "Sundararajan et al. 2017; a plain gradient baseline on Ours' IG grid",
    path_params: &[],
    example: "{}",
    parse: parse_as::<IntegratedGradientsConfig>,
    build: |p| Ok(Box::new(IntegratedGradients::new(typed(p)?)?)),
};

/// The IG baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// All zeros in the model's input space: the normalised image (the dataset mean colour) or
    /// zero word / token embeddings (position and type embeddings stay).
    #[default]
    Zero,
}

fn default_steps() -> usize {
    20
}
fn default_chunk() -> usize {
    16
}

/// Parameters of integrated gradients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegratedGradientsConfig {
    /// Points m of the grid α_k = k/(m−1), k = 0..m−1 (≥ 2; default 20, the paper's IG count).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// The baseline (only `zero`).
    #[serde(default)]
    pub baseline: Baseline,
    /// The explained score: the class logit (default) or its softmax probability.
    #[serde(default)]
    pub objective: Objective,
    /// Maximum rows (sample × α) per forward/backward.
    #[serde(default = "default_chunk")]
    pub max_internal_batch: usize,
}

impl Default for IntegratedGradientsConfig {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            baseline: Baseline::Zero,
            objective: Objective::Logit,
            max_internal_batch: default_chunk(),
        }
    }
}

/// Integrated gradients.
#[derive(Debug, Clone)]
pub struct IntegratedGradients(IntegratedGradientsConfig);

impl IntegratedGradients {
    /// Validates the parameters.
    pub fn new(config: IntegratedGradientsConfig) -> Result<Self> {
        if config.steps < 2 {
            return Err(ExplainError::Config(format!(
                "integrated_gradients: steps must be at least 2 (the grid includes α = 0 and α = 1), got {}",
                config.steps
            )));
        }
        if config.max_internal_batch == 0 {
            return Err(ExplainError::Config(
                "integrated_gradients: max_internal_batch must be positive".into(),
            ));
        }
        Ok(Self(config))
    }
}

impl Explainer for IntegratedGradients {
    fn name(&self) -> String {
        match self.0.objective {
            Objective::Logit => METHOD.name.to_string(),
            Objective::Probability => format!("{}[probability]", METHOD.name),
        }
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
    fn explain(&self, model: &dyn Explainable, batch: &ExplainBatch) -> Result<TokenMaps> {
        check_targets(batch)?;
        let means = ig_mean(
            batch,
            self.0.steps,
            self.0.max_internal_batch,
            |input, alphas, targets| {
                let request = InputGradRequest {
                    targets: targets.to_vec(),
                    objective: self.0.objective,
                    rules: GradRules::default(),
                };
                Ok(model.input_relevance(input, alphas, &request)?)
            },
        )?;
        input_maps(model, batch.input, Tensor::cat(means, 0), &self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::toy::{image, Quadratic};

    /// f(x) = Σ x²: IG from 0 is x ⊙ mean_k 2 α_k x = x² per pixel on any grid symmetric around
    /// ½ (completeness: Σ IG = f(x) − f(0)); patch j sums its three channel pixels.
    #[test]
    fn quadratic_toy_gives_x_squared_per_patch() {
        let v: [f32; 12] = [1., 2., -1., 0.5, 0., 3., 1., -2., 2., 1., 0., 1.];
        let input = image(&v);
        let toy = Quadratic::default();
        let ig = IntegratedGradients::new(IntegratedGradientsConfig {
            steps: 5,
            max_internal_batch: 3,
            ..Default::default()
        })
        .unwrap();
        let ids = vec!["a".to_string()];
        let batch = ExplainBatch {
            input: &input,
            targets: &[0],
            ids: &ids,
        };
        let maps = ig.explain(&toy, &batch).unwrap();
        for j in 0..4 {
            let want: f32 = (0..3).map(|c| v[c * 4 + j] * v[c * 4 + j]).sum();
            assert!((maps.values[j] - want).abs() < 1e-5, "{:?}", maps.values);
        }
        // five α points in chunks of three: two calls, plain-gradient rules
        let rules = toy.rules.lock().unwrap();
        assert_eq!(rules.len(), 2);
        assert!(rules.iter().all(GradRules::is_plain));
    }

    #[test]
    fn fewer_than_two_steps_is_a_config_error() {
        let cfg = IntegratedGradientsConfig {
            steps: 1,
            ..Default::default()
        };
        assert!(matches!(
            IntegratedGradients::new(cfg),
            Err(ExplainError::Config(_))
        ));
    }
}
