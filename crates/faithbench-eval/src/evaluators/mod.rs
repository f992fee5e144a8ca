//! The evaluator kinds, one file each (registered in [`crate::evaluator::EVALUATORS`]).

pub mod eraser_rationales;
pub mod insertion_deletion;
pub mod model_randomization;
pub mod perturbation;
pub mod segmentation;
pub mod text_insertion_deletion;
pub mod text_model_randomization;
pub mod text_perturbation;
pub mod zero_shot_perturbation;
