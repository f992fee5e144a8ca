//! Parity of word aggregation, top-k rationales and the ERASER metrics with the independent Python
//! implementation in `scripts/fixtures/make_text_metric_fixtures.py` (numpy / scikit-learn /
//! scipy), fixture `fixtures/metrics/text_metrics.json`. Tolerance 1e-9.

use std::collections::BTreeMap;

use faithbench_data::eraser::Annotation;
use faithbench_eval::eraser_metrics::{
    iou_scores, position_scored_documents, rationale_prf, score_faithfulness, score_hard,
    score_soft_tokens, token_prf, truth_rationales, FaithfulnessInstance, HardScores, IouScores,
    PositionScoredDocument, PredictedClassRule, Rationale, ThresholdedProbabilities,
};
use faithbench_eval::rationales::{soft_predictions, top_k_spans, EraserResult, HardSpan};
use faithbench_eval::word_aggregation::{
    word_scores, OffsetUnit, WordAggregationInput, WordAlignment,
};
use serde_json::Value;

const TOL: f64 = 1e-9;

thread_local! {
    /// Largest |got − want| seen by `assert_close` in this test thread (printed with --nocapture).
    static MAX_DIFF: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

fn report(test: &str) {
    MAX_DIFF.with(|m| eprintln!("{test}: max |rust - python| = {:e}", m.get()));
}

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/metrics/text_metrics.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {path}: {e}"))
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect()
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().expect("integer") as usize
}

fn assert_close(got: f64, want: f64, what: &str) {
    MAX_DIFF.with(|m| m.set(m.get().max((got - want).abs())));
    assert!(
        (got - want).abs() <= TOL,
        "{what}: got {got}, want {want} (diff {})",
        (got - want).abs()
    );
}

fn assert_scores(got: &[f32], want: &Value, what: &str) {
    let want = f64s(want);
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert_close(g as f64, w, &format!("{what}[{i}]"));
    }
}

fn assert_prf(got: &HardScores, want: &Value, what: &str) {
    for (name, g) in [
        ("instance_micro", &got.instance_micro),
        ("instance_macro", &got.instance_macro),
    ] {
        assert_close(
            g.p,
            want[name]["p"].as_f64().unwrap(),
            &format!("{what}.{name}.p"),
        );
        assert_close(
            g.r,
            want[name]["r"].as_f64().unwrap(),
            &format!("{what}.{name}.r"),
        );
        assert_close(
            g.f1,
            want[name]["f1"].as_f64().unwrap(),
            &format!("{what}.{name}.f1"),
        );
    }
    assert_eq!(
        got.instances,
        usize_of(&want["instances"]),
        "{what}.instances"
    );
}

fn assert_iou(got: &[IouScores], want: &Value, what: &str) {
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_close(g.threshold, w["threshold"].as_f64().unwrap(), what);
        for (name, s) in [("micro", &g.micro), ("macro", &g.macro_)] {
            let ww = &w[name];
            let t = g.threshold;
            assert_close(
                s.p,
                ww["p"].as_f64().unwrap(),
                &format!("{what}@{t}.{name}.p"),
            );
            assert_close(
                s.r,
                ww["r"].as_f64().unwrap(),
                &format!("{what}@{t}.{name}.r"),
            );
            assert_close(
                s.f1,
                ww["f1"].as_f64().unwrap(),
                &format!("{what}@{t}.{name}.f1"),
            );
        }
    }
}

