//! # faithbench-eval
//!
//! Model-independent evaluation protocols of the faithbench benchmark (re-implementation of
//! "Beyond Intuition: Rethinking Token Attributions inside Transformers", protocols §4). Evaluators never
//! know which explainer produced a map and never depend on a deep-learning framework: models enter
//! only through the small [`perturbation::ImageClassifier`] and
//! [`text_perturbation::TextClassifier`] traits.
//!
//! Modules:
//! * [`maps`] — PyTorch-compatible bilinear upsampling, min–max normalisation, deterministic top-k
//!   (tie-break: lower flat index first), map validation (protocols §4.8).
//! * [`mod@auc`] — the named AUC rules ([`auc::AucRule::Bi2023`], [`auc::AucRule::Chefer2021`],
//!   [`auc::AucRule::Trapezoid`]) on top of `sklearn.metrics.auc` semantics.
//! * [`perturbation`] — the ViT pixel-removal test (protocols §4.1 stage 2): per-sample records and a
//!   pure aggregation to accuracy curves and AUCs.
//! * [`segmentation`] — the ImageNet-Segmentation test (protocols §4.2): pixel accuracy, mIoU, mAP, mF1
//!   with scikit-learn `average_precision_score` / `f1_score` semantics.
//! * [`stats`] — seeded percentile-bootstrap CIs, paired differences, curve-statistic bootstraps.
//! * [`text_perturbation`], [`eraser_faithfulness`], [`rationales`], [`word_aggregation`],
//!   [`eraser_metrics`] — the text protocols (token removal; ERASER's comprehensiveness and
//!   sufficiency; top-k word rationales and results files; word-piece → word scores; ERASER's
//!   metrics).
//! * [`evaluator`] — the [`Evaluator`] trait and the registry [`EVALUATORS`]; one file per
//!   evaluator kind in [`evaluators`]; [`summary`] — the rows, curves, figures and comparisons
//!   they produce.
//!
//! Aggregations are pure functions of per-sample records, so resumed runs summarise identically.

pub mod auc;
pub mod eraser_faithfulness;
pub mod eraser_metrics;
pub mod evaluator;
pub mod evaluators;
pub mod insertion_deletion;
pub mod maps;
pub mod perturbation;
pub mod rationales;
pub mod segmentation;
pub mod similarity;
pub mod stats;
pub mod summary;
pub mod symmetric;
pub mod text_perturbation;
pub mod word_aggregation;

pub use auc::{auc, trapezoid, AucError, AucRule};
pub use evaluator::{
    evaluator_kind, EvalChunk, EvalError, Evaluator, EvaluatorInfo, ImageChunk, ImageSampleView,
    PairNames, Protocol, Reexplain, ResolveContext, Resolved, TextChunk, TextDocView, EVALUATORS,
};
pub use maps::{
    min_max_normalise, top_k_indices, upsample_bilinear, validate_map, MapError, Order,
};
pub use perturbation::{
    accuracy_curve, run_perturbation, summarise, AccuracyCurve, ExplainedClass, ImageClassifier,
    PerturbationConfig, PerturbationError, PerturbationMode, PerturbationRecord,
    PerturbationSample, PerturbationSummary, RemovalValue, ScoredClass,
};
pub use segmentation::{
    aggregate as aggregate_segmentation, segmentation_record, segmentation_record_from_raw,
    SegmentationError, SegmentationRecord, SegmentationSummary,
};
pub use stats::{
    adjust_p_values, bootstrap_mean_ci, bootstrap_p_value, paired_difference_ci, BootstrapConfig,
    ConfidenceInterval, Correction, PairedComparison,
};
pub use summary::{argmax, softmax, Comparison, Curve, Direction, Figure, PairSummary, SummaryRow};
