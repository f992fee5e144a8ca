#!/usr/bin/env python3
"""PyTorch side of `faithbench bench`: times timm's ViT-B/16 and, when given a clone of the
paper's code, the reference model and explainers, on the CPU, with random weights.

    python scripts/bench_reference.py --out timings.json [--reference-repo PATH] [--reps 3]
                                      [--depth 12] [--threads N] [--skip-methods]

`faithbench bench` runs this script itself (with the Python of `--python` or
`$FAITHBENCH_PYTHON`); it can also be run by hand. It writes one JSON object (seconds per image,
minimum and median of `--reps` timed runs after one warm-up):

* `timm`: `vit_base_patch16_224` (fused attention, `F.scaled_dot_product_attention`): forward at
  batch 1 and 8 under `torch.inference_mode()`, and forward+backward at batch 1 (weights frozen,
  gradient of the explained logit with respect to the input image: a full backward pass through
  every block, like faithbench's "all attention gradients" pass, without weight gradients).
* `reference`: only with `--reference-repo`, the root of a user's clone of the paper's code
  (`jiaminchen-1031/transformerinterp`). Nothing of that code is copied here: the script puts
  `<repo>/ViT` and `<repo>/ViT/baselines/ViT` on `sys.path`, imports the clone's own
  `ViT_new`, `ViT_LRP` and `ViT_explanation_generator`, replaces `.cuda()` by the identity (the
  reference hard-codes it) and calls the generators the way the clone's
  `generate_visualizations.py` does (start layers 4 / 7 for ours / ours_c, 20 IG steps; 1 for
  rollout and transformer attribution; 2 for generic attribution). Without the flag the section
  says `"status": "absent"` and why.

Random weights: `pretrained=False` everywhere (timing does not depend on the values). The input is
a seeded N(0, 1) image that requires grad, as in the reference's visualisation script.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback


def timed(fn, reps):
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return {"min_s": min(ts), "median_s": statistics.median(ts), "runs_s": ts}


def per_image(entry, batch):
    out = dict(entry)
    out["batch"] = batch
    out["s_per_image"] = entry["min_s"] / batch
    return out


def bench_timm(torch, timm, reps, depth):
    torch.manual_seed(0)
    model = timm.create_model(
        "vit_base_patch16_224", pretrained=False, depth=depth, num_classes=1000
    ).eval()
    res = {"model": f"timm vit_base_patch16_224 (depth {depth})", "forward": []}
    for b in (1, 8):
        x = torch.randn(b, 3, 224, 224)

        def fwd():
            with torch.inference_mode():
                model(x)

        res["forward"].append(per_image(timed(fwd, reps), b))
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, 224, 224)

    def fwd_bwd():
        xi = x.clone().requires_grad_(True)
        y = model(xi)[0, 3]
        y.backward()

    res["forward_backward"] = [per_image(timed(fwd_bwd, reps), 1)]
    return res


def bench_reference(torch, repo, reps, depth, skip_methods):
    vit_dir = os.path.join(repo, "ViT")
    gen_dir = os.path.join(vit_dir, "baselines", "ViT")
    if not os.path.isfile(os.path.join(gen_dir, "ViT_explanation_generator.py")):
        return {
            "status": "absent",
            "reason": f"{gen_dir}/ViT_explanation_generator.py not found: "
            "--reference-repo must be the root of a clone of the paper's code",
        }
    sys.path.insert(0, gen_dir)
    sys.path.insert(0, vit_dir)
    # The reference calls .cuda() unconditionally; run it on the CPU.
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    try:
        import ViT_explanation_generator as gen  # noqa: E402  (the clone's module)
        import ViT_new
        import ViT_LRP
    except Exception as e:  # noqa: BLE001
        return {"status": "failed", "reason": f"importing the reference: {e!r}"}

    torch.manual_seed(0)
    # The reference's constructors fix depth=12; a shallower model keeps the first blocks.
    model = ViT_new.vit_base_patch16_224(pretrained=False).eval()
    model_lrp = ViT_LRP.vit_base_patch16_224(pretrained=False).eval()
    if depth < len(model.blocks):
        model.blocks = model.blocks[:depth]
        model_lrp.blocks = model_lrp.blocks[:depth]
    baselines = gen.Baselines(model)
    lrp = gen.LRP(model_lrp)
    x0 = torch.randn(1, 3, 224, 224)

    def data():
        return x0.clone().requires_grad_(True)

    res = {"status": "ran", "repo": os.path.abspath(repo), "depth": depth}

    def fwd():
        with torch.no_grad():
            model(x0)

    def fwd_bwd():
        out = model(data(), register_hook=True)
        out[0, 3].backward()

    res["forward"] = [per_image(timed(fwd, reps), 1)]
    res["forward_backward"] = [per_image(timed(fwd_bwd, reps), 1)]
    if skip_methods:
        return res
    last = depth
    methods = {
        # faithbench method name -> call of the clone's generator (as in its visualisation script)
        "raw_attention": lambda: baselines.generate_attn(data()),
        "rollout": lambda: baselines.generate_rollout(data(), start_layer=1),
        "attn_gradcam": lambda: baselines.generate_cam_attn(data(), index=3),
        "generic_attention": lambda: baselines.generate_genattr(
            data(), index=3, start_layer=min(2, last)
        ),
        "partial_lrp": lambda: lrp.generate_LRP(data(), method="last_layer", index=3),
        "transformer_attribution": lambda: lrp.generate_LRP(
            data(), start_layer=1, method="grad", index=3
        ),
        "ours_h": lambda: baselines.generate_ours(
            data(), index=3, steps=20, start_layer=min(4, last)
        ),
        "ours_t": lambda: baselines.generate_ours_c(
            data(), index=3, steps=20, start_layer=min(7, last)
        ),
    }
    res["explainers"] = {}
    for name, fn in methods.items():
        try:
            res["explainers"][name] = per_image(timed(fn, reps), 1)
        except Exception as e:  # noqa: BLE001
            res["explainers"][name] = {
                "error": repr(e),
                "traceback": traceback.format_exc(limit=3),
            }
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--reference-repo", help="root of a clone of the paper's code")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--depth", type=int, default=12, help="number of blocks (12 = ViT-B/16)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--skip-methods", action="store_true", help="reference: model timings only")
    args = ap.parse_args()

    result = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        result["status"] = "absent"
        result["reason"] = f"cannot import torch: {e!r}"
        write(args.out, result)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    result["torch"] = torch.__version__
    result["threads"] = torch.get_num_threads()
    result["status"] = "ran"
    try:
        import timm

        result["timm_version"] = timm.__version__
        result["timm"] = bench_timm(torch, timm, args.reps, args.depth)
        result["timm"]["status"] = "ran"
    except Exception as e:  # noqa: BLE001
        result["timm"] = {"status": "absent", "reason": f"timm: {e!r}"}
    if args.reference_repo:
        result["reference"] = bench_reference(
            torch, args.reference_repo, args.reps, args.depth, args.skip_methods
        )
    else:
        result["reference"] = {
            "status": "absent",
            "reason": "no --reference-repo given (path to a clone of the paper's code); "
            "timm only",
        }
    write(args.out, result)


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


if __name__ == "__main__":
    main()