/// Per document: (docid, reference word scores).
fn check_word_aggregation(fx: &Value) -> Vec<(String, Vec<f32>, usize)> {
    let specials_owned = strs(&fx["special_tokens"]);
    let specials: Vec<&str> = specials_owned.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for d in fx["documents"].as_array().unwrap() {
        let docid = d["docid"].as_str().unwrap().to_string();
        let text = d["text"].as_str().unwrap();
        let pieces = strs(&d["pieces"]);
        let scores: Vec<f32> = f64s(&d["scores"]).iter().map(|&v| v as f32).collect();
        let offsets: Vec<(usize, usize)> = d["offsets_chars"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (usize_of(&o[0]), usize_of(&o[1])))
            .collect();
        let input = WordAggregationInput {
            text,
            pieces: &pieces,
            scores: &scores,
            offsets: Some(&offsets),
            offset_unit: OffsetUnit::Chars,
            special_tokens: &specials,
        };
        let r = word_scores(WordAlignment::Reference, &input).unwrap();
        let e = &d["expected_reference"];
        assert_scores(&r.scores, &e["scores"], &format!("{docid} reference"));
        assert_eq!(r.covered_words, usize_of(&e["covered_words"]), "{docid}");
        assert_eq!(r.total_words, usize_of(&e["total_words"]), "{docid}");
        let o = word_scores(WordAlignment::Offsets, &input).unwrap();
        let e = &d["expected_offsets"];
        assert_scores(&o.scores, &e["scores"], &format!("{docid} offsets"));
        assert_eq!(o.covered_words, usize_of(&e["covered_words"]), "{docid}");
        // top-k of the reference word scores
        for (k, want) in d["expected_top_k"].as_object().unwrap() {
            let k: usize = k.parse().unwrap();
            let spans = top_k_spans(&r.scores, k).unwrap();
            let got: Vec<usize> = spans.iter().map(|s| s.start_token).collect();
            let want: Vec<usize> = want.as_array().unwrap().iter().map(usize_of).collect();
            assert_eq!(got, want, "{docid} top-{k}");
            assert!(spans.iter().all(|s| s.end_token == s.start_token + 1));
        }
        out.push((docid, r.scores.clone(), r.total_words));
    }
    out
}

#[test]
fn word_aggregation_and_top_k_match_python() {
    let fx = fixture();
    let docs = check_word_aggregation(&fx);
    assert_eq!(docs.len(), 4);
    // the [UNK] document really is shifted under the reference alignment, the truncated one short
    let unk = &fx["documents"][1];
    assert_ne!(
        unk["expected_reference"]["scores"],
        unk["expected_offsets"]["scores"]
    );
    assert!(usize_of(&fx["documents"][2]["expected_reference"]["covered_words"]) < 16);
    report("word aggregation");
}

#[test]
fn hard_metrics_match_python() {
    let fx = fixture();
    let docs = check_word_aggregation(&fx);
    let annotations: Vec<Annotation> =
        serde_json::from_value(fx["annotations"].clone()).expect("annotations");
    let truth = truth_rationales(&annotations).unwrap();
    let thresholds = f64s(&fx["iou_thresholds"]);
    for k in fx["ks"].as_array().unwrap().iter().map(usize_of) {
        let results: Vec<EraserResult> = docs
            .iter()
            .map(|(docid, scores, _)| {
                EraserResult::hard_only(docid, docid, top_k_spans(scores, k).unwrap())
            })
            .collect();
        // through a JSONL round trip, as ERASER's scorer would read it
        let mut buf = Vec::new();
        faithbench_eval::rationales::write_results_jsonl(&mut buf, &results).unwrap();
        let results =
            faithbench_eval::rationales::read_results_jsonl(std::io::Cursor::new(buf)).unwrap();
        let m = score_hard(&annotations, &results, &thresholds).unwrap();
        let want = &fx["hard_top_k"][k.to_string()];
        assert_prf(&m.token_prf, &want["token_prf"], &format!("k={k} token"));
        assert_prf(
            &m.rationale_prf,
            &want["rationale_prf"],
            &format!("k={k} rationale"),
        );
        assert_iou(&m.iou_scores, &want["iou_scores"], &format!("k={k} iou"));
    }
    // multi-token spans with duplicates and a document without truth
    let sc = &fx["span_case"];
    let pred: Vec<Rationale> = sc["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Rationale {
            ann_id: p[0].as_str().unwrap().into(),
            docid: p[1].as_str().unwrap().into(),
            start_token: usize_of(&p[2]),
            end_token: usize_of(&p[3]),
        })
        .collect();
    assert_prf(
        &token_prf(&truth, &pred).unwrap(),
        &sc["token_prf"],
        "span token",
    );
    assert_prf(
        &rationale_prf(&truth, &pred).unwrap(),
        &sc["rationale_prf"],
        "span rationale",
    );
    assert_iou(
        &iou_scores(&truth, &pred, &thresholds),
        &sc["iou_scores"],
        "span iou",
    );
    report("hard metrics");
}

