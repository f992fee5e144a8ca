//! Insertion and deletion curves (Petsiuk, Das & Saenko 2018, RISE) on images: the pixels of
//! an image are ranked by the map (most relevant first); **deletion** replaces the top fraction
//! p of them by a baseline image, **insertion** starts from the baseline and puts the top
//! fraction p of the original pixels back. At every level the softmax probability of the
//! explained class is recorded; the AUC is the trapezoid under the probability curve over the
//! levels (docs/protocols.md §4.9). Deletion: lower is better; insertion:
//! higher is better.
//!
//! Baselines (`baseline`):
//! * `zero`: raw black (0 in `[0, 1]` space, RISE's deletion baseline);
//! * `mean`: the model's normalisation mean per channel (0 in the normalised tensor);
//! * `{ blur = σ }`: the image blurred with a separable Gaussian of standard deviation σ pixels,
//!   radius ⌈3σ⌉, borders replicated (RISE inserts into a blurred copy).
//!
//! Pixel counts per level are `int(p · h · w)` and equal map values are ranked by
//! [`TieBreak`], as in the perturbation test ([`crate::maps`]).

use serde::{Deserialize, Serialize};

use crate::auc::trapezoid;
use crate::maps::{count_for_fraction, top_k_indices_with, Order, TieBreak};
use crate::perturbation::ImageClassifier;
use crate::summary::softmax;

/// Deletion or insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveMode {
    /// The top fraction of pixels replaced by the baseline.
    Deletion,
    /// The top fraction of original pixels put into the baseline.
    Insertion,
}

/// The baseline image (config form).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Raw black.
    Zero,
    /// The model's normalisation mean per channel.
    Mean,
    /// A Gaussian blur of the image, σ in pixels.
    Blur(f64),
    /// Text: the `[PAD]` id with attention mask 0 — the word piece removed, as the text
    /// perturbation test removes it.
    Pad,
}

/// Errors of the insertion/deletion test.
#[derive(Debug, thiserror::Error)]
pub enum CurveError {
    /// Bad settings.
    #[error("{0}")]
    Config(String),
    /// A map or image of the wrong size or with non-finite values.
    #[error("sample `{sample_id}`: {message}")]
    Sample {
        /// Sample id.
        sample_id: String,
        /// What is wrong.
        message: String,
    },
    /// The classifier failed.
    #[error("classifier: {0}")]
    Classifier(Box<dyn std::error::Error + Send + Sync>),
}

/// One image to test.
#[derive(Debug, Clone, Copy)]
pub struct CurveSample<'a> {
    /// Sample id (seeds a random tie order).
    pub sample_id: &'a str,
    /// Raw `[0, 1]` pixels, `3 × h × w`.
    pub image: &'a [f32],
    /// The map, `h × w` (ranking only).
    pub map: &'a [f32],
    /// The class whose probability is followed.
    pub class: usize,
}

/// One sample's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveRecord {
    /// Sample id.
    pub sample_id: String,
    /// Deletion or insertion.
    pub mode: CurveMode,
    /// The levels (fractions of pixels).
    pub levels: Vec<f64>,
    /// Probability of the explained class per level.
    pub probs: Vec<f64>,
    /// The explained class.
    pub class: usize,
}

impl CurveRecord {
    /// The trapezoid under the probability curve over the levels.
    pub fn auc(&self) -> f64 {
        trapezoid(&self.levels, &self.probs).unwrap_or(f64::NAN)
    }
}

/// Validates levels: increasing fractions in [0, 1], at least two.
pub fn check_levels(levels: &[f64]) -> Result<(), CurveError> {
    if levels.len() < 2
        || levels.iter().any(|p| !(0.0..=1.0).contains(p))
        || levels.windows(2).any(|w| w[1] <= w[0])
    {
        return Err(CurveError::Config(format!(
            "levels must be at least two increasing fractions in [0, 1], got {levels:?}"
        )));
    }
    Ok(())
}

