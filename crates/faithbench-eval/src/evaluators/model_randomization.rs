//! `kind = "model_randomization"` (images) and `kind = "text_model_randomization"` (texts,
//! `text_model_randomization.rs`): the model-parameter randomisation sanity check of Adebayo et
//! al. (2018), with Quantus' MPRT as the reference for its definitions (docs/protocols.md,
//! "Model-parameter randomisation").
//!
//! For every sample the explainer is run again on copies of the model whose parameters are
//! re-initialised step by step from the output down (`head`, `block L-1` … `block 0`,
//! `embeddings`; faithbench-models' `randomize`), explaining the same class, and each new map
//! is compared with the original one by Spearman's rank correlation and (images) SSIM
//! (`crate::similarity`). An explainer whose maps stay the same when the weights that produced
//! the prediction are destroyed does not explain the model, and fails.
//!
//! Variants (`order`):
//! * `cascading` (default; Quantus `layer_order = "top_down"`): step k randomises steps 0..=k
//!   together, so the last step is the fully random model;
//! * `independent`: step k randomises step k alone, every other parameter is the trained one.
//!
//! Maps are compared as Quantus does by default: absolute values (`absolute = true`) divided by
//! their maximum (`normalise = true`; Spearman is unchanged by it, SSIM is not). Images are
//! compared at the input resolution (the upsampled map the other image evaluators see), texts
//! per word piece (clamped at 0, as the text evaluators see them).
//!
//! Summary metrics: `spearman@<kk>_<step>` and (images) `ssim@<kk>_<step>` per step (`kk` the
//! step number from the output down, e.g. `spearman@00_head`, `spearman@03_block1`), their means over the
//! steps `spearman` and `ssim`, `spearman_last` (the last step: the fully random model in the
//! cascading order) and `fails` — 1 when the mean `spearman_last` is at least `fail_threshold`
//! (default 0.5), else 0. Lower is better for all of them. Compare: paired bootstrap of the
//! per-sample mean Spearman.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_data::Modality;

use crate::evaluator::{
    config, from_settings, to_settings, EvalChunk, EvalError, EvalResult, Evaluator, EvaluatorInfo,
    PairNames, Protocol, ResolveContext, Resolved,
};
use crate::perturbation::ExplainedClass;
use crate::similarity::{spearman, ssim};
use crate::stats::{bootstrap_mean_ci, mean, BootstrapConfig};
use crate::summary::{
    Comparison, ComparisonLine, Curve, Direction, Figure, PairSummary, SummaryRow,
};

/// Which parameters a step randomises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RandomizationOrder {
    /// Step k: steps 0..=k re-initialised together (top-down, cumulative).
    Cascading,
    /// Step k: step k alone re-initialised.
    Independent,
}

fn cascading() -> RandomizationOrder {
    RandomizationOrder::Cascading
}
fn quantus_seed() -> u64 {
    42
}
fn yes() -> bool {
    true
}
fn half() -> f64 {
    0.5
}
fn predicted() -> ExplainedClass {
    ExplainedClass::Predicted
}

/// The config keys and resolved settings (hashed into the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `cascading` (default) or `independent`.
    #[serde(default = "cascading")]
    pub order: RandomizationOrder,
    /// Seed of the re-initialisation (default 42, Quantus').
    #[serde(default = "quantus_seed")]
    pub seed: u64,
    /// Compare absolute values (default true, Quantus' `abs`).
    #[serde(default = "yes")]
    pub absolute: bool,
    /// Divide each map by its maximum absolute value first (default true, Quantus'
    /// `normalise`).
    #[serde(default = "yes")]
    pub normalise: bool,
    /// `fails` is 1 when the mean Spearman at the last step reaches this (default 0.5).
    #[serde(default = "half")]
    pub fail_threshold: f64,
    /// Explained class: `predicted` (default) or `target`.
    #[serde(default = "predicted")]
    pub class: ExplainedClass,
}

/// One sample's similarities, per step (`steps` order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomizationRecord {
    /// Sample id.
    pub sample_id: String,
    /// Step labels, from the output down.
    pub steps: Vec<String>,
    /// Spearman's ρ of the map after each step with the original map.
    pub spearman: Vec<f64>,
    /// SSIM after each step (images; empty for texts).
    pub ssim: Vec<f64>,
}

