//! Saliency-map primitives shared by every image protocol (protocols §4.8): PyTorch-compatible bilinear
//! upsampling, min–max normalisation, deterministic top-k selection and map validation.
//!
//! Maps are flat, row-major `f32` slices of shape `h × w` (flat index = `row * w + col`).
//!
//! # Conventions
//! * **Tie-break of [`top_k_indices`]:** values are ranked by value (descending for
//!   [`Order::Largest`], ascending for [`Order::Smallest`]); among *equal* values the **lower flat
//!   index wins** (ranks first). `-0.0` and `+0.0` count as equal. PyTorch's `torch.topk` leaves the
//!   order of ties unspecified (and it differs between CPU and GPU), so this is a documented choice,
//!   not a reproduction. Because the order is total, the top-`k` set for a smaller `k` is always a
//!   prefix of the top-`k` set for a larger `k`.
//! * **Constant maps:** [`min_max_normalise`] returns [`MapError::Constant`] when `max == min` (the
//!   PyTorch reference divides 0 by 0 and produces an all-NaN map). Callers decide what a constant
//!   explanation means for their protocol; the segmentation protocol reproduces the reference's NaN
//!   pathway explicitly (see [`crate::segmentation::segmentation_record_from_raw`]).
//! * **NaN / ±inf** are rejected everywhere with an error that names the position (and the sample id
//!   in [`validate_map`]).

use std::cmp::Ordering;

/// Errors of the map primitives.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    /// The slice length does not equal `h * w`.
    #[error("map has {got} values but its stated shape {h}x{w} needs {expected}")]
    ShapeMismatch {
        /// Stated height.
        h: usize,
        /// Stated width.
        w: usize,
        /// `h * w`.
        expected: usize,
        /// Actual slice length.
        got: usize,
    },
    /// The map has no pixels (`h == 0` or `w == 0`).
    #[error("map is empty (shape {h}x{w})")]
    Empty {
        /// Stated height.
        h: usize,
        /// Stated width.
        w: usize,
    },
    /// An upsampling scale factor of 0 was requested.
    #[error("upsampling scale factor must be at least 1, got {scale}")]
    InvalidScale {
        /// The rejected scale factor.
        scale: usize,
    },
    /// A NaN or infinite value, reported by a primitive that does not know the sample id.
    #[error("map value at flat index {index} is not finite ({value})")]
    NonFiniteValue {
        /// Flat (row-major) index of the first offending value.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// A NaN or infinite value in the map of a named sample (from [`validate_map`]).
    #[error("sample {sample_id}: map value at flat index {index} (row {row}, col {col}) is not finite ({value})")]
    NonFinite {
        /// Id of the sample whose map is broken.
        sample_id: String,
        /// Flat (row-major) index of the first offending value.
        index: usize,
        /// Row of the offending value.
        row: usize,
        /// Column of the offending value.
        col: usize,
        /// The offending value.
        value: f32,
    },
    /// Every value of the map is the same, so `(m − min)/(max − min)` is undefined.
    #[error("map is constant (every value is {value}): min-max normalisation is undefined (the PyTorch reference yields NaN)")]
    Constant {
        /// The single value of the map.
        value: f32,
    },
    /// `k` is larger than the number of values.
    #[error("top-k: k = {k} exceeds the number of map values {n}")]
    KTooLarge {
        /// Requested count.
        k: usize,
        /// Number of values in the map.
        n: usize,
    },
    /// A removal fraction outside `[0, 1]` (or NaN).
    #[error("fraction {fraction} is outside [0, 1]")]
    InvalidFraction {
        /// The rejected fraction.
        fraction: f64,
    },
}

