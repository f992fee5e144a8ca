//! Throughput benchmark (not a test): ViT-B/16-shaped model with random weights on the CPU
//! device. Measures forward and forward+backward images/s, explanations/s per method at batch 1
//! and 8, and Ours-H batched against one image at a time. Writes JSON to
//! `$FAITHBENCH_BENCH_OUT` (default `results/bench/cpu.json` under the workspace root).
//!
//! Run: `cargo bench -p faithbench-explain --bench throughput`
//! (`FAITHBENCH_BENCH_QUICK=1` uses a 4-layer model to smoke-test the harness).

use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use faithbench_explain::{ExplainBatch, MethodConfig};
use faithbench_models::vit::VitConfig;
use faithbench_models::{
    autodiff_device, Explainable, GradRequest, ModelInput, Objective, TraceOptions,
};

fn secs<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed().as_secs_f64(), out)
}

fn main() {
    let quick = std::env::var("FAITHBENCH_BENCH_QUICK").is_ok();
    let dev = autodiff_device();
    let mut cfg = VitConfig::vit_b16();
    if quick {
        cfg.depth = 4;
    }
    dev.seed(0);
    let model = cfg.init(&dev).no_grad();
    let image = |b: usize| {
        ModelInput::Image(Tensor::<4>::random(
            [b, 3, 224, 224],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &dev,
        ))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut results = serde_json::Map::new();
    results.insert(
        "model".into(),
        serde_json::json!(if quick {
            "vit_b16 (depth 4, quick)"
        } else {
            "vit_b16"
        }),
    );
    results.insert("threads".into(), serde_json::json!(threads));
    results.insert("device".into(), serde_json::json!("flex (CPU) + autodiff"));
    // Warm-up.
    let _ = model.logits(&image(1)).expect("forward");

    let mut rows = Vec::new();
    for b in [1usize, 8] {
        let x = image(b);
        let (t, _) = secs(|| model.logits(&x).expect("forward").into_data());
        rows.push(serde_json::json!({"what": "forward", "batch": b, "seconds": t, "images_per_s": b as f64 / t}));
        eprintln!("forward b={b}: {:.3} s, {:.2} img/s", t, b as f64 / t);
        let opts = TraceOptions {
            attn: false,
            z_vproj: false,
            grad: Some(GradRequest {
                targets: vec![0; b],
                objective: Objective::Logit,
                layers: (0..cfg.depth).collect(),
            }),
        };
        let (t, _) = secs(|| {
            model
                .trace(&x, &vec![1.0; b], &opts)
                .expect("trace")
                .logits
                .into_data()
        });
        rows.push(serde_json::json!({"what": "forward+backward (all attention gradients)", "batch": b, "seconds": t, "images_per_s": b as f64 / t}));
        eprintln!("fwd+bwd b={b}: {:.3} s, {:.2} img/s", t, b as f64 / t);
    }
    results.insert("model_throughput".into(), serde_json::Value::Array(rows));

    let methods = [
        ("raw_attention", r#"{"method":"raw_attention"}"#),
        ("rollout", r#"{"method":"rollout"}"#),
        ("attn_gradcam", r#"{"method":"attn_gradcam"}"#),
        ("generic_attention", r#"{"method":"generic_attention"}"#),
        ("partial_lrp", r#"{"method":"partial_lrp"}"#),
        (
            "transformer_attribution",
            r#"{"method":"transformer_attribution"}"#,
        ),
        ("ours_h (20 steps)", r#"{"method":"ours_h"}"#),
        ("ours_t (20 steps)", r#"{"method":"ours_t"}"#),
    ];
    let mut rows = Vec::new();
    for (name, json) in methods {
        let e = serde_json::from_str::<MethodConfig>(json)
            .expect("config")
            .build()
            .expect("build");
        for b in [1usize, 8] {
            let x = image(b);
            let ids: Vec<String> = (0..b).map(|i| i.to_string()).collect();
            let targets = vec![3usize; b];
            let (t, _) = secs(|| {
                e.explain(
                    &model,
                    &ExplainBatch {
                        input: &x,
                        targets: &targets,
                        ids: &ids,
                    },
                )
                .expect("explain")
            });
            eprintln!("{name} b={b}: {:.3} s, {:.3} expl/s", t, b as f64 / t);
            rows.push(serde_json::json!({"method": name, "batch": b, "seconds": t, "explanations_per_s": b as f64 / t}));
        }
    }
    results.insert("explainers".into(), serde_json::Value::Array(rows));

    // Ours-H: one batch of 8 against 8 single-image calls.
    let e = serde_json::from_str::<MethodConfig>(r#"{"method":"ours_h"}"#)
        .expect("config")
        .build()
        .expect("build");
    let x = image(8);
    let ids: Vec<String> = (0..8).map(|i| i.to_string()).collect();
    let targets = vec![3usize; 8];
    let (batched, _) = secs(|| {
        e.explain(
            &model,
            &ExplainBatch {
                input: &x,
                targets: &targets,
                ids: &ids,
            },
        )
        .expect("explain")
    });
    let (single, _) = secs(|| {
        for i in 0..8 {
            let xi = x.select_rows(&[i]);
            e.explain(
                &model,
                &ExplainBatch {
                    input: &xi,
                    targets: &targets[i..i + 1],
                    ids: &ids[i..i + 1],
                },
            )
            .expect("explain");
        }
    });
    eprintln!("ours_h 8 images: batched {batched:.2} s, one at a time {single:.2} s");
    results.insert(
        "ours_h_batched_vs_single".into(),
        serde_json::json!({"images": 8, "batched_s": batched, "one_at_a_time_s": single, "speedup": single / batched}),
    );

    let out = std::env::var("FAITHBENCH_BENCH_OUT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../results/bench/cpu.json").to_string()
    });
    if let Some(parent) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(results)).expect("json");
    std::fs::write(&out, text).expect("write benchmark JSON");
    eprintln!("wrote {out}");
}
