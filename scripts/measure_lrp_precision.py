#!/usr/bin/env python3
"""How far float32 moves the LRP methods from float64: the reference implementation of
scripts/fixtures/lrp_reference.py (Chefer's rules, written from docs/protocols.md §2.4) run in both
precisions on the shipped demo models and on a random 12-layer ViT-B/16-shaped model.

For each model and sample: transformer attribution (ViT: layers_ours, no row normalisation, from
layer 1 and from layer 0; BERT: layers_lrp, row-normalised, last layer) and partial LRP, as the
relative difference max|f32 − f64| / max|f64| per map (for mean-patch-rows maps, of the map minus
its identity term 1/(N−1)); reported as the maximum and median over samples.

Run from the repository root with the reference tooling (scripts/requirements.txt):
    python3 scripts/measure_lrp_precision.py
Writes results/lrp_precision/precision.json. CPU, deterministic (seed 0); ViT-B/16 takes minutes.
"""
import json
import os
import statistics
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fixtures"))
import lrp_reference as lr  # noqa: E402
import make_explainer_fixtures as mx  # noqa: E402

torch.set_num_threads(2)
REPO = os.path.abspath(os.path.join(HERE, ".."))
OUT = os.path.join(REPO, "results", "lrp_precision", "precision.json")


def shapes_images(cfg, count):
    root = os.path.join(REPO, "datasets", "shapes", "val")
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs if f.endswith(".png"))
    mean = torch.tensor(cfg["norm_mean"]).view(3, 1, 1)
    std = torch.tensor(cfg["norm_std"]).view(3, 1, 1)
    s = cfg["image_size"]
    out = []
    for f in files[:: max(1, len(files) // count)][:count]:
        im = Image.open(f).convert("RGB").resize((s, s), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1)
        out.append(((x - mean) / std)[None])
    return out


def vit_maps(sd, cfg, x, dtype, start_layers):
    m = lr.TimmViT(sd, cfg, "ours", dtype)
    fwd = lambda a: m.forward(x.to(dtype), a)
    logits = fwd(1.0)
    c = int(logits.argmax())
    S = mx.clean_pass(m, fwd, c, "logit")
    S["cam"] = {"layers_ours": mx.lrp_pass(m, fwd, c, cfg["num_classes"])["cam"]}
    ro = "cls_row" if cfg["pool"] == "cls" else "mean_patch_rows"
    n = S["A"][0].shape[-1]
    out = {}
    for s in start_layers:
        t = mx.compute(dict(method="transformer_attribution", rules="layers_ours", start_layer=s,
                            row_normalise=False), S, ro, "ta")
        out[f"transformer_attribution.start{s}"] = t - 1.0 / (n - 1) if ro == "mean_patch_rows" else t
    out["partial_lrp"] = mx.compute(dict(method="partial_lrp", rules="layers_ours"), S, ro, "plrp")
    return out


def bert_maps(sd, cfg, ids, dtype):
    m = lr.HFBert(sd, cfg, "lrp", dtype)
    tt = torch.zeros_like(ids)
    fwd = lambda a: m.forward(ids, tt, a)
    logits = fwd(1.0)
    c = int(logits.argmax())
    S = mx.clean_pass(m, fwd, c, "logit")
    S["cam"] = {"layers_lrp": mx.lrp_pass(m, fwd, c, cfg["num_classes"])["cam"]}
    L = cfg["depth"]
    return {
        "transformer_attribution.last_layer": mx.compute(dict(method="transformer_attribution", rules="layers_lrp",
                                                              start_layer=L - 1, row_normalise=True), S,
                                                         "bert_cls_row", "ta"),
        "partial_lrp": mx.compute(dict(method="partial_lrp", rules="layers_lrp"), S, "bert_cls_row", "plrp"),
    }


def gaps(per_sample):
    keys = per_sample[0][0].keys()
    res = {}
    for k in keys:
        errs = [mx.relerr(m32[k], m64[k]) for m32, m64 in per_sample]
        res[k] = dict(max=float(f"{max(errs):.3g}"), median=float(f"{statistics.median(errs):.3g}"))
    return res


def main():
    report = {}
    for name in ("shapes_vit_cls", "shapes_vit_gap"):
        d = os.path.join(REPO, "models", name)
        cfg = json.load(open(os.path.join(d, "faithbench.json")))
        sd = load_file(os.path.join(d, "model.safetensors"))
        xs = shapes_images(cfg, 16)
        per = [(vit_maps(sd, cfg, x, torch.float32, (0, 1)), vit_maps(sd, cfg, x, torch.float64, (0, 1))) for x in xs]
        report[name] = dict(samples=len(xs), layers=cfg["depth"], gaps=gaps(per))
        print(name, json.dumps(report[name]))

    d = os.path.join(REPO, "models", "planted_bert")
    cfg = json.load(open(os.path.join(d, "faithbench.json")))
    sd = load_file(os.path.join(d, "model.safetensors"))
    vocab = {w: i for i, w in enumerate(open(os.path.join(d, "vocab.txt")).read().split("\n"))}
    docs = os.path.join(REPO, "datasets", "planted", "docs")
    per = []
    for f in sorted(os.listdir(docs))[:16]:
        words = open(os.path.join(docs, f)).read().split()
        ids = [vocab["[CLS]"]] + [vocab.get(w, vocab["[UNK]"]) for w in words][: cfg["max_position"] - 2] + [vocab["[SEP]"]]
        ids = torch.tensor(ids)
        per.append((bert_maps(sd, cfg, ids, torch.float32), bert_maps(sd, cfg, ids, torch.float64)))
    report["planted_bert"] = dict(samples=len(per), layers=cfg["depth"], gaps=gaps(per))
    print("planted_bert", json.dumps(report["planted_bert"]))

    import timm
    torch.manual_seed(0)
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=1000).eval()
    sd = {k: v.detach() for k, v in vit.state_dict().items()}
    cfg = dict(hidden=768, heads=12, depth=12, ln_eps=1e-6, pool="cls", patch_size=16, image_size=224,
               num_classes=1000)
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(1, 3, 224, 224, generator=g) for _ in range(2)]
    per = [(vit_maps(sd, cfg, x, torch.float32, (0, 1)), vit_maps(sd, cfg, x, torch.float64, (0, 1))) for x in xs]
    report["vit_b16_random"] = dict(samples=len(xs), layers=12, gaps=gaps(per),
                                    note="timm vit_base_patch16_224, random init (seed 0), N(0, 1) inputs")
    print("vit_b16_random", json.dumps(report["vit_b16_random"]))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
