//! The backward passes the attention gradients are built from, on the wgpu device against flex
//! (both f32) and a float64 flex reference: GELU, softmax, the attention-times-values product
//! and LayerNorm. Only with `--features wgpu` (scripts/gpu_check.sh runs it on the device named
//! by FAITHBENCH_TEST_DEVICE, a software adapter such as lavapipe when there is no GPU).
//!
//! It pins the bug behind the 1e-4–4e-4 wgpu map differences of docs/gpu.md: burn's default
//! `gelu_backward`, which the cubecl backends use, is the derivative of GELU's tanh
//! approximation (3.3e-4 relative off on this input); faithbench's `trace::gelu` composes the
//! exact GELU from `erf` on non-flex devices.
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::DType;
use faithbench_models::trace::gelu;

fn wgpu_device() -> Device {
    let name = std::env::var(faithbench_models::TEST_DEVICE_ENV)
        .ok()
        .filter(|n| n.starts_with("wgpu"))
        .unwrap_or_else(|| "wgpu-cpu".into());
    faithbench_models::device_by_name(&name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .autodiff()
}

/// Deterministic values in [−1, 1) (an LCG; no dependency on burn's random streams).
fn values(shape: &[usize], seed: u64, scale: f32) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * scale
        })
        .collect()
}

/// ∂/∂x Σ w ⊙ f(x) on `dev`, in f64 when `wide`.
fn gradient<const D: usize>(
    dev: &Device,
    shape: [usize; D],
    wide: bool,
    f: &dyn Fn(Tensor<D>) -> Tensor<D>,
) -> Vec<f64> {
    let make = |seed: u64, scale: f32| {
        let t = Tensor::<D>::from_data(TensorData::new(values(&shape, seed, scale), shape), dev);
        if wide {
            t.cast(DType::F64)
        } else {
            t
        }
    };
    let x = make(1, 3.0).require_grad();
    let w = make(2, 1.0);
    let grads = (f(x.clone()) * w).sum().backward();
    x.grad(&grads)
        .expect("gradient")
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64")
}

fn max_rel(a: &[f64], reference: &[f64]) -> f64 {
    let scale = reference.iter().fold(0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(reference)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

fn check<const D: usize>(name: &str, shape: [usize; D], f: &dyn Fn(Tensor<D>) -> Tensor<D>) {
    let flex = Device::flex().autodiff();
    let reference = gradient(&flex, shape, true, f);
    let on_flex = max_rel(&gradient(&flex, shape, false, f), &reference);
    let on_wgpu = max_rel(&gradient(&wgpu_device(), shape, false, f), &reference);
    eprintln!("{name}: flex {on_flex:.2e}, wgpu {on_wgpu:.2e} (relative to the f64 gradient)");
    assert!(on_flex < 1e-6, "{name}: flex gradient off by {on_flex:e}");
    assert!(on_wgpu < 2e-6, "{name}: wgpu gradient off by {on_wgpu:e}");
}

#[test]
fn wgpu_gelu_backward_is_the_erf_derivative() {
    check("gelu", [1, 197, 768], &|x| gelu(x));
}

#[test]
fn wgpu_softmax_attention_and_layer_norm_backward_match_f64() {
    check("softmax", [1, 4, 197, 197], &|x| softmax(x, 3));
    check("A·V", [1, 4, 197, 197], &|x| {
        let v = Tensor::<4>::from_data(
            TensorData::new(values(&[1, 4, 197, 64], 3, 1.0), [1, 4, 197, 64]),
            &x.device(),
        )
        .cast(x.dtype());
        let p = x.matmul(v);
        // Back to the input's shape so the weighting of `check` applies.
        let ones = Tensor::<4>::ones([1, 4, 64, 197], &p.device()).cast(p.dtype());
        p.matmul(ones)
    });
    // burn's LayerNorm module (the op the models call) in f32; its formula in f64.
    check("layer norm", [1, 197, 768], &|x| {
        if x.dtype() == DType::F64 {
            let mean = x.clone().mean_dim(2);
            let centred = x - mean;
            let var = centred.clone().powi_scalar(2).mean_dim(2);
            centred / var.add_scalar(1e-6).sqrt()
        } else {
            burn::nn::LayerNormConfig::new(768)
                .with_epsilon(1e-6)
                .init(&x.device())
                .forward(x)
        }
    });
}
