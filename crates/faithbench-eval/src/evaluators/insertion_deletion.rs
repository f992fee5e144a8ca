//! `kind = "insertion_deletion"` (images) and `kind = "text_insertion_deletion"` (texts,
//! `text_insertion_deletion.rs`): insertion and deletion curves (Petsiuk et al. 2018;
//! [`crate::insertion_deletion`]). The probability of the explained class as the most relevant
//! pixels are deleted into (or inserted from) a named baseline.
//!
//! Summary metrics: `auc` (mean over samples of the trapezoid under each sample's probability
//! curve, which equals the AUC of the mean curve; CI: bootstrap of the mean), `prob@<p>` per
//! level. Deletion: lower is better; insertion: higher. Compare: paired bootstrap of the
//! per-sample AUCs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_data::Modality;

use crate::evaluator::{
    config, from_settings, to_settings, EvalChunk, EvalError, EvalResult, Evaluator, EvaluatorInfo,
    PairNames, Protocol, ResolveContext, Resolved,
};
use crate::evaluators::perturbation::level_name;
use crate::insertion_deletion::{
    check_levels, run_curves, run_text_curves, Baseline, CurveMode, CurveRecord, CurveSample,
    TextCurveSample,
};
use crate::maps::TieBreak;
use crate::perturbation::ExplainedClass;
use crate::stats::{bootstrap_mean_ci, mean, BootstrapConfig};
use crate::summary::{
    Comparison, ComparisonLine, Curve, Direction, Figure, PairSummary, SummaryRow,
};

/// The config keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    /// `deletion` or `insertion`.
    mode: CurveMode,
    /// `"zero"`, `"mean"` or `{ blur = σ }`; default RISE's: zero for deletion, `{ blur = 5 }`
    /// for insertion.
    #[serde(default)]
    baseline: Option<Baseline>,
    /// Levels (fractions of pixels), increasing, at least two; default 0, 0.05, …, 1.
    #[serde(default)]
    levels: Option<Vec<f64>>,
    /// Explained class: `predicted` (default) or `target`.
    #[serde(default)]
    class: Option<ExplainedClass>,
    /// Order of equal map values: `"lowest_index"` (default) or `{ random = SEED }`.
    #[serde(default)]
    ties: Option<TieBreak>,
}

/// Resolved settings (hashed into the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Deletion or insertion.
    pub mode: CurveMode,
    /// The baseline.
    pub baseline: Baseline,
    /// The model's normalisation mean (raw units), for the `mean` baseline.
    pub mean: [f32; 3],
    /// Levels.
    pub levels: Vec<f64>,
    /// Explained class.
    pub class: ExplainedClass,
    /// Tie order.
    #[serde(default, skip_serializing_if = "TieBreak::is_default")]
    pub ties: TieBreak,
}

/// The default levels 0, 0.05, …, 1.
pub fn default_levels() -> Vec<f64> {
    (0..=20).map(|i| f64::from(i) / 20.0).collect()
}

/// The insertion/deletion evaluator.
#[derive(Debug, Clone)]
pub struct InsertionDeletion(pub Settings);

/// Registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "insertion_deletion",
    summary: "insertion / deletion curves (Petsiuk et al. 2018): probability of the explained class as the most relevant pixels are deleted into or inserted from a named baseline (zero, mean, blur)",
    protocol: "protocols §4.9",
    modality: Modality::Image,
    needs: &[],
    metrics: "auc, prob@<p>",
    example: r#"{"mode": "deletion"}"#,
    tolerances: &[("auc", 0.005), ("prob@*", 0.005)],
    resolve,
    default_name: |s| match serde_json::from_value::<Settings>(s.clone()) {
        Ok(s) => match s.mode {
            CurveMode::Deletion => "deletion".into(),
            CurveMode::Insertion => "insertion".into(),
        },
        Err(_) => "insertion_deletion".into(),
    },
    build: |r| {
        Ok(Box::new(InsertionDeletion(from_settings("insertion_deletion", &r.settings)?))
            as Box<dyn Evaluator>)
    },
};

fn resolve(table: &Map<String, Value>, ctx: &ResolveContext<'_>) -> EvalResult<Resolved> {
    resolve_for(table, ctx, false)
}