/// The model-randomisation evaluator.
#[derive(Debug, Clone)]
pub struct ModelRandomization {
    /// Settings.
    pub settings: Settings,
    /// The registry kind it was built as.
    pub kind: &'static str,
}

/// The registry entry of the image kind.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "model_randomization",
    summary: "sanity check (Adebayo et al. 2018, Quantus MPRT): re-explain on models re-initialised from the output down, Spearman and SSIM of each map with the original",
    protocol: "protocols §4.10",
    modality: Modality::Image,
    needs: &[],
    metrics: "spearman, ssim, spearman_last, fails, spearman@<kk>_<step>, ssim@<kk>_<step>",
    example: r#"{"order": "cascading"}"#,
    tolerances: TOLERANCES,
    resolve: |t, c| resolve(t, c, "model_randomization"),
    default_name: |s| default_name(s, "model_randomization"),
    build: |r| build(r, "model_randomization"),
};

/// `faithbench check` tolerances of both kinds.
pub(crate) const TOLERANCES: &[(&str, f64)] = &[
    ("spearman", 0.02),
    ("ssim", 0.02),
    ("spearman_last", 0.02),
    ("fails", 0.0),
    ("spearman@*", 0.02),
    ("ssim@*", 0.02),
];

pub(crate) fn resolve(
    table: &Map<String, Value>,
    ctx: &ResolveContext<'_>,
    kind: &'static str,
) -> EvalResult<Resolved> {
    let s: Settings = config(kind, table)?;
    if !(s.fail_threshold.is_finite() && (-1.0..=1.0).contains(&s.fail_threshold)) {
        return Err(EvalError::Config(format!(
            "evaluator `{}`: fail_threshold must lie in [-1, 1], got {}",
            ctx.evaluator, s.fail_threshold
        )));
    }
    Ok(Resolved {
        settings: to_settings(&s)?,
        options: Value::Null,
    })
}

pub(crate) fn default_name(s: &Value, kind: &str) -> String {
    match serde_json::from_value::<Settings>(s.clone()) {
        Ok(s) if s.order == RandomizationOrder::Independent => format!("{kind}_independent"),
        _ => kind.to_string(),
    }
}

pub(crate) fn build(r: &Resolved, kind: &'static str) -> EvalResult<Box<dyn Evaluator>> {
    Ok(Box::new(ModelRandomization {
        settings: from_settings(kind, &r.settings)?,
        kind,
    }))
}

/// The steps randomised together at step `k` of `n`.
pub fn randomized_at(order: RandomizationOrder, k: usize) -> Vec<usize> {
    match order {
        RandomizationOrder::Cascading => (0..=k).collect(),
        RandomizationOrder::Independent => vec![k],
    }
}

/// A map prepared for comparison: absolute values and / or divided by the maximum |value|
/// (a zero map stays zero).
pub fn prepare(map: &[f32], absolute: bool, normalise: bool) -> Vec<f32> {
    let mut v: Vec<f32> = if absolute {
        map.iter().map(|x| x.abs()).collect()
    } else {
        map.to_vec()
    };
    if normalise {
        let m = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        if m > 0.0 {
            v.iter_mut().for_each(|x| *x /= m);
        }
    }
    v
}

/// The metric suffix of step `k` (0-based, from the output down) with label `label`: the step
/// number, zero-padded so the columns sort in step order, and the label without spaces —
/// `(0, "head")` → `00_head`, `(3, "block 11")` → `03_block11`.
pub fn step_metric(k: usize, label: &str) -> String {
    format!("{k:02}_{}", label.replace(' ', ""))
}