/// How equal map values are ordered when a removal level cuts through them.
///
/// Wherever a map has plateaus (regions clamped to zero, constant maps), the set of pixels a
/// level removes is decided by this order, not by the map. Each record carries the share of
/// pixels in the tied group its cut falls into ([`tie_share`]), so a summary shows how much of
/// a score is tie order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// The lower flat index first: deterministic and platform-independent, but inside a plateau
    /// it removes the top rows of the image first. The default (torch's CPU `topk`, which the
    /// reference uses, picks an implementation-dependent subset instead).
    #[default]
    LowestIndex,
    /// A seeded random order among equal values: pixel `i` of sample `id` ranks by
    /// `splitmix64(seed ⊕ fnv1a(id) ⊕ i)` (then by index), so plateaus are removed spatially
    /// uniformly, reproducibly per sample whatever the batch or shard. `ties = { random = SEED }`.
    Random(u64),
}

impl TieBreak {
    /// True for the default.
    pub fn is_default(&self) -> bool {
        *self == TieBreak::LowestIndex
    }
}

/// SplitMix64's finaliser (Steele et al.), a bijective 64-bit mix.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string (64 bit).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Flat indices of the `k` largest (or smallest) values in rank order, equal values ordered by
/// `ties` ([`top_k_indices`] is `TieBreak::LowestIndex`). `sample_id` seeds the random order.
/// The order is total, so shorter `k` give prefixes of longer ones.
pub fn top_k_indices_with(
    map: &[f32],
    k: usize,
    order: Order,
    ties: TieBreak,
    sample_id: &str,
) -> Result<Vec<usize>, MapError> {
    let keys: Option<Vec<u64>> = match ties {
        TieBreak::LowestIndex => None,
        TieBreak::Random(seed) => {
            let base = seed ^ fnv1a(sample_id);
            Some(
                (0..map.len())
                    .map(|i| splitmix64(base ^ i as u64))
                    .collect(),
            )
        }
    };
    select_top_k(map, k, order, keys.as_deref())
}

/// The `k` best of `map` in rank order: by value, then by `keys[i]` when given, then by index.
fn select_top_k(
    map: &[f32],
    k: usize,
    order: Order,
    keys: Option<&[u64]>,
) -> Result<Vec<usize>, MapError> {
    let n = map.len();
    if k > n {
        return Err(MapError::KTooLarge { k, n });
    }
    if let Some((index, value)) = first_non_finite(map) {
        return Err(MapError::NonFiniteValue { index, value });
    }
    if k == 0 {
        return Ok(Vec::new());
    }
    let cmp = |a: &usize, b: &usize| -> Ordering {
        let by_value = match order {
            Order::Largest => cmp_value(map[*b], map[*a]),
            Order::Smallest => cmp_value(map[*a], map[*b]),
        };
        let by_key = match keys {
            Some(key) => key[*a].cmp(&key[*b]),
            None => Ordering::Equal,
        };
        by_value.then(by_key).then(a.cmp(b))
    };
    let mut idx: Vec<usize> = (0..n).collect();
    if k < n {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_unstable_by(cmp);
    Ok(idx)
}

/// The share of the map's pixels in the tied group a cut after the first `k` of `ranking`
/// falls into: `|{i : map[i] = map[ranking[k−1]]}| / n` when that group has members on both
/// sides of the cut (which of them are removed is then decided by the tie order), 0 otherwise
/// (also for `k = 0` and `k = n`). `ranking` holds at least `k` indices in rank order.
pub fn tie_share(map: &[f32], ranking: &[usize], k: usize) -> f64 {
    let n = map.len();
    if k == 0 || k >= n || ranking.len() < k {
        return 0.0;
    }
    let v = map[ranking[k - 1]];
    let eq = |x: f32| cmp_value(x, v) == Ordering::Equal;
    let group = map.iter().filter(|&&x| eq(x)).count();
    let inside = ranking[..k].iter().filter(|&&i| eq(map[i])).count();
    if inside < group {
        group as f64 / n as f64
    } else {
        0.0
    }
}

/// Which end of the map [`top_k_indices`] selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// The `k` largest values (positive perturbation: remove the most relevant pixels first).
    /// Equivalent to `torch.topk(map, k)` up to the tie-break.
    Largest,
    /// The `k` smallest values (negative perturbation: remove the least relevant pixels first).
    /// Equivalent to the reference's `torch.topk(-map, k)` up to the tie-break.
    Smallest,
}

