//! `kind = "text_perturbation"`: token removal from a text classifier's input (protocols §4.5
//! Movie Reviews, §4.6 20 Newsgroups, pitfall P10); see [`crate::text_perturbation`] for the
//! protocol. Explains the ground-truth class by default (pitfall P12); relevance clamped at 0.
//!
//! Summary metrics: `auc` (under the evaluator's rule; `trapezoid_normalised` is the mean
//! accuracy over the fraction range, a fraction), `clean_accuracy`, `accuracy@<p>`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_data::{Capability, Modality};

use crate::auc::trapezoid;
use crate::evaluator::{
    config, from_settings, to_settings, EvalChunk, EvalError, EvalResult, Evaluator, EvaluatorInfo,
    PairNames, Protocol, ResolveContext, Resolved,
};
use crate::evaluators::perturbation::snake;
use crate::perturbation::ExplainedClass;
use crate::stats::{
    bootstrap_curve_statistic, bootstrap_mean_ci, paired_curve_statistic_difference,
    paired_difference_ci, BootstrapConfig,
};
use crate::summary::{
    Comparison, ComparisonLine, Curve, Direction, Figure, PairSummary, SummaryRow,
};
use crate::text_perturbation::{
    accuracy_curve, run_text_perturbation, FractionPreset, LengthRule, TextAucRule, TextDocument,
    TextMode, TextPerturbationConfig, TextPerturbationRecord,
};

/// One line of a `text_perturbation` records file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPerturbationLine {
    /// Sample id.
    pub sample_id: String,
    /// The explained class.
    pub explained_class: usize,
    /// The model's prediction on the clean input.
    pub clean_pred: usize,
    /// The per-fraction results.
    #[serde(flatten)]
    pub record: TextPerturbationRecord,
}

/// Fractions of a text perturbation test: a reference preset or a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fractions {
    /// `"movies_reference"` or `"newsgroups_reference"`.
    Preset(FractionPreset),
    /// Explicit fractions.
    List(Vec<f64>),
}