/// Resolves the keys of the image (`text = false`) or the text kind: text has the one baseline
/// `"pad"` (its default), images every other.
pub(crate) fn resolve_for(
    table: &Map<String, Value>,
    ctx: &ResolveContext<'_>,
    text: bool,
) -> EvalResult<Resolved> {
    let kind = if text {
        "text_insertion_deletion"
    } else {
        "insertion_deletion"
    };
    let k: Keys = config(kind, table)?;
    let levels = k.levels.unwrap_or_else(default_levels);
    check_levels(&levels)
        .map_err(|e| EvalError::Config(format!("evaluator `{}`: {e}", ctx.evaluator)))?;
    let baseline = k.baseline.unwrap_or(match (text, k.mode) {
        (true, _) => Baseline::Pad,
        (false, CurveMode::Deletion) => Baseline::Zero,
        (false, CurveMode::Insertion) => Baseline::Blur(5.0),
    });
    if text != (baseline == Baseline::Pad) {
        return Err(EvalError::Config(format!(
            "evaluator `{}`: baseline {} is for {}; {kind} takes {}",
            ctx.evaluator,
            serde_json::to_string(&baseline).unwrap_or_default(),
            if text { "images" } else { "text" },
            if text {
                "\"pad\""
            } else {
                "\"zero\", \"mean\" or { blur = σ }"
            }
        )));
    }
    if let Baseline::Blur(s) = baseline {
        if !(s.is_finite() && s > 0.0 && s <= 100.0) {
            return Err(EvalError::Config(format!(
                "evaluator `{}`: blur σ must be in (0, 100] pixels, got {s}",
                ctx.evaluator
            )));
        }
    }
    let mean = match (baseline, ctx.image) {
        (Baseline::Pad, _) => [0.0; 3],
        (_, Some(f)) => f.mean,
        (Baseline::Mean, None) => {
            return Err(EvalError::Config(format!(
                "evaluator `{}`: baseline = \"mean\" needs the model's normalisation, which is not known here",
                ctx.evaluator
            )))
        }
        (_, None) => [0.0; 3],
    };
    Ok(Resolved {
        settings: to_settings(&Settings {
            mode: k.mode,
            baseline,
            mean,
            levels,
            class: k.class.unwrap_or(ExplainedClass::Predicted),
            ties: k.ties.unwrap_or_default(),
        })?,
        options: Value::Null,
    })
}

impl Protocol for InsertionDeletion {
    type Record = CurveRecord;