fn check_shape(len: usize, h: usize, w: usize) -> Result<(), MapError> {
    if h == 0 || w == 0 {
        return Err(MapError::Empty { h, w });
    }
    let expected = h.checked_mul(w).ok_or(MapError::ShapeMismatch {
        h,
        w,
        expected: usize::MAX,
        got: len,
    })?;
    if expected != len {
        return Err(MapError::ShapeMismatch {
            h,
            w,
            expected,
            got: len,
        });
    }
    Ok(())
}

fn first_non_finite(map: &[f32]) -> Option<(usize, f32)> {
    map.iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, v)| (i, *v))
}

/// Checks that `map` has shape `h × w`, is non-empty and holds only finite values.
///
/// The error names `sample_id` and the row/column of the first NaN or infinite value.
pub fn validate_map(sample_id: &str, map: &[f32], h: usize, w: usize) -> Result<(), MapError> {
    check_shape(map.len(), h, w)?;
    if let Some((index, value)) = first_non_finite(map) {
        return Err(MapError::NonFinite {
            sample_id: sample_id.to_string(),
            index,
            row: index / w,
            col: index % w,
            value,
        });
    }
    Ok(())
}

/// Per-axis source positions and weights of PyTorch's linear interpolation
/// (`align_corners=False`): `(i0, i1, lambda0, lambda1)` for every output index.
fn linear_axis(
    in_size: usize,
    out_size: usize,
    scale_factor: Option<f64>,
) -> Vec<(usize, usize, f32, f32)> {
    // area_pixel_compute_scale: 1/scale_factor (computed in double, stored as float) when a scale
    // factor was given, else in/out.
    let scale: f32 = match scale_factor {
        Some(s) if s > 0.0 => (1.0 / s) as f32,
        _ => in_size as f32 / out_size as f32,
    };
    (0..out_size)
        .map(|dst| {
            // area_pixel_compute_source_index (non-cubic): clamp negative coordinates to 0.
            let real = scale * (dst as f32 + 0.5) - 0.5;
            let real = if real < 0.0 { 0.0 } else { real };
            let i0 = real as usize; // trunc == floor for real >= 0
            let i0 = i0.min(in_size - 1);
            let lambda1 = (real - i0 as f32).clamp(0.0, 1.0);
            let lambda0 = 1.0 - lambda1;
            let i1 = if i0 < in_size - 1 { i0 + 1 } else { i0 };
            (i0, i1, lambda0, lambda1)
        })
        .collect()
}

fn bilinear(
    map: &[f32],
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
    scale: Option<f64>,
) -> Vec<f32> {
    let ys = linear_axis(h, out_h, scale);
    let xs = linear_axis(w, out_w, scale);
    let mut out = Vec::with_capacity(out_h * out_w);
    for &(y0, y1, hy0, hy1) in &ys {
        let r0 = &map[y0 * w..(y0 + 1) * w];
        let r1 = &map[y1 * w..(y1 + 1) * w];
        for &(x0, x1, wx0, wx1) in &xs {
            // Association order of PyTorch's CUDA kernel: interpolate along x inside each
            // source row, then combine the two rows with the y weights.
            let top = r0[x0] * wx0 + r0[x1] * wx1;
            let bottom = r1[x0] * wx0 + r1[x1] * wx1;
            out.push(top * hy0 + bottom * hy1);
        }
    }
    out
}

