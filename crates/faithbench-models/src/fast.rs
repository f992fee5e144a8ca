//! A fused f32 inference forward for pre-LN transformers on burn's flex CPU device, computed on
//! the weights burn holds without copying them: the logits of a plain forward, and the blocks
//! of a trace that no returned gradient flows through (with the attention probabilities, block
//! inputs and `v·W_Oᵀ` the trace records of them).
//!
//! Why it exists (docs/speed.md): burn's op-by-op forward allocates and zeroes a buffer for
//! every op, adds biases and residuals in separate single-threaded passes, runs GELU on one
//! thread and lets the `gemm` crate split every matmul across threads itself, which on two
//! cores reaches about 1.5× one core. Here each Linear is split into column tiles that the
//! rayon workers compute with single-threaded `gemm` calls (≈1.9× one core), the bias, the
//! GELU and the residual are applied to a tile while it is still in cache, the attention heads
//! run in parallel with one scratch score matrix each, and LayerNorm, softmax and GELU are
//! vectorised loops compiled for AVX-512 / AVX2 when the CPU has them (runtime detection).
//!
//! The values are those of the op-by-op forward up to float rounding (a different summation
//! order in the matmuls and LayerNorm, and [`gelu`]'s approximation of Φ, whose relative error
//! is below 6e-7 — 1e-6 below x = −2, where the erf form PyTorch and burn evaluate loses most
//! digits to cancellation): `tests/fast_forward.rs` compares the two on random models and
//! against timm's logits. It is used by [`crate::trace::Explainable::logits`] of the ViT and by
//! its `trace` for every block before the first probed one, when the model is on the flex
//! device (with or without autodiff) in f32; anything else (another device, f64, probed blocks,
//! the LRP model) keeps burn's ops. [`without_fused_kernels`] switches it off per thread.

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use crate::trace::{is_flex, Explainable, LayerTrace};
use crate::vit::{FcNormOrder, Pool, VisionTransformer};

thread_local! {
    static DISABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the fused kernels switched off on the calling thread: every ViT forward and
/// trace inside `f` is burn's op-by-op computation. For comparisons — the tests of the fused
/// path, `faithbench bench`'s burn-ops rows — not for production use.
pub fn without_fused_kernels<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DISABLED.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DISABLED.with(|d| d.replace(true)));
    f()
}

/// Whether the fused kernels may run on this thread (see [`without_fused_kernels`]).
fn enabled() -> bool {
    !DISABLED.with(|d| d.get())
}

/// A contiguous f32 view of a tensor on the flex device: the tensor's own storage, not a copy.
pub(crate) struct F32View {
    tensor: FlexTensor,
    offset: usize,
    len: usize,
}

impl F32View {
    /// The view of `t`, or `None` when it is not an f32 tensor on the flex device. A strided
    /// (non-contiguous) tensor is copied into a contiguous one first.
    pub(crate) fn of<const D: usize>(t: Tensor<D>) -> Option<F32View> {
        let t = t.inner();
        if t.dtype() != DType::F32 {
            return None;
        }
        let len = t.shape().num_elements();
        let prim = t.clone().try_into_primitive::<Flex>().ok()?;
        if prim.layout().is_contiguous() {
            let offset = prim.layout().start_offset();
            return Some(F32View {
                tensor: prim,
                offset,
                len,
            });
        }
        // A permuted or sliced tensor: materialise it on the flex device.
        let data = t.into_data();
        let prim = Tensor::<D>::from_data(data, &Device::flex())
            .try_into_primitive::<Flex>()
            .ok()?;
        Some(F32View {
            tensor: prim,
            offset: 0,
            len,
        })
    }

    /// The values in row-major order.
    pub(crate) fn as_slice(&self) -> &[f32] {
        &self.tensor.storage::<f32>()[self.offset..self.offset + self.len]
    }
}

/// A Linear's weight (in × out, row-major, as burn stores it) and optional bias.
pub(crate) struct LinearView {
    w: F32View,
    b: Option<F32View>,
    /// Input size.
    pub(crate) k: usize,
    /// Output size.
    pub(crate) n: usize,
}

impl LinearView {
    /// The weight alone (`x·W`, no bias).
    pub(crate) fn weight_of(lin: &Linear) -> Option<LinearView> {
        let [k, n] = lin.weight.dims();
        Some(LinearView {
            w: F32View::of(lin.weight.val())?,
            b: None,
            k,
            n,
        })
    }

