//! **faithbench-shapes**: a procedural vision benchmark with known ground truth.
//!
//! Each sample is a `size × size` RGB image holding one object of a class (a filled shape in a
//! random colour, position and scale) on clutter (a colour gradient, line segments, dots and
//! pixel noise), and the object's exact foreground mask. The class is carried by the object's
//! shape only (colours are drawn independently of the class; clutter never forms the shapes),
//! so a classifier that solves the task must look at the object — the mask is the ground truth
//! an attribution map should find.
//!
//! Everything is a pure function of `(seed, index)` (SplitMix64), so the dataset needs no
//! download: `generate(seed, i)` always gives the same image. The shipped copy in
//! `datasets/synthetic/` is this generator's output written in the real formats (ImageNet
//! folder layout, `gtsegs_ijcv.mat` layout) and read back through the real readers.

use crate::rng::SplitMix64;
use image::{Rgb, RgbImage};

/// Class names, in label order.
pub const CLASSES: [&str; 5] = ["disc", "square", "triangle", "plus", "ring"];

/// One generated sample.
#[derive(Debug, Clone)]
pub struct ShapeSample {
    /// Class index into [`CLASSES`].
    pub label: usize,
    /// The image.
    pub image: RgbImage,
    /// Foreground mask, row-major `size × size`, 1 = object.
    pub mask: Vec<u8>,
}

/// The sample generator: [`SplitMix64`] seeded from (seed, index).
#[derive(Debug, Clone)]
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64, index: u64) -> Self {
        let mut r = SplitMix64::new(
            (seed ^ 0x5EED_0F5A_4E5B_1E5C).wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        r.next_u64();
        Rng(r)
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0.unit()
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn hsv(h: f64, s: f64, v: f64) -> [f64; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    match (i as i64).rem_euclid(6) {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// Whether pixel centre (x, y) lies inside shape `label` with centre (cx, cy) and radius r.
fn inside(label: usize, x: f64, y: f64, cx: f64, cy: f64, r: f64) -> bool {
    let (dx, dy) = (x - cx, y - cy);
    match label {
        0 => dx * dx + dy * dy <= r * r,
        1 => dx.abs() <= r * 0.85 && dy.abs() <= r * 0.85,
        2 => {
            // Upward triangle with apex at (cx, cy - r), base at y = cy + r·0.8.
            let top = cy - r;
            let base = cy + r * 0.8;
            if y < top || y > base {
                return false;
            }
            let half = (y - top) / (base - top) * r;
            dx.abs() <= half
        }
        3 => (dx.abs() <= r * 0.3 && dy.abs() <= r) || (dy.abs() <= r * 0.3 && dx.abs() <= r),
        _ => {
            let d2 = dx * dx + dy * dy;
            d2 <= r * r && d2 >= (r * 0.55) * (r * 0.55)
        }
    }
}

/// Generates sample `index` of the dataset with this `seed`, `size × size` pixels.
/// Labels cycle through the classes (`index % 5`), so any contiguous range is balanced.
pub fn generate(seed: u64, index: u64, size: u32) -> ShapeSample {
    let mut rng = Rng::new(seed, index);
    let label = (index % CLASSES.len() as u64) as usize;
    let s = size as f64;
    // Background: a gradient between two muted colours.
    let b0 = hsv(rng.unit(), rng.range(0.1, 0.4), rng.range(0.35, 0.75));
    let b1 = hsv(rng.unit(), rng.range(0.1, 0.4), rng.range(0.35, 0.75));
    let angle = rng.range(0.0, std::f64::consts::TAU);
    let (ca, sa) = (angle.cos(), angle.sin());
    let mut px = vec![[0f64; 3]; (size * size) as usize];
    for y in 0..size {
        for x in 0..size {
            let t = (((x as f64 / s - 0.5) * ca + (y as f64 / s - 0.5) * sa) + 0.75) / 1.5;
            let t = t.clamp(0.0, 1.0);
            px[(y * size + x) as usize] = [0, 1, 2].map(|c| b0[c] * (1.0 - t) + b1[c] * t);
        }
    }
    // Clutter: thin segments and small dots in random colours.
    let segments = 6 + rng.below(8);
    for _ in 0..segments {
        let col = hsv(rng.unit(), rng.range(0.3, 1.0), rng.range(0.3, 1.0));
        let (x0, y0) = (rng.range(0.0, s), rng.range(0.0, s));
        let len = rng.range(s * 0.08, s * 0.3);
        let th = rng.range(0.0, std::f64::consts::TAU);
        let steps = (len * 2.0) as usize;
        for k in 0..steps {
            let f = k as f64 / steps as f64 * len;
            let (x, y) = ((x0 + f * th.cos()) as i64, (y0 + f * th.sin()) as i64);
            if x >= 0 && y >= 0 && (x as u32) < size && (y as u32) < size {
                px[(y as u32 * size + x as u32) as usize] = col;
            }
        }
    }
    let dots = 10 + rng.below(15);
    for _ in 0..dots {
        let col = hsv(rng.unit(), rng.range(0.3, 1.0), rng.range(0.3, 1.0));
        let (x0, y0) = (
            rng.below(size as u64 - 1) as u32,
            rng.below(size as u64 - 1) as u32,
        );
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            px[((y0 + dy) * size + x0 + dx) as usize] = col;
        }
    }
    // The object: a saturated colour that stands out from the background, random scale/position.
    let r = rng.range(s * 0.14, s * 0.24);
    let margin = r + 1.0;
    let (cx, cy) = (rng.range(margin, s - margin), rng.range(margin, s - margin));
    let col = hsv(rng.unit(), rng.range(0.6, 1.0), rng.range(0.75, 1.0));
    let mut mask = vec![0u8; (size * size) as usize];
    for y in 0..size {
        for x in 0..size {
            if inside(label, x as f64 + 0.5, y as f64 + 0.5, cx, cy, r) {
                let i = (y * size + x) as usize;
                px[i] = col;
                mask[i] = 1;
            }
        }
    }
    // Pixel noise everywhere.
    let mut image = RgbImage::new(size, size);
    for (i, p) in px.iter().enumerate() {
        let rgb = [0, 1, 2]
            .map(|c| ((p[c] * 255.0 + rng.range(-12.0, 12.0)).round()).clamp(0.0, 255.0) as u8);
        image.put_pixel(i as u32 % size, i as u32 / size, Rgb(rgb));
    }
    ShapeSample { label, image, mask }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_balanced() {
        let a = generate(7, 42, 64);
        let b = generate(7, 42, 64);
        assert_eq!(a.image, b.image);
        assert_eq!(a.mask, b.mask);
        assert_ne!(generate(8, 42, 64).image, a.image, "seed matters");
        let labels: Vec<usize> = (0..10).map(|i| generate(0, i, 64).label).collect();
        assert_eq!(labels, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn masks_cover_a_plausible_object_area() {
        for i in 0..50 {
            let s = generate(1, i, 64);
            let area = s.mask.iter().filter(|&&m| m == 1).count() as f64 / (64.0 * 64.0);
            assert!(
                (0.015..0.4).contains(&area),
                "sample {i}: object covers {area:.3}"
            );
        }
    }

    #[test]
    fn disc_mask_by_hand() {
        // A disc of radius 2 centred on a pixel corner covers the 12 pixel centres within 2.
        let n = (0..8)
            .flat_map(|y| (0..8).map(move |x| (x, y)))
            .filter(|&(x, y)| inside(0, x as f64 + 0.5, y as f64 + 0.5, 4.0, 4.0, 2.0))
            .count();
        assert_eq!(n, 12);
    }
}