/// Bilinear upsampling by an integer factor with the semantics of PyTorch
/// `F.interpolate(x, scale_factor=scale, mode='bilinear', align_corners=False)` (protocols §4.8).
///
/// Output shape is `(h·scale) × (w·scale)`. Source coordinate `u = (v + 0.5)/scale − 0.5`, clamped
/// below at 0; `i0 = ⌊u⌋`, `i1 = min(i0 + 1, n − 1)`, weight `u − i0`; separable in x and y. The
/// arithmetic is `f32` with the association order of PyTorch's CUDA kernel
/// (`h0λ·(w0λ·a + w1λ·b) + h1λ·(w0λ·c + w1λ·d)`, no explicit FMA). PyTorch's own CPU and GPU
/// kernels differ from each other in the last bits (FMA contraction, vectorised paths), so exact
/// bit parity is not attainable; against PyTorch 2.15 CPU the maximum absolute deviation on the
/// fixture (`fixtures/metrics/upsample.json`) is 5.4e-7 for values of order 1.
pub fn upsample_bilinear(
    map: &[f32],
    h: usize,
    w: usize,
    scale: usize,
) -> Result<Vec<f32>, MapError> {
    check_shape(map.len(), h, w)?;
    if scale == 0 {
        return Err(MapError::InvalidScale { scale });
    }
    Ok(bilinear(
        map,
        h,
        w,
        h * scale,
        w * scale,
        Some(scale as f64),
    ))
}

/// Bilinear resize to an explicit output size with PyTorch
/// `F.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners=False)` semantics
/// (scale = `in/out` per axis). For an integer ratio this equals [`upsample_bilinear`].
pub fn resize_bilinear(
    map: &[f32],
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
) -> Result<Vec<f32>, MapError> {
    check_shape(map.len(), h, w)?;
    if out_h == 0 || out_w == 0 {
        return Err(MapError::Empty { h: out_h, w: out_w });
    }
    Ok(bilinear(map, h, w, out_h, out_w, None))
}

