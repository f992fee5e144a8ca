//! `kind = "perturbation"`: the image pixel-removal test (protocols §4.1). Positive or negative
//! order, predicted or ground-truth class explained (hits always scored against the ground
//! truth, pitfall P12), named AUC rules and removal values; see [`crate::perturbation`] for the
//! protocol itself.
//!
//! Summary metrics: `auc` (CI: bootstrap of the AUC of the resampled mean accuracy curve),
//! `clean_accuracy`, `accuracy@<p>` per level, and `tie_share@<p>` per level with its mean over
//! the levels `tie_share`: the share of pixels in the tied group each level's cut falls into
//! (how much of the removed set the tie order, `ties`, decided). Compare: paired bootstrap of AUC(A) − AUC(B),
//! mean paired difference (with a sign-flip p-value) of the clean accuracy.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_data::{Capability, Modality};

use crate::auc::AucRule;
use crate::evaluator::{
    config, from_settings, to_settings, EvalChunk, EvalError, EvalResult, Evaluator, EvaluatorInfo,
    PairNames, Protocol, ResolveContext, Resolved,
};
use crate::maps::TieBreak;
use crate::perturbation::{
    auc_bootstrap_ci, auc_difference_ci, hit_curve, run_perturbation, summarise, ExplainedClass,
    PerturbationConfig, PerturbationMode, PerturbationRecord, PerturbationSample, RemovalValue,
    ScoredClass,
};
use crate::stats::{bootstrap_mean_ci, mean, paired_difference_ci, BootstrapConfig};
use crate::summary::{
    Comparison, ComparisonLine, Curve, Direction, Figure, PairSummary, SummaryRow,
};
use crate::symmetric::{RemovalOrder, RemovalTest};

fn predicted() -> ExplainedClass {
    ExplainedClass::Predicted
}
fn bi2023() -> AucRule {
    AucRule::Bi2023
}

/// The config keys of `[[evaluators]] kind = "perturbation"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Keys {
    /// `positive` (remove the most relevant pixels first) or `negative`.
    pub(crate) mode: PerturbationMode,
    /// Explained class: `predicted` (default) or `target`.
    #[serde(default = "predicted")]
    pub(crate) class: ExplainedClass,
    /// AUC rule: `bi2023` (default, the paper's), `chefer2021`, `trapezoid`.
    #[serde(default = "bi2023")]
    pub(crate) auc: AucRule,
    /// Removal fractions (default `[0.1, …, 0.9]`).
    #[serde(default)]
    pub(crate) levels: Option<Vec<f64>>,
    /// Raw value written into removed pixels (default `"raw_black"`).
    #[serde(default)]
    pub(crate) removal: Option<Removal>,
    /// Order of equal map values at a cut: `"lowest_index"` (default) or `{ random = SEED }`.
    #[serde(default)]
    pub(crate) ties: Option<TieBreak>,
}

/// The `removal` key: a raw value, or `"normalised_zero"` — the value 0 of the *normalised*
/// tensor, i.e. the model's mean colour in raw space (what the reference's CLIP test removes,
/// pitfall P9d).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Removal {
    /// `"normalised_zero"`.
    Named(NamedRemoval),
    /// `"raw_black"`, `{ value = v }`, `{ per_channel = [r, g, b] }`.
    Raw(RemovalValue),
}

/// Removal values named after what they mean for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedRemoval {
    /// 0 in the normalised tensor: the per-channel normalisation mean in raw space.
    NormalisedZero,
}

impl Removal {
    /// The raw value, given the model's normalisation mean.
    pub fn resolve(self, ctx: &ResolveContext<'_>) -> EvalResult<RemovalValue> {
        match self {
            Removal::Raw(v) => Ok(v),
            Removal::Named(NamedRemoval::NormalisedZero) => match ctx.image {
                Some(f) => Ok(RemovalValue::PerChannel(f.mean)),
                None => Err(EvalError::Config(format!(
                    "evaluator `{}`: removal = \"normalised_zero\" needs the model's normalisation, which is not known here",
                    ctx.evaluator
                ))),
            },
        }
    }
}

/// Resolved settings (hashed into the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Mode, levels, removal value, scored and explained class.
    pub config: PerturbationConfig,
    /// AUC rule of the summary.
    pub auc: AucRule,
}

/// The perturbation evaluator (also the CLIP zero-shot one, with other defaults).
#[derive(Debug, Clone)]
pub struct Perturbation {
    /// Settings.
    pub settings: Settings,
    /// The registry kind it was built as.
    pub kind: &'static str,
}

/// Registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "perturbation",
    summary: "pixel removal: the top-k pixels of the upsampled min–max map removed in raw [0, 1] space, top-1 accuracy against the ground truth per level",
    protocol: "protocols §4.1",
    modality: Modality::Image,
    needs: &[Capability::Labels],
    metrics: "auc, clean_accuracy, accuracy@<p>, tie_share, tie_share@<p>",
    example: r#"{"mode": "positive"}"#,
    tolerances: &[("auc", 0.005), ("clean_accuracy", 0.005), ("accuracy@*", 0.005), ("tie_share", 0.005), ("tie_share@*", 0.005), ("srg", 0.005)],
    resolve,
    default_name: |s| match serde_json::from_value::<Settings>(s.clone()) {
        Ok(s) => format!(
            "perturbation_{}_{}",
            snake(&s.config.mode),
            snake(&s.config.explained_class)
        ),
        Err(_) => "perturbation".into(),
    },
    build: |r| {
        Ok(Box::new(Perturbation {
            settings: from_settings("perturbation", &r.settings)?,
            kind: "perturbation",
        }) as Box<dyn Evaluator>)
    },
};

fn resolve(table: &Map<String, Value>, ctx: &ResolveContext<'_>) -> EvalResult<Resolved> {
    let k: Keys = config("perturbation", table)?;
    resolve_keys(
        k,
        PerturbationConfig::vit_reference(PerturbationMode::Positive, ExplainedClass::Predicted),
        ctx,
    )
}

/// Resolves the keys over a reference protocol's defaults (levels, removal).
pub(crate) fn resolve_keys(
    k: Keys,
    reference: PerturbationConfig,
    ctx: &ResolveContext<'_>,
) -> EvalResult<Resolved> {
    if let Some(l) = &k.levels {
        if l.is_empty() || l.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err(EvalError::Config(format!(
                "evaluator `{}`: levels must be a non-empty list of fractions in [0, 1]",
                ctx.evaluator
            )));
        }
    }
    let mut c = PerturbationConfig {
        mode: k.mode,
        explained_class: k.class,
        ..reference
    };
    if let Some(l) = k.levels {
        c.levels = l;
    }
    if let Some(r) = k.removal {
        c.removal = r.resolve(ctx)?;
    }
    if let Some(t) = k.ties {
        c.ties = t;
    }
    c.scored_class = ScoredClass::GroundTruth;
    c.validate()
        .map_err(|e| EvalError::Config(format!("evaluator `{}`: {e}", ctx.evaluator)))?;
    Ok(Resolved {
        settings: to_settings(&Settings {
            config: c,
            auc: k.auc,
        })?,
        options: Value::Null,
    })
}

