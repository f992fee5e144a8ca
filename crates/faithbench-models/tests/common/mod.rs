//! Helpers shared by the parity and fused-forward tests.
#![allow(dead_code)] // each test binary uses its own subset

use burn::prelude::*;

/// A tensor's values as f32, row-major.
pub fn vec_of<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}

/// max |v|.
pub fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}

/// max |a − b| (the lengths must agree).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// max |a − b| relative to the largest magnitude of the reference `b`.
pub fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    max_abs_diff(a, b) / max_abs(b).max(1e-12)
}