    pub(crate) fn of(lin: &Linear) -> Option<LinearView> {
        let [k, n] = lin.weight.dims();
        Some(LinearView {
            w: F32View::of(lin.weight.val())?,
            b: match &lin.bias {
                Some(b) => Some(F32View::of(b.val())?),
                None => None,
            },
            k,
            n,
        })
    }
}

/// A LayerNorm's γ and optional β.
pub(crate) struct NormView {
    gamma: F32View,
    beta: Option<F32View>,
    eps: f32,
}

impl NormView {
    pub(crate) fn of(ln: &LayerNorm, eps: f64) -> Option<NormView> {
        Some(NormView {
            gamma: F32View::of(ln.gamma.val())?,
            beta: match &ln.beta {
                Some(b) => Some(F32View::of(b.val())?),
                None => None,
            },
            eps: eps as f32,
        })
    }
}

/// What is applied to a Linear's output tile after the bias.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Epilogue {
    /// `out = x·W + b`.
    Store,
    /// `out = gelu(x·W + b)` (exact, erf GELU).
    Gelu,
    /// `out += x·W + b` (a residual connection).
    Accumulate,
}

/// A raw pointer that may cross threads; every use writes a disjoint region.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// Below this many multiply-adds a matmul runs on the calling thread.
const SERIAL_MACS: usize = 1 << 21;

/// `dst ⟵ [dst +] beta · lhs · rhs` on the calling thread (`gemm` without parallelism): `dst`
/// (m × n) and `lhs` (m × k) are row-major with the given row strides, `rhs` (k × n) has element
/// (i, j) at `rhs + i·rhs_rs + j·rhs_cs`.
///
/// # Safety
/// Every strided element must lie inside a live allocation, and `dst` must not overlap the
/// inputs or be written by another thread meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_serial(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: isize,
    rhs: *const f32,
    rhs_cs: isize,
    rhs_rs: isize,
    beta: f32,
) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            lhs,
            1,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            1.0f32,
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `out (m × n) ⟵ epilogue(x (m × k) · W + b)`, all row-major. The work is split into tiles of
/// whole columns (and, when there are few columns, of rows), one single-threaded `gemm` call
/// per tile on the rayon workers; the bias and the epilogue are applied to each tile right
/// after its product.
pub(crate) fn linear(x: &[f32], m: usize, lin: &LinearView, out: &mut [f32], epi: Epilogue) {
    let (k, n) = (lin.k, lin.n);
    assert_eq!(x.len(), m * k, "linear: input size");
    assert_eq!(out.len(), m * n, "linear: output size");
    let w = lin.w.as_slice();
    let bias = lin.b.as_ref().map(F32View::as_slice);
    let threads = rayon::current_num_threads().max(1);
    let (row_tiles, col_tiles) = if m * n * k < SERIAL_MACS || threads == 1 {
        (1, 1)
    } else {
        // Two tiles per thread, columns first (the packed weight panel is then not shared),
        // at least 48 columns and 64 rows a tile.
        let want = 2 * threads;
        let cols = want.min(n.div_ceil(48)).max(1);
        let rows = want.div_ceil(cols).min(m.div_ceil(64)).max(1);
        (rows, cols)
    };
    let col_w = n.div_ceil(col_tiles).next_multiple_of(16).min(n);
    let row_h = m.div_ceil(row_tiles);
    let dst = SendPtr(out.as_mut_ptr());
    let tile = |t: usize| {
        let (ri, ci) = (t / col_tiles, t % col_tiles);
        let (r0, c0) = (ri * row_h, ci * col_w);
        if r0 >= m || c0 >= n {
            return;
        }
        let (mh, nw) = (row_h.min(m - r0), col_w.min(n - c0));
        // Capture the Send wrapper, not its raw field (closures capture fields disjointly).
        #[allow(clippy::redundant_locals)]
        let dst = dst;
        // SAFETY: tiles are disjoint blocks of `out`; `x` and `w` are only read; the strides
        // describe row-major matrices inside the slices checked above.
        unsafe {
            let d = dst.0.add(r0 * n + c0);
            gemm_serial(
                mh,
                nw,
                k,
                d,
                n as isize,
                epi == Epilogue::Accumulate,
                x.as_ptr().add(r0 * k),
                k as isize,
                w.as_ptr().add(c0),
                1,
                n as isize,
                1.0f32,
            );
            for r in 0..mh {
                let row = std::slice::from_raw_parts_mut(d.add(r * n), nw);
                epilogue_row(row, bias.map(|b| &b[c0..c0 + nw]), epi);
            }
        }
    };
    let tiles = row_tiles * col_tiles;
    if tiles == 1 {
        tile(0);
    } else {
        (0..tiles).into_par_iter().for_each(tile);
    }
}