/// A separable Gaussian blur of a `3 × h × w` image (σ pixels, radius ⌈3σ⌉, replicated
/// borders); σ ≤ 0 returns the image.
pub fn gaussian_blur(image: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f32> {
    if sigma <= 0.0 {
        return image.to_vec();
    }
    let r = (3.0 * sigma).ceil() as isize;
    let mut k: Vec<f64> = (-r..=r)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let mut out = vec![0f32; image.len()];
    let mut tmp = vec![0f64; h * w];
    for c in 0..3 {
        let ch = &image[c * h * w..(c + 1) * h * w];
        for y in 0..h {
            for x in 0..w {
                tmp[y * w + x] = (-r..=r)
                    .map(|d| k[(d + r) as usize] * f64::from(ch[y * w + clamp(x as isize + d, w)]))
                    .sum();
            }
        }
        for y in 0..h {
            for x in 0..w {
                out[c * h * w + y * w + x] = (-r..=r)
                    .map(|d| k[(d + r) as usize] * tmp[clamp(y as isize + d, h) * w + x])
                    .sum::<f64>() as f32;
            }
        }
    }
    out
}

/// The baseline image of a sample.
pub fn baseline_image(
    image: &[f32],
    h: usize,
    w: usize,
    baseline: Baseline,
    mean: [f32; 3],
) -> Vec<f32> {
    match baseline {
        Baseline::Zero => vec![0.0; image.len()],
        Baseline::Mean => (0..3)
            .flat_map(|c| std::iter::repeat_n(mean[c], h * w))
            .collect(),
        Baseline::Blur(s) => gaussian_blur(image, h, w, s),
        Baseline::Pad => image.to_vec(),
    }
}

/// The curves of a batch of samples.
#[allow(clippy::too_many_arguments)]
pub fn run_curves<C: ImageClassifier + ?Sized>(
    classifier: &mut C,
    samples: &[CurveSample<'_>],
    h: usize,
    w: usize,
    mode: CurveMode,
    levels: &[f64],
    baseline: Baseline,
    mean: [f32; 3],
    ties: TieBreak,
    max_batch: usize,
) -> Result<Vec<CurveRecord>, CurveError> {
    check_levels(levels)?;
    let hw = h * w;
    let ks: Vec<usize> = levels
        .iter()
        .map(|&p| count_for_fraction(hw, p))
        .collect::<Result<_, _>>()
        .map_err(|e| CurveError::Config(e.to_string()))?;
    let max_batch = max_batch.max(1);
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let bad = |message: String| CurveError::Sample {
            sample_id: s.sample_id.to_string(),
            message,
        };
        if s.image.len() != 3 * hw || s.map.len() != hw {
            return Err(bad(format!(
                "image of {} and map of {} values for a {h}×{w} input",
                s.image.len(),
                s.map.len()
            )));
        }
        let ranking = top_k_indices_with(s.map, hw, Order::Largest, ties, s.sample_id)
            .map_err(|e| bad(e.to_string()))?;
        let base = baseline_image(s.image, h, w, baseline, mean);
        let (start, fill) = match mode {
            CurveMode::Deletion => (s.image, &base[..]),
            CurveMode::Insertion => (&base[..], s.image),
        };
        let mut probs = Vec::with_capacity(levels.len());
        let mut images: Vec<f32> = Vec::new();
        for (li, &k) in ks.iter().enumerate() {
            let mut img = start.to_vec();
            for &p in &ranking[..k] {
                for c in 0..3 {
                    img[c * hw + p] = fill[c * hw + p];
                }
            }
            images.extend_from_slice(&img);
            let n = images.len() / (3 * hw);
            if n == max_batch || li + 1 == ks.len() {
                let logits = classifier
                    .logits(&images, n, h, w)
                    .map_err(|e| CurveError::Classifier(Box::new(e)))?;
                let c = classifier.num_classes();
                if s.class >= c {
                    return Err(bad(format!(
                        "class {} out of range for {c} classes",
                        s.class
                    )));
                }
                for row in logits.chunks(c) {
                    probs.push(softmax(row)[s.class]);
                }
                images.clear();
            }
        }
        out.push(CurveRecord {
            sample_id: s.sample_id.to_string(),
            mode,
            levels: levels.to_vec(),
            probs,
            class: s.class,
        });
    }
    Ok(out)
}

/// One document to test: its word pieces, which of them are special (never changed, never
/// counted), their relevance and the followed class.
#[derive(Debug, Clone, Copy)]
pub struct TextCurveSample<'a> {
    /// Sample id.
    pub sample_id: &'a str,
    /// Token ids incl. specials.
    pub ids: &'a [u32],
    /// Whether each piece is special (`[CLS]`, `[SEP]`).
    pub special: &'a [bool],
    /// Relevance per piece.
    pub relevance: &'a [f32],
    /// The class whose probability is followed.
    pub class: usize,
}

