//! What differs between images and texts in the one run loop ([`crate::execute`]): how a chunk
//! of samples is loaded and turned into model input, what shape a token map has, how maps are
//! prepared for evaluators (images: bilinear upsampling and min–max; text: clamping at 0), how
//! gallery entries look, and how an evaluator's chunk is assembled. A new modality (e.g. image–
//! text pairs) is one file implementing [`Modality`] plus its arm in `crate::execute::run_dataset`.

use std::path::Path;

use faithbench_eval::{Evaluator, ExplainedClass};
use faithbench_explain::Explainer;
use faithbench_models::{Explainable, ModelInput};

use crate::error::Result;
use crate::plan::{PlanDataset, PlanExplainer};

pub mod image;
pub mod reexplain;
pub mod text;

/// One modality of the run loop.
pub trait Modality: Sync {
    /// A loaded chunk: samples, model input, clean predictions.
    type Chunk: Sync;
    /// Maps of a chunk prepared for the evaluators.
    type Maps: Send + Sync;

    /// The model (on the autodiff device) the explainers trace.
    fn model(&self) -> &dyn Explainable;
    /// Loads the samples at `positions` (whose plan ids are `ids`; a mismatch means the dataset
    /// changed since the plan was made and is an error) and builds the model input.
    fn load(&mut self, positions: &[usize], ids: &[String]) -> Result<Self::Chunk>;
    /// Classifies the clean inputs of a chunk (fills its predictions).
    fn classify(&mut self, chunk: &mut Self::Chunk) -> Result<()>;
    /// The model input of a chunk.
    fn input<'c>(&self, chunk: &'c Self::Chunk) -> &'c ModelInput;
    /// The clean predictions of a chunk.
    fn predictions<'c>(&self, chunk: &'c Self::Chunk) -> &'c [usize];
    /// The ground-truth labels of a chunk, where the dataset has them.
    fn labels(&self, chunk: &Self::Chunk) -> Vec<Option<usize>>;
    /// The shape of each sample's token map (images: the patch grid; text: its word pieces).
    fn map_shapes(&self, chunk: &Self::Chunk) -> Vec<Vec<usize>>;
    /// Prepares the token maps for the evaluators; also returns how many were constant.
    fn prepare(&self, chunk: &Self::Chunk, maps: Vec<Vec<f32>>) -> Result<(Self::Maps, usize)>;
    /// Writes the gallery entry of chunk row `row` (plan position `position`).
    #[allow(clippy::too_many_arguments)]
    fn gallery(
        &self,
        out: &Path,
        dataset: &PlanDataset,
        chunk: &Self::Chunk,
        maps: &Self::Maps,
        row: usize,
        position: usize,
        explainer: &PlanExplainer,
        class: ExplainedClass,
        target: usize,
    ) -> Result<()>;
    /// Runs an evaluator on a chunk whose maps explain `targets`; one record per row.
    /// `explainer` is the pair's explainer for evaluators that re-explain on randomised models
    /// ([`Evaluator::reexplains`]); the chunk then carries a
    /// [`reexplain::ModelReexplain`] of the modality's model.
    /// Takes `&self` (the classifier is copied per call), so the run loop evaluates the
    /// explainers of a chunk on several threads.
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        evaluator: &dyn Evaluator,
        chunk: &Self::Chunk,
        maps: &Self::Maps,
        targets: &[usize],
        eval_batch: usize,
        explainer: Option<&dyn Explainer>,
    ) -> Result<Vec<String>>;
}