/// Bias and activation on one output row (the accumulation already happened in `gemm`).
fn epilogue_row(row: &mut [f32], bias: Option<&[f32]>, epi: Epilogue) {
    if let Some(b) = bias {
        dispatch_add(row, b);
    }
    if epi == Epilogue::Gelu {
        gelu(row);
    }
}

#[inline(always)]
fn add_body(row: &mut [f32], b: &[f32]) {
    for (v, b) in row.iter_mut().zip(b) {
        *v += b;
    }
}

/// Row-wise LayerNorm of `x` (rows of `d`) into `out`: `(x − μ) / √(σ² + ε) · γ + β` with the
/// biased variance, both moments accumulated in f64.
pub(crate) fn layer_norm(x: &[f32], d: usize, ln: &NormView, out: &mut [f32]) {
    let gamma = ln.gamma.as_slice();
    let beta = ln.beta.as_ref().map(F32View::as_slice);
    let eps = ln.eps as f64;
    let row = |(o, x): (&mut [f32], &[f32])| {
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = x
            .iter()
            .map(|&v| {
                let c = v as f64 - mean;
                c * c
            })
            .sum::<f64>()
            / d as f64;
        let inv = (1.0 / (var + eps).sqrt()) as f32;
        let mean = mean as f32;
        match beta {
            Some(b) => {
                for ((o, &x), (&g, &b)) in o.iter_mut().zip(x).zip(gamma.iter().zip(b)) {
                    *o = (x - mean) * inv * g + b;
                }
            }
            None => {
                for ((o, &x), &g) in o.iter_mut().zip(x).zip(gamma) {
                    *o = (x - mean) * inv * g;
                }
            }
        }
    };
    if x.len() < 1 << 14 {
        out.chunks_mut(d).zip(x.chunks(d)).for_each(row);
    } else {
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .with_min_len(8)
            .for_each(row);
    }
}

/// Multi-head self-attention of packed `qkv` rows (B·N × 3D: queries, keys, values, heads
/// side by side) into `out` (B·N × D, heads side by side): per (sample, head) the scores
/// `q·kᵀ/√d_h`, a row softmax, and the product with the values. Heads run in parallel, each
/// with its own score matrix.
/// With `probs` (B × H × N × N), the softmax probabilities are written there (as the recorded
/// attention maps) instead of into a scratch matrix.
pub(crate) fn attention(
    qkv: &[f32],
    b: usize,
    n: usize,
    d: usize,
    heads: usize,
    out: &mut [f32],
    probs: Option<&mut [f32]>,
) {
    let hd = d / heads;
    assert_eq!(qkv.len(), b * n * 3 * d, "attention: qkv size");
    assert_eq!(out.len(), b * n * d, "attention: output size");
    let scale = (hd as f64).powf(-0.5) as f32;
    let dst = SendPtr(out.as_mut_ptr());
    let probs = probs.map(|p| {
        assert_eq!(p.len(), b * heads * n * n, "attention: probabilities size");
        SendPtr(p.as_mut_ptr())
    });
    let job = |scratch: &mut Vec<f32>, j: usize| {
        let (s, h) = (j / heads, j % heads);
        // Capture the Send wrapper, not its raw field (closures capture fields disjointly).
        #[allow(clippy::redundant_locals)]
        let dst = dst;
        let scores: &mut [f32] = match probs {
            // SAFETY: job j owns the j-th n × n block of `probs`.
            Some(p) => unsafe { std::slice::from_raw_parts_mut(p.0.add(j * n * n), n * n) },
            None => {
                scratch.resize(n * n, 0.0);
                &mut scratch[..]
            }
        };
        let base = s * n * 3 * d;
        // SAFETY: each job writes the columns h·hd..(h+1)·hd of sample s's rows of `out`,
        // disjoint from every other job; the read strides stay inside `qkv`.
        unsafe {
            let q = qkv.as_ptr().add(base + h * hd);
            let kt = qkv.as_ptr().add(base + d + h * hd);
            let v = qkv.as_ptr().add(base + 2 * d + h * hd);
            // scores (n × n) = scale · q (n × hd, row stride 3d) · kᵀ (hd × n: kᵀ[c][j] = k[j][c])
            gemm_serial(
                n,
                n,
                hd,
                scores.as_mut_ptr(),
                n as isize,
                false,
                q,
                3 * d as isize,
                kt,
                3 * d as isize,
                1,
                scale,
            );
            for row in scores.chunks_mut(n) {
                softmax(row);
            }
            gemm_serial(
                n,
                hd,
                n,
                dst.0.add(s * n * d + h * hd),
                d as isize,
                false,
                scores.as_ptr(),
                n as isize,
                v,
                1,
                3 * d as isize,
                1.0f32,
            );
        }
    };
    if b * heads == 1 || b * heads * n * n * hd < SERIAL_MACS {
        let mut scratch = Vec::new();
        (0..b * heads).for_each(|j| job(&mut scratch, j));
    } else {
        (0..b * heads)
            .into_par_iter()
            .for_each_init(Vec::new, |scratch, j| job(scratch, j));
    }
}

