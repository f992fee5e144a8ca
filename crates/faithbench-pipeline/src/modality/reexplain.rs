//! The re-explainers the model-randomisation evaluators drive ([`faithbench_eval::Reexplain`]):
//! the pair's explainer run again on randomised copies of the dataset's model
//! ([`Explainable::randomized`]), its maps brought into the form the chunk's own maps have —
//! images upsampled to the input side like [`super::image::upsample_map`] does, texts clamped at
//! 0 like the text modality's `prepare`.

use faithbench_eval::evaluator::ClassifierError;
use faithbench_eval::Reexplain;
use faithbench_explain::{ExplainBatch, Explainer, TokenMaps};
use faithbench_models::{Explainable, ModelInput};

use super::image::upsample_map;

/// How re-explained token maps are brought into the chunk's form.
#[derive(Debug, Clone, Copy)]
pub enum MapForm {
    /// Image: a `grid × grid` token map upsampled ×`patch` (not normalised).
    Upsampled {
        /// Patches per side.
        grid: usize,
        /// Patch side.
        patch: usize,
    },
    /// Text: per word piece, clamped at 0.
    Clamped,
}

/// The pair's explainer on randomised copies of the model.
pub struct ModelReexplain<'a> {
    /// The trained model.
    pub model: &'a dyn Explainable,
    /// The pair's explainer.
    pub explainer: &'a dyn Explainer,
    /// The chunk's model input.
    pub input: &'a ModelInput,
    /// The explained classes.
    pub targets: &'a [usize],
    /// The chunk's sample ids.
    pub ids: Vec<String>,
    /// The chunk's map form.
    pub form: MapForm,
}

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> ClassifierError {
    ClassifierError(Box::new(e))
}

impl<'a> ModelReexplain<'a> {
    /// The re-explainer of a chunk whose samples have the ids `ids`, when the evaluator asks for
    /// one (`explainer` given).
    pub fn of_chunk(
        model: &'a dyn Explainable,
        explainer: Option<&'a dyn Explainer>,
        input: &'a ModelInput,
        targets: &'a [usize],
        ids: impl Iterator<Item = String>,
        form: MapForm,
    ) -> Option<Self> {
        explainer.map(|explainer| ModelReexplain {
            model,
            explainer,
            input,
            targets,
            ids: ids.collect(),
            form,
        })
    }

    fn rows(&self, tm: &TokenMaps) -> Result<Vec<Vec<f32>>, ClassifierError> {
        (0..tm.batch)
            .map(|b| match self.form {
                MapForm::Upsampled { grid, patch } => upsample_map(tm.row(b), grid, patch)
                    .map(|(up, _)| up)
                    .map_err(boxed),
                MapForm::Clamped => Ok(tm.row(b).iter().map(|&v| v.max(0.0)).collect()),
            })
            .collect()
    }
}

impl Reexplain for ModelReexplain<'_> {
    fn steps(&self) -> Vec<String> {
        self.model.randomization_steps()
    }

    fn maps(&mut self, randomized: &[usize], seed: u64) -> Result<Vec<Vec<f32>>, ClassifierError> {
        let model = self.model.randomized(randomized, seed).map_err(boxed)?;
        let tm = self
            .explainer
            .explain(
                model.as_ref(),
                &ExplainBatch {
                    input: self.input,
                    targets: self.targets,
                    ids: &self.ids,
                },
            )
            .map_err(boxed)?;
        self.rows(&tm)
    }
}
