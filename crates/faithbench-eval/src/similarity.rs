//! Similarity of two attribution maps, for the model-randomisation sanity check
//! (`evaluators/model_randomization.rs`): Spearman's rank correlation and the structural
//! similarity index (SSIM), with the definitions of scipy's `spearmanr` and scikit-image's
//! `structural_similarity` as Quantus calls them (parity values in
//! `fixtures/eval/similarity.json`, from `scripts/fixtures/make_similarity_fixture.py`).

/// Errors of the similarity measures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimilarityError {
    /// The two maps differ in length or shape.
    #[error("maps of different sizes: {0} and {1} values")]
    Length(usize, usize),
    /// SSIM needs an image of at least `win × win`.
    #[error("SSIM needs maps of at least {win}×{win} values, got {height}×{width}")]
    TooSmall {
        /// Window side.
        win: usize,
        /// Map height.
        height: usize,
        /// Map width.
        width: usize,
    },
    /// A value is NaN or infinite.
    #[error("a map holds a non-finite value")]
    NonFinite,
}

/// Ranks (1-based) with ties given their average rank, as `scipy.stats.rankdata`.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        // positions i..=j share the mean of ranks i+1 ..= j+1
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; `None` when either side is constant.
fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

fn check(a: &[f32], b: &[f32]) -> Result<(), SimilarityError> {
    if a.len() != b.len() {
        return Err(SimilarityError::Length(a.len(), b.len()));
    }
    if a.iter().chain(b).any(|x| !x.is_finite()) {
        return Err(SimilarityError::NonFinite);
    }
    Ok(())
}

/// Spearman's rank correlation of two maps (flattened): the Pearson correlation of their
/// average ranks. Where scipy returns NaN (a constant map), faithbench defines the value: 1 when
/// both maps are constant (neither ranks anything, so nothing changed), 0 when only one is.
pub fn spearman(a: &[f32], b: &[f32]) -> Result<f64, SimilarityError> {
    check(a, b)?;
    let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let (ra, rb) = (average_ranks(&wide(a)), average_ranks(&wide(b)));
    let constant = |v: &[f32]| v.iter().all(|&x| x == v[0]);
    Ok(match pearson(&ra, &rb) {
        Some(r) => r,
        None if a.is_empty() || (constant(a) && constant(b)) => 1.0,
        None => 0.0,
    })
}

/// The SSIM window side (scikit-image's default).
pub const SSIM_WIN: usize = 7;