/// In-place softmax of one row (max-subtracted).
pub(crate) fn softmax(row: &mut [f32]) {
    dispatch_softmax(row)
}

/// In-place exact GELU, `x · Φ(x)`, of a slice.
pub(crate) fn gelu(v: &mut [f32]) {
    dispatch_gelu(v)
}

/// The token stream (B, N, D) after the embedding and the first `upto` blocks, as a tensor on
/// the model's device outside any autodiff graph (the input of block `upto` in
/// [`VisionTransformer`]'s trace), and the [`LayerTrace`] of each of those blocks: the attention
/// probabilities when `record_attn`, the block input and `v·W_Oᵀ` when `record_z_vproj` (on the
/// device without autodiff, as the trace records them), no gradient. `None` as for
/// [`vit_logits`].
pub(crate) fn vit_prefix(
    model: &VisionTransformer,
    img: &Tensor<4>,
    upto: usize,
    record_attn: bool,
    record_z_vproj: bool,
) -> Option<(Tensor<3>, Vec<LayerTrace>)> {
    let record = Record {
        attn: record_attn,
        z_vproj: record_z_vproj,
    };
    let (x, b, n, recs) = vit_hidden(model, img, upto, record)?;
    let (d, heads) = (model.config.hidden, model.config.heads);
    let device = model.device();
    let plain = device.clone().inner();
    let layers = recs
        .into_iter()
        .map(|r| LayerTrace {
            attn: r
                .attn
                .map(|a| Tensor::from_data(TensorData::new(a, [b, heads, n, n]), &plain)),
            grad: None,
            z: r.z
                .map(|z| Tensor::from_data(TensorData::new(z, [b, n, d]), &plain)),
            vproj: r
                .vproj
                .map(|v| Tensor::from_data(TensorData::new(v, [b, n, d]), &plain)),
        })
        .collect();
    let x = Tensor::from_data(TensorData::new(x, [b, n, d]), &device);
    Some((x, layers))
}

/// Which per-layer tensors [`vit_hidden`] keeps.
#[derive(Clone, Copy, Default)]
struct Record {
    attn: bool,
    z_vproj: bool,
}

/// One fused block's recorded tensors, flat.
struct BlockRecord {
    attn: Option<Vec<f32>>,
    z: Option<Vec<f32>>,
    vproj: Option<Vec<f32>>,
}