impl ModelRandomization {
    /// The records of a chunk from the original maps, the image side (`Some((h, w))` for SSIM)
    /// and the re-explainer.
    fn records(
        &self,
        ids: &[&str],
        originals: &[&[f32]],
        image: Option<(usize, usize)>,
        reexplain: &mut crate::evaluator::DynReexplain<'_>,
    ) -> EvalResult<Vec<RandomizationRecord>> {
        let s = &self.settings;
        let steps = reexplain.steps();
        if steps.is_empty() {
            return Err(EvalError::Config(format!(
                "{}: the model offers no parameter randomisation",
                self.kind
            )));
        }
        let base: Vec<Vec<f32>> = originals
            .iter()
            .map(|m| prepare(m, s.absolute, s.normalise))
            .collect();
        let mut recs: Vec<RandomizationRecord> = ids
            .iter()
            .map(|id| RandomizationRecord {
                sample_id: id.to_string(),
                steps: steps.clone(),
                spearman: Vec::with_capacity(steps.len()),
                ssim: Vec::new(),
            })
            .collect();
        for k in 0..steps.len() {
            let maps = reexplain
                .maps(&randomized_at(s.order, k), s.seed)
                .map_err(|e| EvalError::Protocol(Box::new(e)))?;
            if maps.len() != ids.len() {
                return Err(EvalError::Protocol(
                    format!(
                        "re-explaining at step `{}` gave {} maps for {} samples",
                        steps[k],
                        maps.len(),
                        ids.len()
                    )
                    .into(),
                ));
            }
            for ((r, m), b) in recs.iter_mut().zip(&maps).zip(&base) {
                let m = prepare(m, s.absolute, s.normalise);
                let err = |e: crate::similarity::SimilarityError| EvalError::Sample {
                    sample_id: r.sample_id.clone(),
                    message: format!("step `{}`: {e}", steps[k]),
                };
                r.spearman.push(spearman(b, &m).map_err(err)?);
                if let Some((h, w)) = image {
                    r.ssim.push(ssim(b, &m, h, w).map_err(err)?);
                }
            }
        }
        Ok(recs)
    }
}

impl Protocol for ModelRandomization {
    type Record = RandomizationRecord;

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn explained(&self) -> ExplainedClass {
        self.settings.class
    }

    fn reexplains(&self) -> bool {
        true
    }

    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<RandomizationRecord>> {
        let missing = || {
            EvalError::Protocol(
                "model randomisation needs a re-explainer (a pipeline bug: none was given)".into(),
            )
        };
        match chunk {
            EvalChunk::Image(c) => {
                let ids: Vec<&str> = c.samples.iter().map(|s| s.id).collect();
                let maps: Vec<&[f32]> = c.samples.iter().map(|s| s.map).collect();
                let (h, w) = (c.height, c.width);
                let re = c.reexplain.as_deref_mut().ok_or_else(missing)?;
                self.records(&ids, &maps, Some((h, w)), re)
            }
            EvalChunk::Text(c) => {
                let ids: Vec<&str> = c.docs.iter().map(|d| d.id).collect();
                let maps: Vec<&[f32]> = c.docs.iter().map(|d| d.relevance).collect();
                let re = c.reexplain.as_deref_mut().ok_or_else(missing)?;
                self.records(&ids, &maps, None, re)
            }
        }
    }

