#!/usr/bin/env python3
"""faithbench's own float32-vs-float64 gap of the LRP methods, and what float64 costs.

Runs `faithbench explain` with `--precision f32` and `--precision f64` on the same inputs and
compares the token maps (max|f32 − f64| / max|f64|). The maps leave faithbench as float32 in
both runs, so the identity-free part of a mean-patch-rows transformer attribution (the map minus
1/(N−1), often below float32's resolution at 1/(N−1)) cannot be compared this way; for the
average-pooled ViT the whole map is compared. Models: the shipped shapes ViTs on 16
images of datasets/shapes, and a random-init 12-layer ViT-B/16 (timm's `vit_base_patch16_224`,
seed 0, saved as safetensors) on 2 uniform-noise images. Wall time per call is reported too (one
process per call: model load included; on the ViT-B/16 the explanation dominates).

Run from the repository root after `cargo build --release -p faithbench-cli`, with the reference
tooling (scripts/requirements.txt) for timm:
    python3 scripts/measure_faithbench_precision.py [--bin target/release/faithbench]
Writes results/lrp_precision/faithbench.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch
from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(REPO, "results", "lrp_precision", "faithbench.json")
METHODS = {
    "transformer_attribution": [],
    "transformer_attribution.start0": ["--param", "start_layer=0"],
    "partial_lrp": [],
}


def explain(binary, model_args, image, method, extra, precision, out):
    cmd = [binary, "explain", *model_args, "--image", image, "--method", method.split(".")[0], *extra,
           "--precision", precision, "--out", out]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    return np.load(os.path.join(out, method.split(".")[0] + ".npy")).astype(np.float64), dt


def measure(binary, model_args, images, tmp):
    res = {}
    for key, extra in METHODS.items():
        errs, t32, t64 = [], [], []
        for i, img in enumerate(images):
            a, da = explain(binary, model_args, img, key, extra, "f32", os.path.join(tmp, f"{key}-{i}-32"))
            b, db = explain(binary, model_args, img, key, extra, "f64", os.path.join(tmp, f"{key}-{i}-64"))
            errs.append(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)))
            t32.append(da)
            t64.append(db)
        res[key] = dict(max=float(f"{max(errs):.3g}"), median=float(f"{statistics.median(errs):.3g}"),
                        seconds_f32=float(f"{statistics.median(t32):.3g}"),
                        seconds_f64=float(f"{statistics.median(t64):.3g}"))
        print(key, res[key], flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "faithbench"))
    args = ap.parse_args()
    report = {}
    root = os.path.join(REPO, "datasets", "shapes", "val")
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs if f.endswith(".png"))
    images = files[:: max(1, len(files) // 16)][:16]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("shapes_vit_cls", "shapes_vit_gap"):
            print("==", name, flush=True)
            report[name] = dict(samples=len(images),
                                gaps=measure(args.bin, ["--model", os.path.join(REPO, "models", name)], images, tmp))
        import timm
        from safetensors.torch import save_file
        torch.manual_seed(0)
        vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=1000).eval()
        weights = os.path.join(tmp, "vit_b16_random.safetensors")
        save_file({k: v.detach().contiguous() for k, v in vit.state_dict().items()}, weights)
        rng = np.random.default_rng(0)
        noise = []
        for i in range(2):
            p = os.path.join(tmp, f"noise{i}.png")
            Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(p)
            noise.append(p)
        print("== vit_b16_random", flush=True)
        report["vit_b16_random"] = dict(
            samples=2, note="timm vit_base_patch16_224, random init (seed 0), uniform-noise images",
            gaps=measure(args.bin, ["--model", weights, "--preset", "vit_b16"], noise, tmp))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