/// The embedding and blocks `0..upto` on flat buffers: (tokens row-major, B, N).
fn vit_hidden(
    model: &VisionTransformer,
    img: &Tensor<4>,
    upto: usize,
    record: Record,
) -> Option<(Vec<f32>, usize, usize, Vec<BlockRecord>)> {
    let device = model.device();
    if !enabled() || !is_flex(&device) {
        return None;
    }
    let cfg = &model.config;
    let eps = cfg.ln_eps;
    let [b, c, s, _] = img.dims();
    let image = F32View::of(img.clone())?;
    let image = image.as_slice();
    let p = cfg.patch_size;
    let g = s / p;
    let np = g * g;
    let n = np + 1;
    let d = cfg.hidden;
    let rows = b * n;

    // Patches in (channel, row, column) order, as the patch embedding's Linear reads them.
    let kp = c * p * p;
    let mut patches = vec![0f32; b * np * kp];
    patches
        .par_chunks_mut(kp)
        .enumerate()
        .with_min_len(16)
        .for_each(|(i, row)| {
            let (bi, pi) = (i / np, i % np);
            let (gy, gx) = (pi / g, pi % g);
            for ch in 0..c {
                for py in 0..p {
                    let src = ((bi * c + ch) * s + gy * p + py) * s + gx * p;
                    let dst = (ch * p + py) * p;
                    row[dst..dst + p].copy_from_slice(&image[src..src + p]);
                }
            }
        });
    let mut emb = vec![0f32; b * np * d];
    linear(
        &patches,
        b * np,
        &LinearView::of(&model.patch_embed.proj)?,
        &mut emb,
        Epilogue::Store,
    );
    drop(patches);
    let cls = F32View::of(model.cls_token.val())?;
    let pos = F32View::of(model.pos_embed.val())?;
    let (cls, pos) = (cls.as_slice(), pos.as_slice());
    let mut x = vec![0f32; rows * d];
    for bi in 0..b {
        let out = &mut x[bi * n * d..(bi + 1) * n * d];
        for (o, (&c, &p)) in out[..d].iter_mut().zip(cls.iter().zip(&pos[..d])) {
            *o = c + p;
        }
        let src = &emb[bi * np * d..(bi + 1) * np * d];
        for (o, (&e, &p)) in out[d..].iter_mut().zip(src.iter().zip(&pos[d..])) {
            *o = e + p;
        }
    }
    drop(emb);

    let mut h = vec![0f32; rows * d];
    let mut qkv = vec![0f32; rows * 3 * d];
    let mut att = vec![0f32; rows * d];
    let mut mlp = vec![0f32; rows * cfg.mlp_hidden];
    let mut records = Vec::new();
    for blk in &model.blocks[..upto.min(model.blocks.len())] {
        let heads = blk.attn.num_heads;
        let z = record.z_vproj.then(|| x.clone());
        layer_norm(&x, d, &NormView::of(&blk.norm1, eps)?, &mut h);
        linear(
            &h,
            rows,
            &LinearView::of(&blk.attn.qkv)?,
            &mut qkv,
            Epilogue::Store,
        );
        let mut probs = record.attn.then(|| vec![0f32; b * heads * n * n]);
        attention(&qkv, b, n, d, heads, &mut att, probs.as_deref_mut());
        let vproj = match record.z_vproj {
            true => {
                // v·W_Oᵀ without the bias, of the values (the last third of every qkv row).
                let v: Vec<f32> = qkv
                    .chunks(3 * d)
                    .flat_map(|row| row[2 * d..].iter().copied())
                    .collect();
                let mut out = vec![0f32; rows * d];
                linear(
                    &v,
                    rows,
                    &LinearView::weight_of(&blk.attn.proj)?,
                    &mut out,
                    Epilogue::Store,
                );
                Some(out)
            }
            false => None,
        };
        records.push(BlockRecord {
            attn: probs,
            z,
            vproj,
        });
        let proj = LinearView::of(&blk.attn.proj)?;
        linear(&att, rows, &proj, &mut x, Epilogue::Accumulate);
        layer_norm(&x, d, &NormView::of(&blk.norm2, eps)?, &mut h);
        linear(
            &h,
            rows,
            &LinearView::of(&blk.mlp.fc1)?,
            &mut mlp,
            Epilogue::Gelu,
        );
        linear(
            &mlp,
            rows,
            &LinearView::of(&blk.mlp.fc2)?,
            &mut x,
            Epilogue::Accumulate,
        );
    }
    Some((x, b, n, records))
}