    fn kind(&self) -> &'static str {
        if self.0.baseline == Baseline::Pad {
            "text_insertion_deletion"
        } else {
            "insertion_deletion"
        }
    }

    fn explained(&self) -> ExplainedClass {
        self.0.class
    }

    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<CurveRecord>> {
        let s = &self.0;
        if let EvalChunk::Text(c) = chunk {
            let samples: Vec<TextCurveSample> = c
                .docs
                .iter()
                .map(|d| TextCurveSample {
                    sample_id: d.id,
                    ids: d.ids,
                    special: d.special,
                    relevance: d.relevance,
                    class: d.explained_class,
                })
                .collect();
            return run_text_curves(
                &mut *c.classifier,
                &samples,
                s.mode,
                &s.levels,
                c.pad_id,
                c.eval_batch,
            )
            .map_err(EvalError::protocol);
        }
        let c = chunk.image("insertion_deletion")?;
        let zeros = vec![0.0f32; c.height * c.width];
        let samples: Vec<CurveSample> = c
            .samples
            .iter()
            .map(|s| CurveSample {
                sample_id: s.id,
                image: s.image,
                // a constant map ranks pixels by index, as in the perturbation test
                map: s.normalised.unwrap_or(&zeros),
                class: s.explained_class,
            })
            .collect();
        run_curves(
            &mut *c.classifier,
            &samples,
            c.height,
            c.width,
            s.mode,
            &s.levels,
            s.baseline,
            s.mean,
            s.ties,
            c.eval_batch,
        )
        .map_err(EvalError::protocol)
    }

    fn summarise(
        &self,
        names: PairNames<'_>,
        recs: &[CurveRecord],
        cfg: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        let levels = &recs[0].levels;
        if let Some(r) = recs
            .iter()
            .find(|r| &r.levels != levels || r.probs.len() != levels.len())
        {
            return Err(EvalError::Record {
                sample_id: r.sample_id.clone(),
                message: "its levels differ from the other records'".into(),
            });
        }
        let boot = |v: &[f64]| bootstrap_mean_ci(v, cfg).map_err(EvalError::protocol);
        let aucs: Vec<f64> = recs.iter().map(CurveRecord::auc).collect();
        let mut rows = vec![names.row("auc", mean(&aucs), &boot(&aucs)?)];
        let (mut ys, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &p) in levels.iter().enumerate() {
            let col: Vec<f64> = recs.iter().map(|r| r.probs[i]).collect();
            let ci = boot(&col)?;
            rows.push(names.row(&format!("prob@{}", level_name(p)), mean(&col), &ci));
            ys.push(mean(&col));
            lo.push(ci.lower);
            hi.push(ci.upper);
        }
        Ok(PairSummary {
            rows,
            curves: vec![Curve {
                label: names.explainer.to_string(),
                xs: levels.clone(),
                ys,
                band: Some((lo, hi)),
            }],
        })
    }

    fn direction(&self, _metric: &str) -> Direction {
        match self.0.mode {
            CurveMode::Deletion => Direction::LowerBetter,
            CurveMode::Insertion => Direction::HigherBetter,
        }
    }

    fn describe(&self) -> String {
        let s = &self.0;
        format!(
            "*{} curve; baseline {}; levels {:?}; probability of the {} class; AUC = trapezoid \
             under the probability curve.*\n",
            match s.mode {
                CurveMode::Deletion => "deletion",
                CurveMode::Insertion => "insertion",
            },
            match s.baseline {
                Baseline::Zero => "zero (raw black)".to_string(),
                Baseline::Mean => format!("mean {:?}", s.mean),
                Baseline::Blur(x) => format!("Gaussian blur σ = {x} px"),
                Baseline::Pad => "[PAD] with attention mask 0 (the piece removed)".to_string(),
            },
            s.levels,
            match s.class {
                ExplainedClass::Predicted => "predicted",
                ExplainedClass::Target => "target",
            }
        )
    }

    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)> {
        prefixes
            .iter()
            .map(|p| (p.clone(), format!("{p} per fraction of pixels")))
            .collect()
    }

    fn figures(&self, name: &str, stem: &str, _: &[SummaryRow], curves: &[Curve]) -> Vec<Figure> {
        if curves.is_empty() {
            return Vec::new();
        }
        vec![Figure::Curves {
            file: stem.to_string(),
            title: name.to_string(),
            x_label: format!(
                "fraction of {} {}",
                if self.0.baseline == Baseline::Pad {
                    "word pieces"
                } else {
                    "pixels"
                },
                match self.0.mode {
                    CurveMode::Deletion => "deleted",
                    CurveMode::Insertion => "inserted",
                }
            ),
            y_label: "probability of the explained class".into(),
            curves: curves.to_vec(),
        }]
    }

    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[CurveRecord],
        b: &[CurveRecord],
        cfg: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        if a[0].levels != b[0].levels || a[0].mode != b[0].mode {
            return Ok(names.skipped("levels or mode differ between A and B"));
        }
        let mut out = Comparison::default();
        let aucs = |r: &[CurveRecord]| -> Vec<f64> { r.iter().map(CurveRecord::auc).collect() };
        out.lines.push(
            ComparisonLine::paired_means("auc", &aucs(a), &aucs(b), cfg)
                .map_err(EvalError::protocol)?,
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::ImageFacts;

    fn ctx(image: Option<ImageFacts>) -> ResolveContext<'static> {
        ResolveContext::for_tests(image)
    }

    /// RISE's baselines are the defaults per mode; `mean` takes the model's mean; bad keys,
    /// levels and σ are errors naming them; directions follow the mode.
    #[test]
    fn resolves_named_baselines_and_directions() {
        let facts = Some(ImageFacts {
            mean: [0.4, 0.5, 0.6],
            std: [0.2; 3],
        });
        let get = |t: Value, f| -> Settings {
            from_settings(
                "x",
                &resolve(t.as_object().unwrap(), &ctx(f)).unwrap().settings,
            )
            .unwrap()
        };
        let d = get(serde_json::json!({"mode": "deletion"}), facts);
        assert_eq!((d.baseline, d.levels.len()), (Baseline::Zero, 21));
        let i = get(serde_json::json!({"mode": "insertion"}), facts);
        assert_eq!(i.baseline, Baseline::Blur(5.0));
        let m = get(
            serde_json::json!({"mode": "deletion", "baseline": "mean"}),
            facts,
        );
        assert_eq!(m.mean, [0.4, 0.5, 0.6]);
        let b = get(
            serde_json::json!({"mode": "insertion", "baseline": {"blur": 2.0}}),
            None,
        );
        assert_eq!(b.baseline, Baseline::Blur(2.0));
        assert_eq!(
            Protocol::direction(&InsertionDeletion(d), "auc"),
            Direction::LowerBetter
        );
        assert_eq!(
            Protocol::direction(&InsertionDeletion(i), "prob@0.5"),
            Direction::HigherBetter
        );
        for (t, msg) in [
            (
                serde_json::json!({"mode": "deletion", "baseline": "mean"}),
                "normalisation",
            ),
            (
                serde_json::json!({"mode": "deletion", "levels": [0.5]}),
                "levels",
            ),
            (
                serde_json::json!({"mode": "insertion", "baseline": {"blur": -1.0}}),
                "blur",
            ),
            (
                serde_json::json!({"mode": "deletion", "baselin": "zero"}),
                "baselin",
            ),
            (
                serde_json::json!({"mode": "deletion", "baseline": "pad"}),
                "is for text",
            ),
        ] {
            let e = resolve(t.as_object().unwrap(), &ctx(None))
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
        // the text kind: `pad` only, its default
        let t = serde_json::json!({"mode": "insertion"});
        let r = resolve_for(t.as_object().unwrap(), &ctx(None), true).unwrap();
        let s: Settings = from_settings("x", &r.settings).unwrap();
        assert_eq!(s.baseline, Baseline::Pad);
        assert_eq!(
            Protocol::kind(&InsertionDeletion(s)),
            "text_insertion_deletion"
        );
        let t = serde_json::json!({"mode": "deletion", "baseline": "zero"});
        let e = resolve_for(t.as_object().unwrap(), &ctx(None), true).unwrap_err();
        assert!(e.to_string().contains("is for images"), "{e}");
    }

    /// The summary's AUC is the mean of the per-sample trapezoids (by hand) and `prob@p` the
    /// mean probability per level.
    #[test]
    fn summary_by_hand() {
        let rec = |id: &str, probs: [f64; 3]| CurveRecord {
            sample_id: id.into(),
            mode: CurveMode::Deletion,
            levels: vec![0.0, 0.5, 1.0],
            probs: probs.to_vec(),
            class: 0,
        };
        let recs = vec![rec("a", [1.0, 0.5, 0.0]), rec("b", [0.8, 0.8, 0.8])];
        let e = InsertionDeletion(Settings {
            mode: CurveMode::Deletion,
            baseline: Baseline::Zero,
            mean: [0.0; 3],
            levels: vec![0.0, 0.5, 1.0],
            class: ExplainedClass::Predicted,
            ties: TieBreak::LowestIndex,
        });
        let cfg = BootstrapConfig {
            resamples: 100,
            confidence: 0.95,
            seed: 0,
        };
        let names = PairNames {
            evaluator: "deletion",
            explainer: "X",
        };
        let s = Protocol::summarise(&e, names, &recs, &cfg).unwrap();
        let get = |m: &str| s.rows.iter().find(|r| r.metric == m).unwrap().value;
        // a: 0.25·(1 + 0.5) + 0.25·(0.5 + 0) = 0.5; b: 0.8 → mean 0.65
        assert!((get("auc") - 0.65).abs() < 1e-12);
        assert!((get("prob@0.5") - 0.65).abs() < 1e-12);
        assert!((get("prob@1.0") - 0.4).abs() < 1e-12);
    }
}