    fn summarise(
        &self,
        names: PairNames<'_>,
        recs: &[RandomizationRecord],
        cfg: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        let steps = &recs[0].steps;
        if let Some(r) = recs.iter().find(|r| &r.steps != steps) {
            return Err(EvalError::Record {
                sample_id: r.sample_id.clone(),
                message: "its randomisation steps differ from the other records'".into(),
            });
        }
        let boot = |v: &[f64]| bootstrap_mean_ci(v, cfg).map_err(EvalError::protocol);
        let mut rows = Vec::new();
        let mut curves = Vec::new();
        let with_ssim = recs.iter().all(|r| r.ssim.len() == steps.len());
        let mut families: Vec<(&str, Vec<Vec<f64>>)> = vec![(
            "spearman",
            recs.iter().map(|r| r.spearman.clone()).collect(),
        )];
        if with_ssim {
            families.push(("ssim", recs.iter().map(|r| r.ssim.clone()).collect()));
        }
        for (metric, per_sample) in &families {
            if per_sample.iter().any(|v| v.len() != steps.len()) {
                return Err(EvalError::Record {
                    sample_id: "?".into(),
                    message: format!("a record has not one {metric} value per step"),
                });
            }
            let means: Vec<f64> = per_sample.iter().map(|v| mean(v)).collect();
            rows.push(names.row(metric, mean(&means), &boot(&means)?));
            let (mut ys, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
            for (k, label) in steps.iter().enumerate() {
                let col: Vec<f64> = per_sample.iter().map(|v| v[k]).collect();
                let ci = boot(&col)?;
                rows.push(names.row(
                    &format!("{metric}@{}", step_metric(k, label)),
                    mean(&col),
                    &ci,
                ));
                ys.push(mean(&col));
                lo.push(ci.lower);
                hi.push(ci.upper);
            }
            if *metric == "spearman" {
                let last: Vec<f64> = per_sample.iter().map(|v| v[steps.len() - 1]).collect();
                let ci = boot(&last)?;
                let m = mean(&last);
                rows.push(names.row("spearman_last", m, &ci));
                let fails = f64::from(u8::from(m >= self.settings.fail_threshold));
                let mut flat = ci.clone();
                (flat.estimate, flat.lower, flat.upper) = (fails, fails, fails);
                rows.push(names.row("fails", fails, &flat));
            }
            curves.push(Curve {
                label: format!("{}\u{1f}{metric}", names.explainer),
                xs: (1..=steps.len()).map(|k| k as f64).collect(),
                ys,
                band: Some((lo, hi)),
            });
        }
        Ok(PairSummary { rows, curves })
    }

    fn direction(&self, _metric: &str) -> Direction {
        // every similarity with the original map: lower means the map depends on the weights
        Direction::LowerBetter
    }

    fn describe(&self) -> String {
        let s = &self.settings;
        format!(
            "*model-parameter randomisation ({} order, seed {}); maps compared {}{}with the \
             original; `fails` = mean Spearman at the last step ≥ {}; lower is better.*\n",
            match s.order {
                RandomizationOrder::Cascading => "cascading",
                RandomizationOrder::Independent => "independent",
            },
            s.seed,
            if s.absolute {
                "as absolute values, "
            } else {
                ""
            },
            if s.normalise {
                "divided by their maximum, "
            } else {
                ""
            },
            s.fail_threshold
        )
    }

    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)> {
        let order = match self.settings.order {
            RandomizationOrder::Cascading => "randomised from the output down to the step",
            RandomizationOrder::Independent => "only the step randomised",
        };
        prefixes
            .iter()
            .map(|p| (p.clone(), format!("{p} per step ({order})")))
            .collect()
    }