/// The snake_case name of a unit enum variant.
pub(crate) fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Formats a removal level for metric names: `0.1` → `0.1`, `1` → `1.0`.
pub fn level_name(p: f64) -> String {
    let s = format!("{p}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

impl Protocol for Perturbation {
    type Record = PerturbationRecord;

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn explained(&self) -> ExplainedClass {
        self.settings.config.explained_class
    }

    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<PerturbationRecord>> {
        let c = chunk.image(self.kind)?;
        let zeros = vec![0.0f32; c.height * c.width];
        let samples = c
            .samples
            .iter()
            .map(|s| {
                Ok(PerturbationSample {
                    sample_id: s.id,
                    label: s.label.ok_or_else(|| EvalError::Sample {
                        sample_id: s.id.to_string(),
                        message: "has no class label".into(),
                    })?,
                    explained_class: Some(s.explained_class),
                    image: s.image,
                    // a constant map ranks pixels by index (lowest first), as documented
                    map: s.normalised.unwrap_or(&zeros),
                })
            })
            .collect::<EvalResult<Vec<_>>>()?;
        run_perturbation(
            &mut *c.classifier,
            &samples,
            c.height,
            c.width,
            &self.settings.config,
            c.eval_batch,
        )
        .map_err(EvalError::protocol)
    }

    fn summarise(
        &self,
        names: PairNames<'_>,
        recs: &[PerturbationRecord],
        cfg: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        let rule = self.settings.auc;
        let s = summarise(recs, rule).map_err(EvalError::protocol)?;
        let auc_ci = auc_bootstrap_ci(recs, rule, cfg).map_err(EvalError::protocol)?;
        let mut rows = vec![names.row("auc", s.auc, &auc_ci)];
        let curves: Vec<Vec<f64>> = recs.iter().map(hit_curve).collect();
        let column = |i: usize| curves.iter().map(|c| c[i]).collect::<Vec<f64>>();
        let clean = bootstrap_mean_ci(&column(0), cfg).map_err(EvalError::protocol)?;
        rows.push(names.row("clean_accuracy", s.curve.acc0, &clean));
        let (mut lo, mut hi) = (vec![clean.lower], vec![clean.upper]);
        for (i, &p) in s.curve.levels.iter().enumerate() {
            let ci = bootstrap_mean_ci(&column(i + 1), cfg).map_err(EvalError::protocol)?;
            rows.push(names.row(&format!("accuracy@{}", level_name(p)), s.curve.acc[i], &ci));
            lo.push(ci.lower);
            hi.push(ci.upper);
        }
        // how much of each level's removed set the tie order decided (records written before
        // faithbench recorded it have none: no rows then)
        if recs
            .iter()
            .all(|r| r.tie_shares.len() == s.curve.levels.len())
        {
            let share = |i: usize| recs.iter().map(|r| r.tie_shares[i]).collect::<Vec<f64>>();
            let per_sample: Vec<f64> = recs.iter().map(|r| mean(&r.tie_shares)).collect();
            let ci = bootstrap_mean_ci(&per_sample, cfg).map_err(EvalError::protocol)?;
            rows.push(names.row("tie_share", mean(&per_sample), &ci));
            for (i, &p) in s.curve.levels.iter().enumerate() {
                let v = share(i);
                let ci = bootstrap_mean_ci(&v, cfg).map_err(EvalError::protocol)?;
                rows.push(names.row(&format!("tie_share@{}", level_name(p)), mean(&v), &ci));
            }
        }
        let curve = Curve {
            label: names.explainer.to_string(),
            xs: std::iter::once(0.0)
                .chain(s.curve.levels.iter().copied())
                .collect(),
            ys: std::iter::once(s.curve.acc0)
                .chain(s.curve.acc.iter().copied())
                .collect(),
            band: Some((lo, hi)),
        };
        Ok(PairSummary {
            rows,
            curves: vec![curve],
        })
    }

    fn removal_test(&self) -> Option<RemovalTest> {
        let mut key = serde_json::to_value(&self.settings).ok()?;
        let order = match self.settings.config.mode {
            PerturbationMode::Positive => RemovalOrder::MostRelevantFirst,
            PerturbationMode::Negative => RemovalOrder::LeastRelevantFirst,
        };
        key["config"].as_object_mut()?.remove("mode");
        key["kind"] = Value::from(self.kind);
        Some(RemovalTest { order, key })
    }

    fn record_aucs(&self, recs: &[PerturbationRecord]) -> EvalResult<Vec<f64>> {
        recs.iter()
            .map(|r| {
                let c = hit_curve(r);
                crate::auc::auc(self.settings.auc, c[0], &r.levels, &c[1..])
                    .map_err(EvalError::protocol)
            })
            .collect()
    }

    fn direction(&self, metric: &str) -> Direction {
        let headline = metric == "auc" || metric.starts_with("accuracy@");
        if metric.starts_with("tie_share") {
            // less of the score decided by tie order
            return Direction::LowerBetter;
        }
        match self.settings.config.mode {
            PerturbationMode::Positive if headline => Direction::LowerBetter,
            _ => Direction::HigherBetter,
        }
    }

    /// AUCs in percent (every rule but `bi2023`) get 0.5 points, the fraction's 0.005 × 100.
    /// The AUC; `clean_accuracy` (the model on clean images, the same for every explainer) is
    /// not a ranking.
    fn on_leaderboard(&self, metric: &str) -> bool {
        metric != "clean_accuracy"
    }

    fn tolerance(&self, metric: &str) -> f64 {
        if metric == "auc" && self.settings.auc != AucRule::Bi2023 {
            0.5
        } else {
            crate::evaluator::default_tolerance(metric)
        }
    }

    fn describe(&self) -> String {
        let c = &self.settings.config;
        format!(
            "*{} perturbation; explains the {} class; hits scored against the ground truth; \
             levels {:?}; removal {}; AUC rule `{}` ({}).*\n",
            snake(&c.mode),
            snake(&c.explained_class),
            c.levels,
            serde_json::to_string(&c.removal).unwrap_or_default(),
            snake(&self.settings.auc),
            if self.settings.auc == AucRule::Bi2023 {
                "fraction"
            } else {
                "percent"
            }
        )
    }

    fn markdown_tables(&self, prefixes: &[String]) -> Vec<(String, String)> {
        crate::evaluator::removal_tables(prefixes)
    }

    fn figures(&self, name: &str, stem: &str, _: &[SummaryRow], curves: &[Curve]) -> Vec<Figure> {
        if curves.is_empty() {
            return Vec::new();
        }
        vec![Figure::Curves {
            file: stem.to_string(),
            title: format!("{name} (AUC {})", snake(&self.settings.auc)),
            x_label: "fraction of pixels removed".into(),
            y_label: "top-1 accuracy".into(),
            curves: curves.to_vec(),
        }]
    }

    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[PerturbationRecord],
        b: &[PerturbationRecord],
        cfg: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        if a[0].levels != b[0].levels || a[0].mode != b[0].mode {
            return Ok(names.skipped("levels or mode differ between A and B"));
        }
        let mut out = Comparison::default();
        let rule = self.settings.auc;
        let sa = summarise(a, rule).map_err(EvalError::protocol)?;
        let sb = summarise(b, rule).map_err(EvalError::protocol)?;
        let d = auc_difference_ci(a, b, rule, cfg).map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "auc".into(),
            a: sa.auc,
            b: sb.auc,
            diff: d,
            p: None,
        });
        let hits = |r: &[PerturbationRecord]| -> Vec<f64> {
            r.iter().map(|x| f64::from(u8::from(x.clean_hit))).collect()
        };
        let pc = paired_difference_ci(&hits(a), &hits(b), cfg).map_err(EvalError::protocol)?;
        out.lines.push(ComparisonLine {
            metric: "clean_accuracy".into(),
            a: sa.curve.acc0,
            b: sb.curve.acc0,
            diff: pc.difference,
            p: Some(pc.p_value),
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ResolveContext<'static> {
        ResolveContext::for_tests(None)
    }

    #[test]
    fn resolves_the_reference_protocol_and_names_it() {
        let t: Value = serde_json::json!({"mode": "negative", "class": "target"});
        let r = resolve(t.as_object().unwrap(), &ctx()).unwrap();
        let s: Settings = serde_json::from_value(r.settings.clone()).unwrap();
        assert_eq!(s.config.levels, crate::perturbation::VIT_LEVELS.to_vec());
        assert_eq!(s.config.removal, RemovalValue::RawBlack);
        assert_eq!(s.auc, AucRule::Bi2023);
        assert_eq!(
            (EVALUATOR.default_name)(&r.settings),
            "perturbation_negative_target"
        );
        let e = Perturbation {
            settings: s,
            kind: "perturbation",
        };
        assert_eq!(Protocol::direction(&e, "auc"), Direction::HigherBetter);
        let pos: Value = serde_json::json!({"mode": "positive"});
        let p = resolve(pos.as_object().unwrap(), &ctx()).unwrap();
        let e = Perturbation {
            settings: serde_json::from_value(p.settings).unwrap(),
            kind: "perturbation",
        };
        assert_eq!(Protocol::direction(&e, "auc"), Direction::LowerBetter);
        assert_eq!(
            Protocol::direction(&e, "accuracy@0.5"),
            Direction::LowerBetter
        );
        assert_eq!(
            Protocol::direction(&e, "clean_accuracy"),
            Direction::HigherBetter
        );
    }

    /// `ties`: the default stays out of the resolved settings (so existing plan hashes do not
    /// move); `{ random = SEED }` resolves to the seeded variant; tie shares sort lower-better.
    #[test]
    fn tie_break_key_resolves_and_the_default_is_not_serialised() {
        let plain: Value = serde_json::json!({"mode": "positive"});
        let r = resolve(plain.as_object().unwrap(), &ctx()).unwrap();
        assert!(r.settings["config"].get("ties").is_none(), "{}", r.settings);
        let t: Value = serde_json::json!({"mode": "positive", "ties": {"random": 3}});
        let r = resolve(t.as_object().unwrap(), &ctx()).unwrap();
        let s: Settings = serde_json::from_value(r.settings.clone()).unwrap();
        assert_eq!(s.config.ties, TieBreak::Random(3));
        let t: Value = serde_json::json!({"mode": "positive", "ties": "lowest_index"});
        let r = resolve(t.as_object().unwrap(), &ctx()).unwrap();
        let s: Settings = serde_json::from_value(r.settings).unwrap();
        assert_eq!(s.config.ties, TieBreak::LowestIndex);
        let e = Perturbation {
            settings: s,
            kind: "perturbation",
        };
        assert_eq!(
            Protocol::direction(&e, "tie_share@0.1"),
            Direction::LowerBetter
        );
        let bad: Value = serde_json::json!({"mode": "positive", "ties": "sideways"});
        assert!(resolve(bad.as_object().unwrap(), &ctx()).is_err());
    }

    #[test]
    fn bad_keys_and_levels_are_config_errors() {
        for (t, msg) in [
            (
                serde_json::json!({"mode": "positive", "levls": [0.5]}),
                "`levls`",
            ),
            (
                serde_json::json!({"mode": "positive", "levels": [1.5]}),
                "levels must be",
            ),
            (serde_json::json!({"mode": "sideways"}), "sideways"),
        ] {
            let e = resolve(t.as_object().unwrap(), &ctx())
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
        assert_eq!(level_name(0.1), "0.1");
        assert_eq!(level_name(1.0), "1.0");
    }
}