/// The logits of a plain ViT forward on normalised images `img` (B, 3, S, S), computed with
/// the kernels above on the model's own weights; `None` when the model or the image is not
/// f32 on the flex device (the caller then runs burn's forward). The result is a new tensor
/// on the model's device, outside any autodiff graph.
pub(crate) fn vit_logits(model: &VisionTransformer, img: &Tensor<4>) -> Option<Tensor<2>> {
    let (x, b, n, _) = vit_hidden(model, img, model.blocks.len(), Record::default())?;
    let cfg = &model.config;
    let eps = cfg.ln_eps;
    let d = cfg.hidden;
    let rows = b * n;
    let mut h = vec![0f32; rows * d];
    // Pooling and head, in the order of `VisionTransformer::head_forward`.
    let mean_patches = |tokens: &[f32]| -> Vec<f32> {
        let mut pooled = vec![0f32; b * d];
        for bi in 0..b {
            for (j, o) in pooled[bi * d..(bi + 1) * d].iter_mut().enumerate() {
                let sum: f64 = (1..n).map(|t| tokens[(bi * n + t) * d + j] as f64).sum();
                *o = (sum / (n - 1) as f64) as f32;
            }
        }
        pooled
    };
    let tokens = match &model.norm {
        Some(norm) => {
            layer_norm(&x, d, &NormView::of(norm, eps)?, &mut h);
            &h
        }
        None => &x,
    };
    let pooled = match (cfg.fc_norm_order, &model.fc_norm) {
        (FcNormOrder::NormThenPool, Some(f)) => {
            let mut normed = vec![0f32; rows * d];
            layer_norm(tokens, d, &NormView::of(f, eps)?, &mut normed);
            mean_patches(&normed)
        }
        _ => {
            let pooled = match cfg.pool {
                Pool::Cls => (0..b)
                    .flat_map(|bi| tokens[bi * n * d..bi * n * d + d].iter().copied())
                    .collect(),
                Pool::Avg => mean_patches(tokens),
            };
            match &model.fc_norm {
                Some(f) => {
                    let mut normed = vec![0f32; b * d];
                    layer_norm(&pooled, d, &NormView::of(f, eps)?, &mut normed);
                    normed
                }
                None => pooled,
            }
        }
    };
    let head = LinearView::of(&model.head)?;
    let mut logits = vec![0f32; b * head.n];
    linear(&pooled, b, &head, &mut logits, Epilogue::Store);
    Some(Tensor::from_data(
        TensorData::new(logits, [b, head.n]),
        &model.device(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Vectorisable element-wise kernels. The bodies are plain branch-free loops; the wrappers
// compile them for AVX-512 or AVX2+FMA when the CPU has them (detected at run time) so that
// LLVM vectorises them with 16 or 8 lanes.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split into a part exact in f32 and the remainder (Cody–Waite reduction).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 · 2²³: adding it rounds an f32 of magnitude < 2²² to an integer in the low mantissa.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// e^x for x in f32's range, relative error below 2 ulp: x = n·ln 2 + r with |r| ≤ ln 2 / 2,
/// e^r by its Taylor polynomial of degree 7 (remainder < 6e-9), times 2ⁿ built in the exponent
/// bits. Inputs below −87.3 give 2⁻¹²⁶·e^r-sized values, not denormals; the callers only pass
/// arguments ≤ 0 whose results that small do not matter.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    let m = x * LOG2E + ROUND_MAGIC;
    let n = m - ROUND_MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Horner form of Σ_{k≤7} r^k / k!.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let ni = (m.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let scale = f32::from_bits(((ni + 127) << 23) as u32);
    p * scale
}

/// Lanes of the partial maxima and sums in [`softmax_body`]: f32 reductions are not
/// reassociated by the compiler, so the vector width is spelled out.
const LANES: usize = 16;

#[inline(always)]
fn softmax_body(row: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    let mut mx = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for &m in &lanes {
        mx = if m > mx { m } else { mx };
    }
    for v in row.iter_mut() {
        *v = exp_approx(*v - mx);
    }
    let mut sums = [0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &v) in sums.iter_mut().zip(c) {
            *s += v;
        }
    }
    let sum = sums.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// `x · Φ(x)` with Φ(x) = 1 − erfc(x/√2)/2 for x ≥ 0 and erfc(−x/√2)/2 below, so that the
/// negative tail keeps its relative precision. erfc(u) = t·exp(−u² + P(t)), t = 1/(1 + u/2):
/// the Chebyshev-fitted approximation of Press et al., *Numerical Recipes* (2nd ed., §6.2,
/// `erfcc`), fractional error below 1.2e-7 for every u ≥ 0.
#[inline(always)]
#[allow(clippy::excessive_precision)] // the coefficients as published
fn gelu_one(x: f32) -> f32 {
    let u = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * u);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    // −u² = −x²/2, with the rounding error of x² (exact through the FMA) put back as a factor
    // e^{−lo/2} ≈ 1 − lo/2, so that the tail keeps its precision where u² is large.
    let sq = x * x;
    let lo = x.mul_add(x, -sq);
    let half_erfc = 0.5 * t * exp_approx(-0.5 * sq + poly) * (1.0 - 0.5 * lo);
    let phi = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    x * phi
}

#[inline(always)]
fn gelu_body(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = gelu_one(*x);
    }
}

macro_rules! dispatched {
    ($name:ident, $body:ident) => {
        fn $name(v: &mut [f32]) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                unsafe fn wide(v: &mut [f32]) {
                    $body(v)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn narrow(v: &mut [f32]) {
                    $body(v)
                }
                if has_avx512() {
                    // SAFETY: the features were detected on this CPU.
                    return unsafe { wide(v) };
                }
                if has_avx2_fma() {
                    // SAFETY: as above.
                    return unsafe { narrow(v) };
                }
            }
            $body(v)
        }
    };
}

/// `row += b`, compiled like the kernels of `dispatched!`.
fn dispatch_add(row: &mut [f32], b: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
        unsafe fn wide(row: &mut [f32], b: &[f32]) {
            add_body(row, b)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn narrow(row: &mut [f32], b: &[f32]) {
            add_body(row, b)
        }
        if has_avx512() {
            // SAFETY: the features were detected on this CPU.
            return unsafe { wide(row, b) };
        }
        if has_avx2_fma() {
            // SAFETY: as above.
            return unsafe { narrow(row, b) };
        }
    }
    add_body(row, b)
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx512vl")
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

dispatched!(dispatch_softmax, softmax_body);
dispatched!(dispatch_gelu, gelu_body);

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error of the approximations against f64 references over their working ranges.
    #[test]
    fn exp_and_gelu_match_f64_to_a_few_ulp() {
        let mut worst_exp = 0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 87.0 * i as f64 / 200_000.0;
            let got = exp_approx(x as f32) as f64;
            let want = (x as f32 as f64).exp();
            worst_exp = worst_exp.max(((got - want) / want).abs());
        }
        assert!(
            worst_exp < 3.0e-7,
            "exp: worst relative error {worst_exp:e}"
        );
        let (mut worst_gelu, mut worst_mid, mut worst_tail) = (0f64, 0f64, 0f64);
        let mut v: Vec<f32> = (0..=200_000)
            .map(|i| -9.0 + 18.0 * i as f32 / 200_000.0)
            .collect();
        let xs = v.clone();
        gelu(&mut v);
        for (&x, &g) in xs.iter().zip(&v) {
            let x = x as f64;
            let want = x * 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
            // Relative where GELU is not negligible; in the far negative tail (|GELU| < 1e-6,
            // x < −4.9, where the f32 rounding of the exponent's argument, ~41 at x = −9,
            // dominates) absolute. PyTorch's erf form returns exactly 0 there below x ≈ −5.5.
            let err = (g as f64 - want).abs();
            if x >= -2.0 {
                worst_gelu = worst_gelu.max(err / want.abs());
            } else if want.abs() >= 1e-6 {
                worst_mid = worst_mid.max(err / want.abs());
            } else {
                worst_tail = worst_tail.max(err);
            }
        }
        eprintln!("exp {worst_exp:e}, gelu {worst_gelu:e}, mid {worst_mid:e}, tail {worst_tail:e}");
        assert!(
            worst_gelu < 6.0e-7,
            "gelu: worst relative error {worst_gelu:e}"
        );
        // The exponent's argument reaches −12 at x = −4.9: its f32 rounding alone is 5e-7.
        assert!(
            worst_mid < 1.0e-6,
            "gelu: worst relative error below −2 {worst_mid:e}"
        );
        assert!(
            worst_tail < 1e-12,
            "gelu: worst absolute error in the tail {worst_tail:e}"
        );
    }

    /// Hand-computed softmax: (0, ln 2, ln 3) → (1, 2, 3)/6.
    #[test]
    fn softmax_of_logs_is_proportional() {
        let mut row = [0.0f32, 2f32.ln(), 3f32.ln()];
        softmax(&mut row);
        for (got, want) in row.iter().zip([1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]) {
            assert!((got - want).abs() < 1e-7, "{got} vs {want}");
        }
    }
}