#[test]
fn soft_metrics_match_python() {
    let fx = fixture();
    let soft = &fx["soft"];
    let docs: Vec<PositionScoredDocument> =
        serde_json::from_value(soft["documents"].clone()).expect("documents");
    let s = score_soft_tokens(&docs).unwrap();
    assert_close(s.auprc, soft["auprc"].as_f64().unwrap(), "auprc");
    assert_close(
        s.average_precision.unwrap(),
        soft["average_precision"].as_f64().unwrap(),
        "average_precision",
    );
    assert_close(
        s.roc_auc_score.unwrap(),
        soft["roc_auc_score"].as_f64().unwrap(),
        "roc_auc",
    );
    assert_eq!(
        s.single_class_skipped,
        usize_of(&soft["single_class_skipped"])
    );
    for (d, e) in docs.iter().zip(soft["per_document"].as_array().unwrap()) {
        let a = faithbench_eval::eraser_metrics::auprc(&d.truths, &d.scores).unwrap();
        assert_close(
            a,
            e["auprc"].as_f64().unwrap(),
            &format!("{} auprc", d.docid),
        );
        if let Some(ap) = e.get("average_precision") {
            let got =
                faithbench_eval::eraser_metrics::average_precision(&d.truths, &d.scores).unwrap();
            assert_close(got, ap.as_f64().unwrap(), &format!("{} ap", d.docid));
            let got = faithbench_eval::eraser_metrics::roc_auc(&d.truths, &d.scores).unwrap();
            assert_close(
                got,
                e["roc_auc"].as_f64().unwrap(),
                &format!("{} roc", d.docid),
            );
        }
    }

    // The same documents built from results + annotations (soft predictions = padded word scores)
    let words = check_word_aggregation(&fx);
    let annotations: Vec<Annotation> =
        serde_json::from_value(fx["annotations"].clone()).expect("annotations");
    let mut lens = BTreeMap::new();
    let results: Vec<EraserResult> = words
        .iter()
        .map(|(docid, scores, n)| {
            lens.insert(docid.clone(), *n);
            let mut r = EraserResult::hard_only(docid, docid, Vec::<HardSpan>::new());
            r.rationales[0].soft_rationale_predictions = Some(soft_predictions(scores, *n));
            r
        })
        .collect();
    let built = position_scored_documents(&results, &annotations, &lens).unwrap();
    for (b, d) in built.iter().zip(&docs) {
        assert_eq!(b.truths, d.truths, "{}", b.docid);
        assert_eq!(b.scores.len(), d.scores.len());
        for (x, y) in b.scores.iter().zip(&d.scores) {
            assert_close(*x, *y, &b.docid);
        }
    }
    report("soft metrics");
}

#[test]
fn faithfulness_matches_python() {
    let fx = fixture();
    let f = &fx["faithfulness"];
    let thresholds = f64s(&f["aopc_thresholds"]);
    let instances: Vec<FaithfulnessInstance> = f["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| FaithfulnessInstance {
            full: f64s(&i["full"]),
            comprehensiveness: Some(f64s(&i["comprehensiveness"])),
            sufficiency: Some(f64s(&i["sufficiency"])),
            thresholded: i["thresholded"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| ThresholdedProbabilities {
                    threshold: t["threshold"].as_f64().unwrap(),
                    comprehensiveness: f64s(&t["comprehensiveness"]),
                    sufficiency: f64s(&t["sufficiency"]),
                })
                .collect(),
            recorded_class: None,
        })
        .collect();
    let s = score_faithfulness(&instances, PredictedClassRule::ArgmaxFull, &thresholds).unwrap();
    let e = &f["expected"];
    let pairs = [
        ("comprehensiveness", s.comprehensiveness),
        ("sufficiency", s.sufficiency),
        ("comprehensiveness_entropy", s.comprehensiveness_entropy),
        ("sufficiency_entropy", s.sufficiency_entropy),
        ("comprehensiveness_kl", s.comprehensiveness_kl),
        ("sufficiency_kl", s.sufficiency_kl),
        ("comprehensiveness_aopc", s.comprehensiveness_aopc),
        ("sufficiency_aopc", s.sufficiency_aopc),
    ];
    for (name, got) in pairs {
        assert_close(got.unwrap(), e[name].as_f64().unwrap(), name);
    }
    for (g, w) in s
        .comprehensiveness_aopc_points
        .iter()
        .zip(f64s(&e["comprehensiveness_aopc_points"]))
    {
        assert_close(*g, w, "comprehensiveness_aopc_points");
    }
    for (g, w) in s
        .sufficiency_aopc_points
        .iter()
        .zip(f64s(&e["sufficiency_aopc_points"]))
    {
        assert_close(*g, w, "sufficiency_aopc_points");
    }
    assert_eq!(s.aopc_thresholds, thresholds);
    report("faithfulness");
}