/// The structural similarity index of two `height × width` maps, as
/// `skimage.metrics.structural_similarity(a, b, data_range=R)` with its defaults: a uniform
/// `7 × 7` window, sample covariances (N/(N−1)), K₁ = 0.01, K₂ = 0.03, the mean of the SSIM map
/// over the pixels whose window lies inside the image; and the data range R = max − min over
/// both maps, as Quantus passes it. When R = 0 (both maps the same constant) the index is
/// defined as 1.
pub fn ssim(a: &[f32], b: &[f32], height: usize, width: usize) -> Result<f64, SimilarityError> {
    check(a, b)?;
    if a.len() != height * width {
        return Err(SimilarityError::Length(a.len(), height * width));
    }
    let win = SSIM_WIN;
    if height < win || width < win {
        return Err(SimilarityError::TooSmall { win, height, width });
    }
    let (lo, hi) = a
        .iter()
        .chain(b)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(f64::from(x)), h.max(f64::from(x)))
        });
    let range = hi - lo;
    if range <= 0.0 {
        return Ok(1.0);
    }
    let c1 = (0.01 * range).powi(2);
    let c2 = (0.03 * range).powi(2);
    let np = (win * win) as f64;
    let cov_norm = np / (np - 1.0);
    // summed-area tables of x, y, x², y², xy
    let stride = width + 1;
    let mut tables = vec![[0f64; 5]; (height + 1) * stride];
    for i in 0..height {
        for j in 0..width {
            let x = f64::from(a[i * width + j]);
            let y = f64::from(b[i * width + j]);
            let v = [x, y, x * x, y * y, x * y];
            for k in 0..5 {
                tables[(i + 1) * stride + j + 1][k] =
                    v[k] + tables[i * stride + j + 1][k] + tables[(i + 1) * stride + j][k]
                        - tables[i * stride + j][k];
            }
        }
    }
    let pad = (win - 1) / 2;
    let (mut sum, mut count) = (0.0, 0usize);
    for ci in pad..height - pad {
        for cj in pad..width - pad {
            let (i0, j0, i1, j1) = (ci - pad, cj - pad, ci + pad + 1, cj + pad + 1);
            let mut m = [0f64; 5];
            for (k, mk) in m.iter_mut().enumerate() {
                *mk = (tables[i1 * stride + j1][k]
                    - tables[i0 * stride + j1][k]
                    - tables[i1 * stride + j0][k]
                    + tables[i0 * stride + j0][k])
                    / np;
            }
            let [ux, uy, uxx, uyy, uxy] = m;
            let vx = cov_norm * (uxx - ux * ux);
            let vy = cov_norm * (uyy - uy * uy);
            let vxy = cov_norm * (uxy - ux * uy);
            let num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2);
            let den = (ux * ux + uy * uy + c1) * (vx + vy + c2);
            sum += num / den;
            count += 1;
        }
    }
    Ok(sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    /// By hand: a = (1, 2, 3, 4), b = (1, 3, 2, 4): ranks differ in two places by 1, so
    /// ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 6·2/60 = 0.8; reversed order gives −1; constants as defined.
    #[test]
    fn spearman_by_hand() {
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.8).abs() < 1e-12, "{r}");
        let r = spearman(&[1.0, 2.0, 3.0], &[30.0, 20.0, 10.0]).unwrap();
        assert!((r + 1.0).abs() < 1e-12);
        // monotone transforms do not change it
        let r = spearman(&[0.1, 0.5, 0.2, 0.9], &[1.0, 25.0, 4.0, 81.0]).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[2.0, 2.0], &[5.0, 5.0]).unwrap(), 1.0);
        assert_eq!(spearman(&[2.0, 2.0], &[1.0, 5.0]).unwrap(), 0.0);
        assert_eq!(
            spearman(&[1.0], &[1.0, 2.0]).unwrap_err(),
            SimilarityError::Length(1, 2)
        );
        assert_eq!(
            spearman(&[f32::NAN, 1.0], &[1.0, 2.0]).unwrap_err(),
            SimilarityError::NonFinite
        );
    }

    /// By hand on 7 × 7 maps (one window): identical maps give 1; b = a + c shifts only the
    /// means: SSIM = (2·μa·μb + C₁)/(μa² + μb² + C₁) with the variance term equal to 1.
    #[test]
    fn ssim_by_hand_on_one_window() {
        let a: Vec<f32> = (0..49).map(|i| (i % 5) as f32).collect();
        assert!((ssim(&a, &a, 7, 7).unwrap() - 1.0).abs() < 1e-12);
        let b: Vec<f32> = a.iter().map(|x| x + 1.0).collect();
        let mean_a = a.iter().map(|&x| f64::from(x)).sum::<f64>() / 49.0;
        let mean_b = mean_a + 1.0;
        let range = 5.0; // min 0 (a), max 5 (b)
        let c1 = (0.01f64 * range).powi(2);
        let want = (2.0 * mean_a * mean_b + c1) / (mean_a * mean_a + mean_b * mean_b + c1);
        let got = ssim(&a, &b, 7, 7).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(ssim(&[3.0; 49], &[3.0; 49], 7, 7).unwrap(), 1.0);
        assert!(matches!(
            ssim(&[0.0; 36], &[0.0; 36], 6, 6),
            Err(SimilarityError::TooSmall { win: 7, .. })
        ));
    }

    /// The values of scipy's `spearmanr` and scikit-image's `structural_similarity` (with
    /// Quantus' data range) on random, tied and structured maps
    /// (`scripts/fixtures/make_similarity_fixture.py`).
    #[test]
    fn similarity_matches_scipy_and_scikit_image() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/eval/similarity.json"
        );
        let text = std::fs::read_to_string(path).expect("fixtures/eval/similarity.json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let cases = v["cases"].as_array().expect("cases");
        assert!(cases.len() >= 4);
        for c in cases {
            let get = |k: &str| -> Vec<f32> {
                c[k].as_array()
                    .expect(k)
                    .iter()
                    .map(|x| x.as_f64().expect("number") as f32)
                    .collect()
            };
            let (a, b) = (get("a"), get("b"));
            let (h, w) = (
                c["height"].as_u64().unwrap() as usize,
                c["width"].as_u64().unwrap() as usize,
            );
            let name = c["name"].as_str().unwrap();
            let rho = spearman(&a, &b).unwrap();
            let want = c["spearman"].as_f64().unwrap();
            assert!(
                (rho - want).abs() < 1e-9,
                "{name}: spearman {rho} vs {want}"
            );
            let s = ssim(&a, &b, h, w).unwrap();
            let want = c["ssim"].as_f64().unwrap();
            assert!((s - want).abs() < 1e-9, "{name}: ssim {s} vs {want}");
        }
    }
}