impl Fractions {
    /// The fractions.
    pub fn values(&self) -> Vec<f64> {
        match self {
            Fractions::Preset(p) => p.fractions(),
            Fractions::List(v) => v.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Fractions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fractions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"movies_reference\", \"newsgroups_reference\" or a list of fractions")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fractions, E> {
                match v {
                    "movies_reference" => Ok(Fractions::Preset(FractionPreset::MoviesReference)),
                    "newsgroups_reference" => {
                        Ok(Fractions::Preset(FractionPreset::NewsgroupsReference))
                    }
                    other => Err(E::custom(format!(
                        "unknown fractions preset `{other}` (movies_reference, newsgroups_reference; or give a list of fractions)"
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Fractions, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element::<f64>()? {
                    v.push(x);
                }
                Ok(Fractions::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `length_rule` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthRuleName {
    /// `k = int(real tokens · p)`, only real tokens are candidates (Movie Reviews script).
    #[default]
    RealTokens,
    /// Inputs padded to 512, `k = int(512 · p)`, padding positions are candidates (the 20
    /// Newsgroups script's quirk).
    #[serde(rename = "padded_to_512")]
    PaddedTo512,
}

fn target() -> ExplainedClass {
    ExplainedClass::Target
}
fn normalised() -> TextAucRule {
    TextAucRule::TrapezoidNormalised
}

/// The config keys of `[[evaluators]] kind = "text_perturbation"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    /// `positive` (remove the most relevant tokens first) or `negative`.
    mode: TextMode,
    /// Explained class: `target` (default) or `predicted`.
    #[serde(default = "target")]
    class: ExplainedClass,
    /// A preset name or a list of fractions.
    fractions: Fractions,
    /// `real_tokens` (default) or `padded_to_512`.
    #[serde(default)]
    length_rule: LengthRuleName,
    /// `trapezoid_normalised` (default) or `trapezoid`.
    #[serde(default = "normalised")]
    auc: TextAucRule,
}

/// Resolved settings (hashed into the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Mode, fractions, length rule, `[PAD]` id.
    pub config: TextPerturbationConfig,
    /// Explained class.
    pub explained: ExplainedClass,
    /// AUC rule of the summary.
    pub auc: TextAucRule,
}

/// The text perturbation evaluator.
#[derive(Debug, Clone)]
pub struct TextPerturbation(pub Settings);

/// Registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "text_perturbation",
    summary: "token removal: the int(len·p) most (least) relevant word pieces get [PAD] and mask 0, cumulatively; accuracy per fraction",
    protocol: "protocols §4.5, §4.6",
    modality: Modality::Text,
    needs: &[Capability::Labels],
    metrics: "auc, clean_accuracy, accuracy@<p>",
    example: r#"{"mode": "positive", "fractions": "movies_reference"}"#,
    tolerances: &[("auc", 0.005), ("clean_accuracy", 0.005), ("accuracy@*", 0.005)],
    resolve,
    default_name: |s| match serde_json::from_value::<Settings>(s.clone()) {
        Ok(s) => format!("text_perturbation_{}", snake(&s.config.mode)),
        Err(_) => "text_perturbation".into(),
    },
    build: |r| {
        Ok(Box::new(TextPerturbation(from_settings(
            "text_perturbation",
            &r.settings,
        )?)) as Box<dyn Evaluator>)
    },
};

fn resolve(table: &Map<String, Value>, ctx: &ResolveContext<'_>) -> EvalResult<Resolved> {
    let k: Keys = config("text_perturbation", table)?;
    let n = ctx.evaluator;
    let fractions = k.fractions.values();
    if fractions.is_empty() || fractions.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return Err(EvalError::Config(format!(
            "evaluator `{n}`: fractions must be a non-empty list of fractions in [0, 1] (or \"movies_reference\" / \"newsgroups_reference\")"
        )));
    }
    let text = ctx.text.ok_or_else(|| {
        EvalError::Config(format!(
            "evaluator `{n}`: text_perturbation needs a text dataset"
        ))
    })?;
    let length_rule = match k.length_rule {
        LengthRuleName::RealTokens => LengthRule::RealTokens,
        LengthRuleName::PaddedTo512 => {
            if text.max_position < 512 {
                return Err(EvalError::Config(format!(
                    "evaluator `{n}`: length_rule = \"padded_to_512\" needs a model with 512 positions; the model of dataset `{}` has {}",
                    ctx.dataset, text.max_position
                )));
            }
            if text.max_length > 512 {
                return Err(EvalError::Config(format!(
                    "evaluator `{n}`: length_rule = \"padded_to_512\" needs max_length <= 512"
                )));
            }
            LengthRule::PaddedTo(512)
        }
    };
    Ok(Resolved {
        settings: to_settings(&Settings {
            config: TextPerturbationConfig {
                mode: k.mode,
                fractions,
                length_rule,
                pad_id: text.pad_id,
            },
            explained: k.class,
            auc: k.auc,
        })?,
        options: Value::Null,
    })
}

/// A removal fraction for metric names: rounded to 6 decimals, trailing zeros dropped, at least
/// one decimal (`0.5800000000000001` → `0.58`, `1` → `1.0`).
pub fn fraction_name(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

fn hits(recs: &[TextPerturbationLine]) -> Vec<Vec<f64>> {
    recs.iter()
        .map(|r| {
            r.record
                .hits
                .iter()
                .map(|&h| f64::from(u8::from(h)))
                .collect()
        })
        .collect()
}

fn clean_hits(recs: &[TextPerturbationLine]) -> Vec<f64> {
    recs.iter()
        .map(|r| f64::from(u8::from(r.clean_pred == r.record.label)))
        .collect()
}

impl TextPerturbation {
    /// The area of a mean accuracy curve (fractions) under the evaluator's rule.
    fn area(&self, fr: &[f64], acc_frac: &[f64]) -> Result<f64, String> {
        let pct: Vec<f64> = acc_frac.iter().map(|a| a * 100.0).collect();
        let a = trapezoid(fr, &pct).map_err(|e| e.to_string())?;
        match self.0.auc {
            TextAucRule::Trapezoid => Ok(a),
            TextAucRule::TrapezoidNormalised => {
                let w = fr[fr.len() - 1] - fr[0];
                if w == 0.0 {
                    Err("the fractions span zero width".into())
                } else {
                    Ok(a / w / 100.0)
                }
            }
        }
    }

    fn lines(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<TextPerturbationLine>> {
        let c = chunk.text(EVALUATOR.kind)?;
        let cfg = &self.0.config;
        let mut ids: Vec<Vec<u32>> = Vec::with_capacity(c.docs.len());
        let mut masks: Vec<Vec<u8>> = Vec::with_capacity(c.docs.len());
        let mut rels: Vec<Vec<f32>> = Vec::with_capacity(c.docs.len());
        for d in &c.docs {
            let (mut i, mut m, mut r) =
                (d.ids.to_vec(), vec![1u8; d.ids.len()], d.relevance.to_vec());
            if let LengthRule::PaddedTo(n) = cfg.length_rule {
                if i.len() > n {
                    return Err(EvalError::Sample {
                        sample_id: d.id.to_string(),
                        message: format!("has {} word pieces, more than {n}", i.len()),
                    });
                }
                i.resize(n, cfg.pad_id);
                m.resize(n, 0);
                r.resize(n, 0.0);
            }
            ids.push(i);
            masks.push(m);
            rels.push(r);
        }
        let docs: Vec<TextDocument> = c
            .docs
            .iter()
            .enumerate()
            .map(|(r, d)| TextDocument {
                doc_id: d.id,
                ids: &ids[r],
                mask: &masks[r],
                relevance: &rels[r],
                label: d.label,
            })
            .collect();
        let recs = run_text_perturbation(&mut *c.classifier, &docs, cfg, c.eval_batch.max(1))
            .map_err(EvalError::protocol)?;
        Ok(recs
            .into_iter()
            .zip(&c.docs)
            .map(|(record, d)| TextPerturbationLine {
                sample_id: d.id.to_string(),
                explained_class: d.explained_class,
                clean_pred: d.predicted,
                record,
            })
            .collect())
    }
}

impl Protocol for TextPerturbation {
    type Record = TextPerturbationLine;

    fn kind(&self) -> &'static str {
        EVALUATOR.kind
    }

    fn explained(&self) -> ExplainedClass {
        self.0.explained
    }

    fn evaluate(&self, chunk: &mut EvalChunk<'_>) -> EvalResult<Vec<TextPerturbationLine>> {
        self.lines(chunk)
    }

    fn summarise(
        &self,
        names: PairNames<'_>,
        recs: &[TextPerturbationLine],
        cfg: &BootstrapConfig,
    ) -> EvalResult<PairSummary> {
        let records: Vec<_> = recs.iter().map(|r| r.record.clone()).collect();
        let curve = accuracy_curve(&records).map_err(EvalError::protocol)?;
        let fr = curve.fractions.clone();
        let h = hits(recs);
        let mut rows = Vec::new();
        if let Ok(ci) = bootstrap_curve_statistic(&h, |a: &[f64]| self.area(&fr, a), cfg) {
            rows.push(names.row("auc", ci.estimate, &ci));
        }
        let clean_ci = bootstrap_mean_ci(&clean_hits(recs), cfg).map_err(EvalError::protocol)?;
        rows.push(names.row("clean_accuracy", clean_ci.estimate, &clean_ci));
        let (mut lo, mut hi, mut ys) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &f) in fr.iter().enumerate() {
            let col: Vec<f64> = h.iter().map(|x| x[i]).collect();
            let ci = bootstrap_mean_ci(&col, cfg).map_err(EvalError::protocol)?;
            let acc = curve.accuracy_percent[i] / 100.0;
            rows.push(names.row(&format!("accuracy@{}", fraction_name(f)), acc, &ci));
            ys.push(acc);
            lo.push(ci.lower);
            hi.push(ci.upper);
        }
        Ok(PairSummary {
            rows,
            curves: vec![Curve {
                label: names.explainer.to_string(),
                xs: fr,
                ys,
                band: Some((lo, hi)),
            }],
        })
    }

    fn removal_test(&self) -> Option<crate::symmetric::RemovalTest> {
        use crate::symmetric::{RemovalOrder, RemovalTest};
        let mut key = serde_json::to_value(&self.0).ok()?;
        let order = match self.0.config.mode {
            TextMode::Positive => RemovalOrder::MostRelevantFirst,
            TextMode::Negative => RemovalOrder::LeastRelevantFirst,
        };
        key["config"].as_object_mut()?.remove("mode");
        Some(RemovalTest { order, key })
    }

    fn record_aucs(&self, recs: &[TextPerturbationLine]) -> EvalResult<Vec<f64>> {
        let records: Vec<_> = recs.iter().map(|r| r.record.clone()).collect();
        let fr = accuracy_curve(&records)
            .map_err(EvalError::protocol)?
            .fractions;
        hits(recs)
            .iter()
            .map(|h| self.area(&fr, h).map_err(|e| EvalError::Protocol(e.into())))
            .collect()
    }

    /// The AUC; `clean_accuracy` (the model on clean texts, the same for every explainer) is
    /// not a ranking.
    fn on_leaderboard(&self, metric: &str) -> bool {
        metric != "clean_accuracy"
    }

    fn direction(&self, metric: &str) -> Direction {
        let headline = metric == "auc" || metric.starts_with("accuracy@");
        match self.0.config.mode {
            TextMode::Positive if headline => Direction::LowerBetter,
            _ => Direction::HigherBetter,
        }
    }

    fn describe(&self) -> String {
        let c = &self.0.config;
        format!(
            "*{} text perturbation; explains the {} class; relevance clamped at 0; fractions {:?} (cumulative); \
             length rule {}; removed tokens get [PAD] (id {}) and mask 0; hits scored against the ground truth; \
             AUC rule `{}` ({}).*\n",
            snake(&c.mode),
            snake(&self.0.explained),
            c.fractions.iter().map(|&p| fraction_name(p)).collect::<Vec<_>>(),
            serde_json::to_string(&c.length_rule).unwrap_or_default(),
            c.pad_id,
            snake(&self.0.auc),
            if self.0.auc == TextAucRule::TrapezoidNormalised {
                "mean accuracy over the fraction range, a fraction"
            } else {
                "sklearn auc of accuracy in percent"
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
            title: format!("{name} (AUC {})", snake(&self.0.auc)),
            x_label: "fraction of tokens removed".into(),
            y_label: "accuracy".into(),
            curves: curves.to_vec(),
        }]
    }

    fn compare(
        &self,
        names: PairNames<'_>,
        a: &[TextPerturbationLine],
        b: &[TextPerturbationLine],
        cfg: &BootstrapConfig,
    ) -> EvalResult<Comparison> {
        let mut out = Comparison::default();
        if a[0].record.fractions != b[0].record.fractions {
            out.notes.push(format!(
                "{} × {}: fractions differ between A and B; skipped",
                names.evaluator, names.explainer
            ));
            return Ok(out);
        }
        let sa = Protocol::summarise(self, names, a, cfg)?;
        let sb = Protocol::summarise(self, names, b, cfg)?;
        let get =
            |rows: &[SummaryRow], m: &str| rows.iter().find(|r| r.metric == m).map(|r| r.value);
        let fr = a[0].record.fractions.clone();
        if let (Some(va), Some(vb)) = (get(&sa.rows, "auc"), get(&sb.rows, "auc")) {
            let d = paired_curve_statistic_difference(
                &hits(a),
                &hits(b),
                |c: &[f64]| self.area(&fr, c),
                cfg,
            )
            .map_err(EvalError::protocol)?;
            out.lines.push(ComparisonLine {
                metric: "auc".into(),
                a: va,
                b: vb,
                diff: d,
                p: None,
            });
        }
        let (ca, cb) = (clean_hits(a), clean_hits(b));
        let pc = paired_difference_ci(&ca, &cb, cfg).map_err(EvalError::protocol)?;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        out.lines.push(ComparisonLine {
            metric: "clean_accuracy".into(),
            a: mean(&ca),
            b: mean(&cb),
            diff: pc.difference,
            p: Some(pc.p_value),
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::TextFacts;

    fn ctx(max_position: usize) -> ResolveContext<'static> {
        ResolveContext {
            evaluator: "e",
            dataset: "d",
            classes: None,
            text: Some(TextFacts {
                pad_id: 0,
                max_length: 512,
                max_position,
            }),
            image: None,
        }
    }

    #[test]
    fn resolves_presets_and_rules() {
        let t = serde_json::json!({"mode": "negative", "fractions": "movies_reference", "length_rule": "padded_to_512"});
        let r = resolve(t.as_object().unwrap(), &ctx(512)).unwrap();
        let s: Settings = serde_json::from_value(r.settings.clone()).unwrap();
        assert_eq!(s.config.fractions.len(), 9);
        assert_eq!(s.config.length_rule, LengthRule::PaddedTo(512));
        assert_eq!(
            s.explained,
            ExplainedClass::Target,
            "BERT explains the ground truth"
        );
        assert_eq!(
            (EVALUATOR.default_name)(&r.settings),
            "text_perturbation_negative"
        );
        for (t, pos, msg) in [
            (
                serde_json::json!({"mode": "positive", "fractions": [1.5]}),
                512,
                "fractions",
            ),
            (
                serde_json::json!({"mode": "positive", "fractions": "sst"}),
                512,
                "unknown fractions preset `sst`",
            ),
            (
                serde_json::json!({"mode": "positive", "fractions": [0.5], "length_rule": "padded_to_512"}),
                64,
                "512 positions",
            ),
        ] {
            let e = resolve(t.as_object().unwrap(), &ctx(pos))
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{msg}: {e}");
        }
    }

    #[test]
    fn fraction_names_sort_and_round() {
        assert_eq!(fraction_name(0.5800000000000001), "0.58");
        assert_eq!(fraction_name(0.0), "0.0");
        assert_eq!(fraction_name(1.0), "1.0");
        assert_eq!(fraction_name(0.30000000000000004), "0.3");
    }

    /// Two documents, fractions [0, 1]: hits [1, 0] and [1, 1] → accuracy 1.0 then 0.5; the
    /// normalised trapezoid is the mean accuracy (1 + 0.5)/2 = 0.75; the plain one 75 (percent).
    #[test]
    fn areas_by_hand() {
        let s = |auc| Settings {
            config: TextPerturbationConfig {
                mode: TextMode::Positive,
                fractions: vec![0.0, 1.0],
                length_rule: LengthRule::RealTokens,
                pad_id: 0,
            },
            explained: ExplainedClass::Target,
            auc,
        };
        let e = TextPerturbation(s(TextAucRule::TrapezoidNormalised));
        assert!((e.area(&[0.0, 1.0], &[1.0, 0.5]).unwrap() - 0.75).abs() < 1e-12);
        let e = TextPerturbation(s(TextAucRule::Trapezoid));
        assert!((e.area(&[0.0, 1.0], &[1.0, 0.5]).unwrap() - 75.0).abs() < 1e-12);
    }
}
