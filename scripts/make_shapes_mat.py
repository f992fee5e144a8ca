#!/usr/bin/env python3
"""Packs the faithbench-shapes segmentation split into the `gtsegs_ijcv.mat` layout.

Input (written by `faithbench synth`, i.e. faithbench_train::write_shapes_dataset):
  datasets/shapes/val/<class>/shapes_XXXXX.png  and  datasets/shapes/masks/shapes_XXXXX.png
Output:
  datasets/shapes/gtsegs_shapes.mat  — MATLAB v7.3 / HDF5 exactly as Guillaumin et al.'s file
  (512-byte MATLAB user block, /value/img and /value/gt (N,1) object references into /#refs#,
  images uint8 (3, W, H), masks behind a (1,1) reference cell, uint8 (W, H) in {0, 1}),
  holding samples 0..N-1 in index order, so segmentation id "00007" is shapes_00007.png.

Requires numpy, h5py, pillow. Run: python3 scripts/make_shapes_mat.py [N]   (default 100)
The .mat is committed; CI never runs this script.
"""
import glob
import os
import sys

import h5py
import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
from make_gtsegs_fixture import write_gtsegs_mat  # noqa: E402

DATA = os.path.join(ROOT, "datasets", "shapes")
OUT = os.path.join(DATA, "gtsegs_shapes.mat")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    by_name = {os.path.basename(p): p for p in glob.glob(os.path.join(DATA, "val", "*", "*.png"))}
    pairs = []
    for i in range(n):
        fname = f"shapes_{i:05d}.png"
        img = np.asarray(Image.open(by_name[fname]).convert("RGB"))
        mask = (np.asarray(Image.open(os.path.join(DATA, "masks", fname))) > 127).astype(np.uint8)
        pairs.append((img, mask))
    write_gtsegs_mat(OUT, pairs)
    with h5py.File(OUT, "r") as f:  # read back as the reference loader does
        assert len(f["/value/img"]) == n
        img = np.array(f[f["/value/img"][0, 0]]).transpose((2, 1, 0))
        assert img.shape == (64, 64, 3)
    print("wrote", OUT, os.path.getsize(OUT), "bytes,", n, "images")


if __name__ == "__main__":
    main()