    fn figures(&self, name: &str, stem: &str, _: &[SummaryRow], curves: &[Curve]) -> Vec<Figure> {
        let mut out = Vec::new();
        for metric in ["spearman", "ssim"] {
            let mine: Vec<Curve> = curves
                .iter()
                .filter_map(|c| {
                    let (label, m) = c.label.split_once('\u{1f}')?;
                    (m == metric).then(|| Curve {
                        label: label.to_string(),
                        ..c.clone()
                    })
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            out.push(Figure::Curves {
                file: format!("{stem}_{metric}"),
                title: format!("{name}: {metric} with the original map"),
                x_label: match self.settings.order {
                    RandomizationOrder::Cascading => "steps randomised (head first)".into(),
                    RandomizationOrder::Independent => "step randomised (head first)".into(),
                },
                y_label: metric.into(),
                curves: mine,
            });
        }
        out
    }

    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[RandomizationRecord],
        b: &[RandomizationRecord],
        cfg: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        if a[0].steps != b[0].steps {
            return Ok(names.skipped("the models' randomisation steps differ between A and B"));
        }
        let mut out = Comparison::default();
        let means = |r: &[RandomizationRecord]| -> Vec<f64> {
            r.iter().map(|x| mean(&x.spearman)).collect()
        };
        out.lines.push(
            ComparisonLine::paired_means("spearman", &means(a), &means(b), cfg)
                .map_err(EvalError::protocol)?,
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::{ClassifierError, ImageChunk, ImageSampleView, Reexplain};
    use crate::perturbation::ImageClassifier;

    /// A model with 3 steps whose "explainer" returns, for the randomised step set R, the
    /// original map with pixel k zeroed for every step k in R (by hand: Spearman and SSIM
    /// against the original follow).
    struct Fake {
        original: Vec<Vec<f32>>,
        calls: Vec<Vec<usize>>,
    }

    impl Reexplain for Fake {
        fn steps(&self) -> Vec<String> {
            vec!["head".into(), "block 0".into(), "embeddings".into()]
        }
        fn maps(
            &mut self,
            randomized: &[usize],
            seed: u64,
        ) -> Result<Vec<Vec<f32>>, ClassifierError> {
            assert_eq!(seed, 42);
            self.calls.push(randomized.to_vec());
            Ok(self
                .original
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    for &k in randomized {
                        m[k] = 0.0;
                    }
                    m
                })
                .collect())
        }
    }

    struct NoClassifier;
    impl ImageClassifier for NoClassifier {
        type Error = ClassifierError;
        fn num_classes(&self) -> usize {
            1
        }
        fn logits(
            &mut self,
            _: &[f32],
            _: usize,
            _: usize,
            _: usize,
        ) -> Result<Vec<f32>, ClassifierError> {
            unreachable!("the randomisation check never classifies")
        }
    }

    fn settings(order: RandomizationOrder) -> Settings {
        let t = serde_json::json!({"order": order});
        let ctx = ResolveContext::for_tests(None);
        from_settings(
            "x",
            &resolve(t.as_object().unwrap(), &ctx, "model_randomization")
                .unwrap()
                .settings,
        )
        .unwrap()
    }

    fn run(order: RandomizationOrder) -> (Vec<RandomizationRecord>, Vec<Vec<usize>>) {
        // a 7×7 map with distinct values 1..49 (pixel k has value k+1)
        let map: Vec<f32> = (0..49).map(|k| (k + 1) as f32).collect();
        let mut fake = Fake {
            original: vec![map.clone()],
            calls: Vec::new(),
        };
        let mut clf = NoClassifier;
        let e = ModelRandomization {
            settings: settings(order),
            kind: "model_randomization",
        };
        let recs = {
            let mut chunk = EvalChunk::Image(ImageChunk {
                samples: vec![ImageSampleView {
                    id: "s0",
                    label: Some(0),
                    mask: None,
                    image: &[],
                    map: &map,
                    normalised: None,
                    explained_class: 0,
                }],
                height: 7,
                width: 7,
                classifier: &mut clf,
                eval_batch: 1,
                reexplain: Some(&mut fake),
            });
            Protocol::evaluate(&e, &mut chunk).unwrap()
        };
        (recs, fake.calls)
    }

    /// Cascading randomises steps {0}, {0,1}, {0,1,2}; independent {0}, {1}, {2}. Zeroing the
    /// lowest-valued pixels 0..k moves them to the bottom they already hold, so the cascading
    /// Spearman stays 1 except for the ties the zeros make: with pixels 0 and 1 zero (ranks
    /// 1.5, 1.5 vs 1, 2) ρ is the Pearson correlation of those ranks, computed here by hand.
    #[test]
    fn steps_follow_the_order_and_similarities_are_computed_per_step() {
        let (recs, calls) = run(RandomizationOrder::Cascading);
        assert_eq!(calls, vec![vec![0], vec![0, 1], vec![0, 1, 2]]);
        let r = &recs[0];
        assert_eq!(r.steps, vec!["head", "block 0", "embeddings"]);
        assert_eq!(r.spearman.len(), 3);
        assert!(
            (r.spearman[0] - 1.0).abs() < 1e-12,
            "zeroing the minimum keeps the order"
        );
        // two-way tie at the bottom: ranks (1.5, 1.5, 3, …, 49) vs (1, 2, 3, …, 49)
        let n = 49.0f64;
        let ranks_a: Vec<f64> = (0..49)
            .map(|k| if k < 2 { 1.5 } else { k as f64 + 1.0 })
            .collect();
        let ranks_b: Vec<f64> = (0..49).map(|k| k as f64 + 1.0).collect();
        let m = (n + 1.0) / 2.0;
        let cov: f64 = ranks_a
            .iter()
            .zip(&ranks_b)
            .map(|(a, b)| (a - m) * (b - m))
            .sum();
        let va: f64 = ranks_a.iter().map(|a| (a - m).powi(2)).sum();
        let vb: f64 = ranks_b.iter().map(|b| (b - m).powi(2)).sum();
        let want = cov / (va * vb).sqrt();
        assert!(
            (r.spearman[1] - want).abs() < 1e-12,
            "{} vs {want}",
            r.spearman[1]
        );
        assert!(r.spearman[2] < r.spearman[1]);
        assert_eq!(r.ssim.len(), 3);
        assert!(r.ssim.iter().all(|&s| s < 1.0 && s > 0.9), "{:?}", r.ssim);

        let (recs, calls) = run(RandomizationOrder::Independent);
        assert_eq!(calls, vec![vec![0], vec![1], vec![2]]);
        // zeroing pixel 1 alone puts it below pixel 0: one swap at the bottom
        assert!(recs[0].spearman[1] < 1.0 && recs[0].spearman[0] == 1.0);
    }

    /// The summary's rows by hand from two records; `fails` flips at the threshold.
    #[test]
    fn summary_rows_and_the_fail_verdict() {
        let rec = |id: &str, sp: [f64; 2]| RandomizationRecord {
            sample_id: id.into(),
            steps: vec!["head".into(), "embeddings".into()],
            spearman: sp.to_vec(),
            ssim: vec![0.5, 0.25],
        };
        let recs = vec![rec("a", [0.9, 0.6]), rec("b", [0.7, 0.4])];
        let e = ModelRandomization {
            settings: settings(RandomizationOrder::Cascading),
            kind: "model_randomization",
        };
        let names = PairNames {
            evaluator: "mprt",
            explainer: "X",
        };
        let cfg = BootstrapConfig {
            resamples: 200,
            confidence: 0.95,
            seed: 1,
        };
        let s = Protocol::summarise(&e, names, &recs, &cfg).unwrap();
        let get = |m: &str| s.rows.iter().find(|r| r.metric == m).unwrap().value;
        assert!((get("spearman") - 0.65).abs() < 1e-12);
        assert!((get("spearman@00_head") - 0.8).abs() < 1e-12);
        assert!((get("spearman@01_embeddings") - 0.5).abs() < 1e-12);
        assert!((get("spearman_last") - 0.5).abs() < 1e-12);
        assert_eq!(get("fails"), 1.0, "0.5 reaches the default threshold 0.5");
        assert!((get("ssim") - 0.375).abs() < 1e-12);
        assert!((get("ssim@01_embeddings") - 0.25).abs() < 1e-12);
        let strict = ModelRandomization {
            settings: Settings {
                fail_threshold: 0.6,
                ..e.settings.clone()
            },
            kind: "model_randomization",
        };
        let s = Protocol::summarise(&strict, names, &recs, &cfg).unwrap();
        assert_eq!(
            s.rows.iter().find(|r| r.metric == "fails").unwrap().value,
            0.0
        );
        let figs = Protocol::figures(&e, "mprt", "mprt", &[], &s.curves);
        assert_eq!(figs.len(), 2, "a Spearman and an SSIM figure");
    }

    #[test]
    fn prepare_takes_absolute_values_and_divides_by_the_maximum() {
        assert_eq!(prepare(&[-2.0, 1.0, 0.5], true, true), vec![1.0, 0.5, 0.25]);
        assert_eq!(prepare(&[-2.0, 1.0], false, true), vec![-1.0, 0.5]);
        assert_eq!(prepare(&[-2.0, 1.0], false, false), vec![-2.0, 1.0]);
        assert_eq!(prepare(&[0.0, 0.0], true, true), vec![0.0, 0.0]);
        assert_eq!(step_metric(3, "block 11"), "03_block11");
        assert_eq!(step_metric(0, "head"), "00_head");
        let t = serde_json::json!({"fail_threshold": 2.0});
        let ctx = ResolveContext::for_tests(None);
        let err = resolve(t.as_object().unwrap(), &ctx, "model_randomization").unwrap_err();
        assert!(err.to_string().contains("fail_threshold"), "{err}");
        let t = serde_json::json!({"ordr": "cascading"});
        assert!(resolve(t.as_object().unwrap(), &ctx, "model_randomization").is_err());
    }
}