/// Min–max normalisation over the whole map: `(m − min)/(max − min)`, computed in `f32` exactly as
/// the PyTorch reference does (one subtraction, one division per value).
///
/// # Errors
/// * [`MapError::Constant`] if `max == min` (the reference would produce an all-NaN map). This is
///   the documented constant-map rule: **constant maps are an error, never silently zeros.**
/// * [`MapError::NonFiniteValue`] if any value is NaN or infinite.
/// * [`MapError::Empty`] for an empty map.
pub fn min_max_normalise(map: &[f32]) -> Result<Vec<f32>, MapError> {
    if map.is_empty() {
        return Err(MapError::Empty { h: 0, w: 0 });
    }
    if let Some((index, value)) = first_non_finite(map) {
        return Err(MapError::NonFiniteValue { index, value });
    }
    let (mut lo, mut hi) = (map[0], map[0]);
    for &v in map {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let range = hi - lo;
    if range == 0.0 {
        return Err(MapError::Constant { value: lo });
    }
    if !range.is_finite() {
        // max − min overflowed f32 (e.g. ±3e38); the reference would give inf/NaN too.
        return Err(MapError::NonFiniteValue {
            index: map.iter().position(|&v| v == hi).unwrap_or(0),
            value: range,
        });
    }
    Ok(map.iter().map(|&v| (v - lo) / range).collect())
}

fn cmp_value(a: f32, b: f32) -> Ordering {
    // Values are checked finite before sorting, so partial_cmp never returns None; -0.0 == 0.0.
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Flat indices of the `k` largest (or smallest) values, in rank order (best first).
///
/// **Tie-break:** among equal values the lower flat index ranks first. The order is total, so the
/// result is fully deterministic and `top_k_indices(m, k1, o)` is a prefix of
/// `top_k_indices(m, k2, o)` for `k1 ≤ k2`.
///
/// Complexity: `O(n + k log k)` (selection, then sorting the selected part).
///
/// # Errors
/// [`MapError::KTooLarge`] if `k > map.len()`, [`MapError::NonFiniteValue`] on NaN/inf.
pub fn top_k_indices(map: &[f32], k: usize, order: Order) -> Result<Vec<usize>, MapError> {
    select_top_k(map, k, order, None)
}

/// Number of values removed at fraction `p` of `n`: `int(n · p)` (Python truncation, computed in
/// `f64` like the reference's `int(224 * 224 * p)`; e.g. `n = 50176, p = 0.3 → 15052`).
pub fn count_for_fraction(n: usize, p: f64) -> Result<usize, MapError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(MapError::InvalidFraction { fraction: p });
    }
    Ok(((n as f64) * p).floor() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published reference values: SplitMix64 seeded 0 yields 0xE220A8397B1DCDAF first; FNV-1a
    /// (64 bit) of "" is the offset basis, of "a" 0xAF63DC4C8601EC8C.
    #[test]
    fn tie_break_hashes_match_their_reference_values() {
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(fnv1a(""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a("a"), 0xAF63_DC4C_8601_EC8C);
    }

    /// Tie shares by hand: map [1, 0, 0, 0, 0.5] (n = 5), ranking largest first 0, 4, 1, 2, 3.
    /// k = 1, 2: no tie at the cut; k = 3, 4: the cut splits the three zeros (3/5); k = 5:
    /// nothing is left out. A constant map splits everything (1) for every 0 < k < n.
    #[test]
    fn tie_share_by_hand() {
        let map = [1.0, 0.0, 0.0, 0.0, 0.5];
        let r = top_k_indices(&map, 5, Order::Largest).unwrap();
        assert_eq!(r, vec![0, 4, 1, 2, 3]);
        let shares: Vec<f64> = (0..=5).map(|k| tie_share(&map, &r, k)).collect();
        assert_eq!(shares, vec![0.0, 0.0, 0.0, 0.6, 0.6, 0.0]);
        let flat = [0.25f32; 4];
        let r = top_k_indices(&flat, 4, Order::Smallest).unwrap();
        assert_eq!(
            (1..4).map(|k| tie_share(&flat, &r, k)).collect::<Vec<_>>(),
            vec![1.0; 3]
        );
        // -0.0 and 0.0 are one value
        let signed = [-0.0f32, 0.0, 1.0];
        let r = top_k_indices(&signed, 3, Order::Smallest).unwrap();
        assert_eq!(tie_share(&signed, &r, 1), 2.0 / 3.0);
    }

    #[test]
    fn upsample_2x2_by_2_matches_pytorch() {
        // torch.nn.functional.interpolate(tensor([[0,1],[2,3]]), scale_factor=2, mode='bilinear')
        let out = upsample_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 2).unwrap();
        let expected = [
            0.0, 0.25, 0.75, 1.0, //
            0.5, 0.75, 1.25, 1.5, //
            1.5, 1.75, 2.25, 2.5, //
            2.0, 2.25, 2.75, 3.0,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn upsample_non_square_1x3_by_2() {
        // x positions: u = (v+0.5)/2 - 0.5 -> [-0.25->0, 0.25, 0.75, 1.25, 1.75, 2.25 -> (2, 2)]
        // row [0, 4, 8] -> [0, 1, 3, 5, 7, 8]; rows duplicated (h = 1 clamps to row 0).
        let out = upsample_bilinear(&[0.0, 4.0, 8.0], 1, 3, 2).unwrap();
        assert_eq!(
            out,
            vec![0.0, 1.0, 3.0, 5.0, 7.0, 8.0, 0.0, 1.0, 3.0, 5.0, 7.0, 8.0]
        );
    }

    #[test]
    fn resize_equals_upsample_for_integer_ratio() {
        let m: Vec<f32> = (0..12).map(|v| (v * v) as f32 * 0.1).collect();
        let a = upsample_bilinear(&m, 3, 4, 4).unwrap();
        let b = resize_bilinear(&m, 3, 4, 12, 16).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn upsample_rejects_bad_shapes() {
        assert_eq!(
            upsample_bilinear(&[1.0; 5], 2, 2, 2),
            Err(MapError::ShapeMismatch {
                h: 2,
                w: 2,
                expected: 4,
                got: 5
            })
        );
        assert_eq!(
            upsample_bilinear(&[1.0; 4], 2, 2, 0),
            Err(MapError::InvalidScale { scale: 0 })
        );
        assert_eq!(
            upsample_bilinear(&[], 0, 3, 2),
            Err(MapError::Empty { h: 0, w: 3 })
        );
    }

    #[test]
    fn min_max_hand_values() {
        let out = min_max_normalise(&[2.0, 4.0, 3.0, 6.0]).unwrap();
        assert_eq!(out, vec![0.0, 0.5, 0.25, 1.0]);
        let out = min_max_normalise(&[-1.0, 1.0]).unwrap();
        assert_eq!(out, vec![0.0, 1.0]);
    }

    #[test]
    fn min_max_constant_and_nan_are_errors() {
        assert_eq!(
            min_max_normalise(&[0.7; 6]),
            Err(MapError::Constant { value: 0.7 })
        );
        match min_max_normalise(&[0.0, f32::NAN, 1.0]) {
            Err(MapError::NonFiniteValue { index, value }) => {
                assert_eq!(index, 1);
                assert!(value.is_nan());
            }
            other => panic!("expected NonFiniteValue, got {other:?}"),
        }
    }

    #[test]
    fn validate_map_names_sample_and_position() {
        let mut m = vec![0.0f32; 6];
        m[4] = f32::INFINITY;
        let err = validate_map("n01440764/ILSVRC2012_val_00000293.JPEG", &m, 2, 3).unwrap_err();
        assert_eq!(
            err,
            MapError::NonFinite {
                sample_id: "n01440764/ILSVRC2012_val_00000293.JPEG".into(),
                index: 4,
                row: 1,
                col: 1,
                value: f32::INFINITY
            }
        );
        assert!(err.to_string().contains("ILSVRC2012_val_00000293"));
        assert!(validate_map("s", &[0.0; 6], 2, 3).is_ok());
        assert!(matches!(
            validate_map("s", &[0.0; 5], 2, 3),
            Err(MapError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn top_k_largest_with_ties_lower_index_first() {
        //            0    1    2    3    4    5
        let m = [0.5, 0.9, 0.5, 0.1, 0.9, 0.5];
        assert_eq!(
            top_k_indices(&m, 6, Order::Largest).unwrap(),
            vec![1, 4, 0, 2, 5, 3]
        );
        assert_eq!(top_k_indices(&m, 3, Order::Largest).unwrap(), vec![1, 4, 0]);
        assert_eq!(
            top_k_indices(&m, 4, Order::Smallest).unwrap(),
            vec![3, 0, 2, 5]
        );
        assert_eq!(
            top_k_indices(&m, 0, Order::Smallest).unwrap(),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn top_k_signed_zero_is_a_tie() {
        let m = [0.0, -0.0, 1.0];
        assert_eq!(
            top_k_indices(&m, 3, Order::Smallest).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(top_k_indices(&m, 3, Order::Largest).unwrap(), vec![2, 0, 1]);
    }

    #[test]
    fn top_k_prefix_property_on_constant_map() {
        let m = vec![0.0f32; 50];
        let all = top_k_indices(&m, 50, Order::Largest).unwrap();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        for k in [1, 7, 30] {
            assert_eq!(
                top_k_indices(&m, k, Order::Largest).unwrap(),
                all[..k].to_vec()
            );
        }
    }

    #[test]
    fn top_k_errors() {
        assert_eq!(
            top_k_indices(&[1.0, 2.0], 3, Order::Largest),
            Err(MapError::KTooLarge { k: 3, n: 2 })
        );
        assert!(matches!(
            top_k_indices(&[1.0, f32::NAN], 1, Order::Largest),
            Err(MapError::NonFiniteValue { index: 1, .. })
        ));
    }

    #[test]
    fn count_for_fraction_matches_python_int() {
        // Python: [int(224*224*p) for p in [0.1,...,0.9]]
        let ps = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
        let ks: Vec<usize> = ps
            .iter()
            .map(|&p| count_for_fraction(50176, p).unwrap())
            .collect();
        assert_eq!(
            ks,
            vec![5017, 10035, 15052, 20070, 25088, 30105, 35123, 40140, 45158]
        );
        assert_eq!(count_for_fraction(50176, 1.0).unwrap(), 50176);
        assert!(count_for_fraction(10, 1.5).is_err());
    }
}
