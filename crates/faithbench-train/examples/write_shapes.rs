//! Writes the faithbench-shapes evaluation split. `cargo run --release -p faithbench-train --example write_shapes -- OUT_DIR [N]`
fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "datasets/shapes".into()));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(250);
    if let Err(e) = faithbench_train::write_shapes_dataset(&out, n) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
