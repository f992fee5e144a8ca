//! Trains the shipped shapes CLIP: `cargo run --release -p faithbench-train --example
//! train_shapes_clip -- models/shapes_clip` (the recipe behind `models/shapes_clip`).

use faithbench_train::{train_shapes_clip, ShapesClipTrainConfig};

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "models/shapes_clip".into());
    let cfg = ShapesClipTrainConfig::shipped();
    match train_shapes_clip(&cfg, std::path::Path::new(&out), |l| {
        eprintln!(
            "step {:5}  loss {:.4}  lr {:.2e}  {:.0} s",
            l.step, l.loss, l.lr, l.seconds
        )
    }) {
        Ok(r) => println!(
            "zero-shot accuracy {:.4} on {} samples, exp(logit_scale) {:.2}, {:.0} s -> {out}",
            r.test_accuracy, r.test_samples, r.logit_scale, r.seconds
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
