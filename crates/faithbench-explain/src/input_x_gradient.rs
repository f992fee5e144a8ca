//! Input × gradient (Shrikumar et al. 2016 / Simonyan et al. 2014's gradient times the input), a
//! plain gradient baseline: `x ⊙ ∂y_c/∂x` at the model input — the normalised image, summed
//! over channels and the pixels of each patch with the sign kept (images, one value per patch
//! token), or the word / token embeddings before position and type embeddings, summed over the
//! hidden size (text). One forward and one backward per batch; read-out as the other text
//! explainers (BERT `[CLS]` := 0, CLIP text the tokens between start and end of text).

use faithbench_models::{Explainable, GradRules, InputGradRequest, Objective};
use serde::{Deserialize, Serialize};

use crate::common::input_maps;
use crate::registry::{parse_as, typed, MethodInfo};
use crate::{ExplainBatch, ExplainError, Explainer, Result, TokenMaps};

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "input_x_gradient",
    summary: "input × gradient at the normalised pixels (summed per patch, signed) or the word embeddings",
    reference: "Shrikumar et al. 2016; a plain gradient baseline",
    path_params: &[],
    example: "{}",
    parse: parse_as::<InputXGradientConfig>,
    build: |p| Ok(Box::new(InputXGradient(typed(p)?))),
};

/// Parameters of input × gradient.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputXGradientConfig {
    /// The explained score: the class logit (default) or its softmax probability.
    #[serde(default)]
    pub objective: Objective,
}

/// Input × gradient.
#[derive(Debug, Clone)]
pub struct InputXGradient(pub InputXGradientConfig);

/// Checks that a batch has one target per sample.
pub(crate) fn check_targets(batch: &ExplainBatch) -> Result<usize> {
    let b = batch.input.batch_size();
    if b == 0 {
        return Err(ExplainError::Config(
            "an empty batch has nothing to explain".into(),
        ));
    }
    if batch.targets.len() != b {
        return Err(ExplainError::Config(format!(
            "{} targets for a batch of {b}",
            batch.targets.len()
        )));
    }
    Ok(b)
}

impl Explainer for InputXGradient {
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
        let b = check_targets(batch)?;
        let request = InputGradRequest {
            targets: batch.targets.to_vec(),
            objective: self.0.objective,
            rules: GradRules::default(),
        };
        let r = model.input_relevance(batch.input, &vec![1.0; b], &request)?;
        input_maps(model, batch.input, r, &self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::toy::{image, Quadratic};

    /// f(x) = Σ x²: x ⊙ ∂f/∂x = 2x² per pixel, summed over the channels of each 1-pixel patch,
    /// the sign kept (here all positive); targets must match the batch.
    #[test]
    fn quadratic_toy_gives_twice_x_squared_per_patch() {
        let v: [f32; 12] = [1., 2., -1., 0.5, 0., 3., 1., -2., 2., 1., 0., 1.];
        let input = image(&v);
        let toy = Quadratic::default();
        let ixg = InputXGradient(InputXGradientConfig::default());
        let ids = vec!["a".to_string()];
        let batch = ExplainBatch {
            input: &input,
            targets: &[0],
            ids: &ids,
        };
        let maps = ixg.explain(&toy, &batch).unwrap();
        assert_eq!(maps.len, 4);
        for j in 0..4 {
            let want: f32 = (0..3).map(|c| 2.0 * v[c * 4 + j] * v[c * 4 + j]).sum();
            assert!((maps.values[j] - want).abs() < 1e-5, "{:?}", maps.values);
        }
        let bad = ExplainBatch {
            input: &input,
            targets: &[0, 1],
            ids: &ids,
        };
        assert!(ixg.explain(&toy, &bad).is_err());
    }
}