/// The curves of a batch of documents: at level p the `int(n · p)` most relevant of the n
/// non-special pieces (ties: the lower position first) are removed (deletion: `[PAD]`, mask 0)
/// or are the only ones kept (insertion: every other non-special piece removed).
pub fn run_text_curves<C: crate::text_perturbation::TextClassifier + ?Sized>(
    classifier: &mut C,
    samples: &[TextCurveSample<'_>],
    mode: CurveMode,
    levels: &[f64],
    pad_id: u32,
    max_batch: usize,
) -> Result<Vec<CurveRecord>, CurveError> {
    check_levels(levels)?;
    let max_batch = max_batch.max(1);
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let bad = |message: String| CurveError::Sample {
            sample_id: s.sample_id.to_string(),
            message,
        };
        if s.special.len() != s.ids.len() || s.relevance.len() != s.ids.len() {
            return Err(bad(format!(
                "{} ids, {} special flags and {} relevance values",
                s.ids.len(),
                s.special.len(),
                s.relevance.len()
            )));
        }
        if let Some(p) = s.relevance.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("non-finite relevance at piece {p}")));
        }
        let mut ranked: Vec<usize> = (0..s.ids.len()).filter(|&i| !s.special[i]).collect();
        // stable: equal relevance keeps the lower position first
        ranked.sort_by(|&a, &b| s.relevance[b].total_cmp(&s.relevance[a]));
        let n = ranked.len();
        let (mut ids, mut masks) = (Vec::new(), Vec::new());
        for &p in levels {
            let k = count_for_fraction(n, p).map_err(|e| CurveError::Config(e.to_string()))?;
            let mut id = s.ids.to_vec();
            let mut mask = vec![1u8; id.len()];
            let removed = match mode {
                CurveMode::Deletion => &ranked[..k],
                CurveMode::Insertion => &ranked[k..],
            };
            for &i in removed {
                id[i] = pad_id;
                mask[i] = 0;
            }
            ids.push(id);
            masks.push(mask);
        }
        let mut probs = Vec::with_capacity(levels.len());
        for (ib, mb) in ids.chunks(max_batch).zip(masks.chunks(max_batch)) {
            let logits = classifier
                .logits(ib, mb)
                .map_err(|e| CurveError::Classifier(Box::new(e)))?;
            for row in logits {
                if s.class >= row.len() {
                    return Err(bad(format!(
                        "class {} out of range for {} classes",
                        s.class,
                        row.len()
                    )));
                }
                probs.push(softmax(&row)[s.class]);
            }
        }
        out.push(CurveRecord {
            sample_id: s.sample_id.to_string(),
            mode,
            levels: levels.to_vec(),
            probs,
            class: s.class,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "classifier" on 1×2 images with 2 classes whose logits are (0, Σ pixels of channel 0 ·
    /// 10): the probability of class 1 is σ(10·Σ).
    struct Sum;
    impl ImageClassifier for Sum {
        type Error = std::io::Error;
        fn num_classes(&self) -> usize {
            2
        }
        fn logits(
            &mut self,
            images: &[f32],
            batch: usize,
            h: usize,
            w: usize,
        ) -> Result<Vec<f32>, std::io::Error> {
            let per = 3 * h * w;
            Ok((0..batch)
                .flat_map(|b| {
                    let s: f32 = images[b * per..b * per + h * w].iter().sum();
                    [0.0, 10.0 * s]
                })
                .collect())
        }
    }

    fn sigma(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// By hand on a 1×2 image with channel-0 pixels (0.5, 0.2) and map (0.1, 0.9): pixel 1
    /// ranks first. Deletion with a zero baseline at levels (0, 0.5, 1): sums 0.7, 0.5, 0 →
    /// σ(7), σ(5), σ(0); insertion: sums 0, 0.2, 0.7.
    #[test]
    fn deletion_and_insertion_by_hand() {
        let image = [0.5f32, 0.2, 0.0, 0.0, 0.0, 0.0];
        let map = [0.1f32, 0.9];
        let s = [CurveSample {
            sample_id: "a",
            image: &image,
            map: &map,
            class: 1,
        }];
        let levels = [0.0, 0.5, 1.0];
        for batch in [1, 2, 8] {
            let d = run_curves(
                &mut Sum,
                &s,
                1,
                2,
                CurveMode::Deletion,
                &levels,
                Baseline::Zero,
                [0.5; 3],
                TieBreak::LowestIndex,
                batch,
            )
            .unwrap();
            let want = [sigma(7.0), sigma(5.0), sigma(0.0)];
            for (g, w) in d[0].probs.iter().zip(want) {
                assert!((g - w).abs() < 1e-6, "{g} vs {w}");
            }
            let auc = 0.5 * (want[0] + want[1]) * 0.5 + 0.5 * (want[1] + want[2]) * 0.5;
            assert!((d[0].auc() - auc).abs() < 1e-6);
            let i = run_curves(
                &mut Sum,
                &s,
                1,
                2,
                CurveMode::Insertion,
                &levels,
                Baseline::Zero,
                [0.5; 3],
                TieBreak::LowestIndex,
                batch,
            )
            .unwrap();
            let want = [sigma(0.0), sigma(2.0), sigma(7.0)];
            for (g, w) in i[0].probs.iter().zip(want) {
                assert!((g - w).abs() < 1e-6, "{g} vs {w}");
            }
        }
        // the mean baseline fills 0.5: deletion of pixel 1 gives 0.5 + 0.5
        let d = run_curves(
            &mut Sum,
            &s,
            1,
            2,
            CurveMode::Deletion,
            &levels,
            Baseline::Mean,
            [0.5; 3],
            TieBreak::LowestIndex,
            4,
        )
        .unwrap();
        assert!((d[0].probs[1] - sigma(10.0)).abs() < 1e-6);
        assert!(check_levels(&[0.0]).is_err() && check_levels(&[0.5, 0.2]).is_err());
    }

    /// A text "classifier" whose class-1 logit is 10 × (number of unmasked pieces with id 7).
    struct CountSevens;
    impl crate::text_perturbation::TextClassifier for CountSevens {
        type Error = std::io::Error;
        fn num_classes(&self) -> usize {
            2
        }
        fn logits(
            &mut self,
            ids: &[Vec<u32>],
            masks: &[Vec<u8>],
        ) -> Result<Vec<Vec<f32>>, std::io::Error> {
            Ok(ids
                .iter()
                .zip(masks)
                .map(|(i, m)| {
                    let n = i.iter().zip(m).filter(|(&t, &k)| t == 7 && k == 1).count();
                    vec![0.0, 10.0 * n as f32]
                })
                .collect())
        }
    }

    /// By hand: [CLS] 7 5 7 [SEP] with relevance (9, 0.8, 0.1, 0.5, 9): the specials never
    /// move; the three pieces rank 1 (0.8), 3 (0.5), 2 (0.1). Deletion at (0, 1/3, 2/3, 1)
    /// removes 0, 1, 2, 3 of them: sevens left 2, 1, 0, 0; insertion keeps 0, 1, 2, 3: sevens 0,
    /// 1, 2, 2.
    #[test]
    fn text_deletion_and_insertion_by_hand() {
        let ids = [101u32, 7, 5, 7, 102];
        let special = [true, false, false, false, true];
        let rel = [9.0f32, 0.8, 0.1, 0.5, 9.0];
        let s = [TextCurveSample {
            sample_id: "d",
            ids: &ids,
            special: &special,
            relevance: &rel,
            class: 1,
        }];
        let levels = [0.0, 1.0 / 3.0 + 1e-9, 2.0 / 3.0 + 1e-9, 1.0];
        for batch in [1, 3] {
            let d = run_text_curves(&mut CountSevens, &s, CurveMode::Deletion, &levels, 0, batch)
                .unwrap();
            let want: Vec<f64> = [2.0, 1.0, 0.0, 0.0]
                .iter()
                .map(|n: &f64| sigma(10.0 * n))
                .collect();
            assert_eq!(d[0].probs.len(), 4);
            for (g, w) in d[0].probs.iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{g} vs {w}");
            }
            let i = run_text_curves(
                &mut CountSevens,
                &s,
                CurveMode::Insertion,
                &levels,
                0,
                batch,
            )
            .unwrap();
            let want: Vec<f64> = [0.0, 1.0, 2.0, 2.0]
                .iter()
                .map(|n: &f64| sigma(10.0 * n))
                .collect();
            for (g, w) in i[0].probs.iter().zip(&want) {
                assert!((g - w).abs() < 1e-6, "{g} vs {w}");
            }
        }
        let bad = [TextCurveSample {
            relevance: &rel[..2],
            ..s[0]
        }];
        assert!(
            run_text_curves(&mut CountSevens, &bad, CurveMode::Deletion, &levels, 0, 1).is_err()
        );
    }

    /// The blur keeps a constant image, conserves the mean of a symmetric pattern's interior,
    /// and spreads a point by the Gaussian weights (by hand for σ = 1 at distance 1:
    /// e^{-1/2} / Σ_{d=-3..3} e^{-d²/2} per axis).
    #[test]
    fn gaussian_blur_by_hand() {
        let flat = vec![0.3f32; 3 * 5 * 5];
        let b = gaussian_blur(&flat, 5, 5, 1.5);
        assert!(b.iter().all(|v| (v - 0.3).abs() < 1e-6));
        let mut point = vec![0f32; 3 * 9 * 9];
        point[4 * 9 + 4] = 1.0;
        let b = gaussian_blur(&point, 9, 9, 1.0);
        let z: f64 = (-3..=3).map(|d: i32| (-(d * d) as f64 / 2.0).exp()).sum();
        let w1 = (-0.5f64).exp() / z;
        let w0 = 1.0 / z;
        assert!((f64::from(b[4 * 9 + 5]) - w0 * w1).abs() < 1e-6);
        assert!((f64::from(b[4 * 9 + 4]) - w0 * w0).abs() < 1e-6);
        assert_eq!(gaussian_blur(&point, 9, 9, 0.0), point);
    }
}
