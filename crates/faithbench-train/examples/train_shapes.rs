//! Trains both shipped shapes ViTs. `cargo run --release -p faithbench-train --example train_shapes -- OUT_DIR [steps]`
fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "models".into()));
    let steps: Option<usize> = args.next().and_then(|s| s.parse().ok());
    for (pool, name) in [(faithbench_models::vit::Pool::Cls, "shapes_vit_cls"), (faithbench_models::vit::Pool::Avg, "shapes_vit_gap")] {
        let mut cfg = faithbench_train::ShapesTrainConfig::shipped(pool);
        if let Some(s) = steps {
            cfg.steps = s;
        }
        match faithbench_train::train_shapes_vit(&cfg, &out.join(name), |l| eprintln!("{name} step {} loss {:.4} lr {:.2e} {:.0}s", l.step, l.loss, l.lr, l.seconds)) {
            Ok(r) => eprintln!("{name}: test accuracy {:.4} on {} samples, {:.0} s", r.test_accuracy, r.test_samples, r.seconds),
            Err(e) => eprintln!("{name}: {e}"),
        }
    }
}
