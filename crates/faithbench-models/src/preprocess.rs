//! Image preprocessing that matches torchvision on PIL images, as the reference code uses it.
//!
//! PIL's `Image.resize` with a bilinear or bicubic filter is not a plain bilinear sampler: when
//! it shrinks an image it widens the filter support by the scale factor (antialiasing), and it
//! computes in 8-bit fixed point with 22 fractional bits, horizontal pass first, rounding the
//! intermediate image to uint8. [`resize`] reproduces that algorithm (Pillow's `Resample.c`)
//! so that resized pixels equal PIL's; the parity test states the measured difference.

use burn::prelude::*;
use image::RgbImage;

/// Resampling filter (PIL names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// `Image.BILINEAR` (triangle, support 1), torchvision's default.
    Bilinear,
    /// `Image.BICUBIC` (Keys a = -0.5, support 2), CLIP's preprocessing.
    Bicubic,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }
    fn eval(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Bicubic => {
                let a = -0.5;
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * a
                } else {
                    0.0
                }
            }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output pixel: first input index, and fixed-point weights.
struct Coeffs {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

fn precompute(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) truncates toward zero; the values are >= -0.5 + small, so this matches.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let xmax = xmax.saturating_sub(xmin);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = filter.eval((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for x in 0..ksize {
            let v = if x < xmax && ww != 0.0 {
                k[x] / ww
            } else {
                0.0
            };
            let scaled = v * (1u64 << PRECISION_BITS) as f64;
            weights[xx * ksize + x] = if v < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        bounds.push((xmin, xmax));
    }
    Coeffs {
        bounds,
        ksize,
        weights,
    }
}

#[inline]
fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resizes an RGB image exactly like Pillow's `Image.resize((w, h), filter)`.
pub fn resize(img: &RgbImage, out_w: usize, out_h: usize, filter: Filter) -> RgbImage {
    let (in_w, in_h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let need_h = out_w != in_w;
    let need_v = out_h != in_h;
    let cv = precompute(in_h, out_h, filter);
    // Horizontal pass over the rows the vertical pass will read.
    let (tmp, tmp_h, row0) = if need_h {
        let ch = precompute(in_w, out_w, filter);
        let (first, last) = if need_v {
            let first = cv.bounds[0].0;
            let (lmin, lsize) = cv.bounds[out_h - 1];
            (first, lmin + lsize)
        } else {
            (0, in_h)
        };
        let rows = last - first;
        let mut out = vec![0u8; rows * out_w * 3];
        for yy in 0..rows {
            let srow = &src[(yy + first) * in_w * 3..(yy + first + 1) * in_w * 3];
            for xx in 0..out_w {
                let (xmin, xmax) = ch.bounds[xx];
                let k = &ch.weights[xx * ch.ksize..xx * ch.ksize + xmax];
                for c in 0..3 {
                    let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                    for (x, &w) in k.iter().enumerate() {
                        ss += srow[(x + xmin) * 3 + c] as i64 * w as i64;
                    }
                    out[(yy * out_w + xx) * 3 + c] = clip8(ss);
                }
            }
        }
        (out, rows, first)
    } else {
        (src.to_vec(), in_h, 0)
    };
    let width = if need_h { out_w } else { in_w };
    let out = if need_v {
        let mut out = vec![0u8; out_h * width * 3];
        for yy in 0..out_h {
            let (ymin, ymax) = cv.bounds[yy];
            let ymin = ymin - row0;
            let k = &cv.weights[yy * cv.ksize..yy * cv.ksize + ymax];
            for xx in 0..width {
                for c in 0..3 {
                    let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                    for (y, &w) in k.iter().enumerate() {
                        ss += tmp[((y + ymin) * width + xx) * 3 + c] as i64 * w as i64;
                    }
                    out[(yy * width + xx) * 3 + c] = clip8(ss);
                }
            }
        }
        out
    } else {
        debug_assert_eq!(tmp_h, out_h);
        tmp
    };
    RgbImage::from_raw(out_w as u32, out_h as u32, out).expect("buffer size matches")
}

/// Python's `round()` (half to even), used by torchvision's `CenterCrop`.
fn round_half_even(x: f64) -> i64 {
    if (x - x.trunc()).abs() == 0.5 {
        (2.0 * (x / 2.0).round()) as i64
    } else {
        x.round() as i64
    }
}

/// torchvision `CenterCrop(size)` on a PIL image (offsets `int(round((h - size) / 2))`).
pub fn center_crop(img: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let top = round_half_even((h as f64 - size as f64) / 2.0).max(0) as u32;
    let left = round_half_even((w as f64 - size as f64) / 2.0).max(0) as u32;
    image::imageops::crop_imm(img, left, top, size.min(w) as u32, size.min(h) as u32).to_image()
}

/// torchvision `Resize(size)` with an int: the shorter side becomes `size`, the longer
/// `int(size * long / short)`.
pub fn resize_shorter(img: &RgbImage, size: usize, filter: Filter) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (ow, oh) = if w <= h {
        (size, (size as f64 * h as f64 / w as f64) as usize)
    } else {
        ((size as f64 * w as f64 / h as f64) as usize, size)
    };
    resize(img, ow, oh, filter)
}

/// The resize/crop pipelines used by the reference code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// `Resize((S, S))`, aspect ratio not kept (TI perturbation and segmentation).
    Squash,
    /// `Resize(256)` + `CenterCrop(224)` (scaled to S: shorter side S·256/224), Chefer's notebooks.
    ShorterCrop,
    /// CLIP: shorter side to S with bicubic, then `CenterCrop(S)`.
    ClipBicubic,
}

/// Applies a resize mode for a model of input side `size`.
pub fn prepare(img: &RgbImage, size: usize, mode: ResizeMode) -> RgbImage {
    match mode {
        ResizeMode::Squash => resize(img, size, size, Filter::Bilinear),
        ResizeMode::ShorterCrop => {
            let short = size * 256 / 224;
            center_crop(&resize_shorter(img, short, Filter::Bilinear), size)
        }
        ResizeMode::ClipBicubic => center_crop(&resize_shorter(img, size, Filter::Bicubic), size),
    }
}

/// Resizes a single-channel label mask (row-major `h × w`) like Pillow's
/// `Image.resize((out_w, out_h), Image.NEAREST)` (torchvision `Resize(..., NEAREST)` on a mask):
/// source index `⌊(x + ½)·w/out_w⌋`, accumulated in `f64` exactly as Pillow's
/// `ImagingScaleAffine` does (start `½·scale`, then `+= scale` per output pixel), clamped to the
/// last row/column.
pub fn resize_mask_nearest(mask: &[u8], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<u8> {
    fn table(n_in: usize, n_out: usize) -> Vec<usize> {
        let scale = n_in as f64 / n_out as f64;
        let mut pos = scale * 0.5;
        let mut out = Vec::with_capacity(n_out);
        for _ in 0..n_out {
            let i = if pos < 0.0 { 0 } else { pos as usize };
            out.push(i.min(n_in.saturating_sub(1)));
            pos += scale;
        }
        out
    }
    if w == 0 || h == 0 || mask.len() != w * h {
        return vec![0; out_w * out_h];
    }
    let xs = table(w, out_w);
    let ys = table(h, out_h);
    let mut out = Vec::with_capacity(out_w * out_h);
    for &y in &ys {
        let row = &mask[y * w..(y + 1) * w];
        out.extend(xs.iter().map(|&x| row[x]));
    }
    out
}

/// Input normalisation `(x − mean) / std` on [0, 1] pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// mean = std = 0.5 (timm "jx" ViT weights, the reference code).
    Half,
    /// ImageNet mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
    Imagenet,
    /// CLIP mean (0.48145466, 0.4578275, 0.40821073), std (0.26862954, 0.26130258, 0.27577711).
    Clip,
    /// Any other statistics.
    Custom {
        /// Per-channel mean.
        mean: [f32; 3],
        /// Per-channel std.
        std: [f32; 3],
    },
}

impl Normalization {
    /// (mean, std).
    pub fn mean_std(&self) -> ([f32; 3], [f32; 3]) {
        match *self {
            Normalization::Half => ([0.5; 3], [0.5; 3]),
            Normalization::Imagenet => ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            Normalization::Clip => (
                [0.481_454_66, 0.457_827_5, 0.408_210_73],
                [0.268_629_54, 0.261_302_58, 0.275_777_1],
            ),
            Normalization::Custom { mean, std } => (mean, std),
        }
    }

    /// The named preset with these statistics, or `Custom`.
    pub fn from_mean_std(mean: [f32; 3], std: [f32; 3]) -> Self {
        for n in [
            Normalization::Half,
            Normalization::Imagenet,
            Normalization::Clip,
        ] {
            let (m, s) = n.mean_std();
            let close = |a: [f32; 3], b: [f32; 3]| {
                a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 1e-6)
            };
            if close(m, mean) && close(s, std) {
                return n;
            }
        }
        Normalization::Custom { mean, std }
    }

    /// Normalises raw [0,1] pixels (B, 3, H, W) on the tensor's device.
    pub fn apply(&self, raw: Tensor<4>) -> Tensor<4> {
        let dev = raw.device();
        let (m, s) = self.mean_std();
        let mean = Tensor::<4>::from_data(TensorData::new(m.to_vec(), [1, 3, 1, 1]), &dev);
        let std = Tensor::<4>::from_data(TensorData::new(s.to_vec(), [1, 3, 1, 1]), &dev);
        (raw - mean) / std
    }
}

/// HWC uint8 → CHW f32 in [0, 1] (torchvision `ToTensor`), appended to `out`.
pub fn to_chw_unit(img: &RgbImage, out: &mut Vec<f32>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    out.reserve(3 * w * h);
    for c in 0..3 {
        for i in 0..w * h {
            out.push(raw[i * 3 + c] as f32 / 255.0);
        }
    }
}

/// Stacks same-sized images into a raw [0,1] batch (B, 3, H, W).
pub fn raw_batch(images: &[RgbImage], device: &Device) -> crate::error::Result<Tensor<4>> {
    let first = images
        .first()
        .ok_or_else(|| crate::error::ModelError::Input("empty image batch".into()))?;
    let (w, h) = (first.width() as usize, first.height() as usize);
    let mut data = Vec::with_capacity(images.len() * 3 * w * h);
    for (i, im) in images.iter().enumerate() {
        if im.width() as usize != w || im.height() as usize != h {
            return Err(crate::error::ModelError::Input(format!(
                "image {i} is {}x{}, the batch is {w}x{h}",
                im.width(),
                im.height()
            )));
        }
        to_chw_unit(im, &mut data);
    }
    Ok(Tensor::from_data(
        TensorData::new(data, [images.len(), 3, h, w]),
        device,
    ))
}

/// Opens an image file as RGB with a clear error naming the file.
pub fn open_rgb(path: &std::path::Path) -> crate::error::Result<RgbImage> {
    let err = |reason: String| crate::error::ModelError::Image {
        path: path.to_path_buf(),
        reason,
    };
    // Detect the format from the content, not the extension (a `.png` may hold a JPEG).
    let img = image::ImageReader::open(path)
        .map_err(|e| err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?
        .decode()
        .map_err(|e| err(e.to_string()))?;
    Ok(img.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_round_is_half_to_even() {
        assert_eq!(round_half_even(58.5), 58);
        assert_eq!(round_half_even(59.5), 60);
        assert_eq!(round_half_even(16.0), 16);
        assert_eq!(round_half_even(16.4), 16);
        assert_eq!(round_half_even(16.6), 17);
    }

    #[test]
    fn nearest_mask_resize_matches_pil_indices() {
        // PIL: Image.fromarray(np.arange(5, dtype=np.uint8)[None]).resize((8, 1), NEAREST)
        // -> source x = floor((x + 0.5) * 5/8) = 0 0 1 2 2 3 4 4 (values printed by Pillow 13)
        let m: Vec<u8> = (0..5).collect();
        assert_eq!(
            resize_mask_nearest(&m, 5, 1, 8, 1),
            vec![0, 0, 1, 2, 2, 3, 4, 4]
        );
        // downscale 6 -> 4: floor((x + 0.5) * 1.5) = 0 2 3 5
        let m: Vec<u8> = (0..6).collect();
        assert_eq!(resize_mask_nearest(&m, 1, 6, 1, 4), vec![0, 2, 3, 5]);
        // 40x30 -> 32x32 of (arange(1200) % 251): Pillow gives row 0 = 0 1 3 4 5 6 ..., sum 121928
        let m: Vec<u8> = (0..1200).map(|i| (i % 251) as u8).collect();
        let r = resize_mask_nearest(&m, 40, 30, 32, 32);
        assert_eq!(&r[..6], &[0, 1, 3, 4, 5, 6]);
        assert_eq!(&r[32..38], &[40, 41, 43, 44, 45, 46]);
        assert_eq!(r.iter().map(|&v| v as u64).sum::<u64>(), 121928);
        // identity
        let m: Vec<u8> = (0..12).collect();
        assert_eq!(resize_mask_nearest(&m, 4, 3, 4, 3), m);
    }

    #[test]
    fn identity_resize_keeps_pixels() {
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 7]));
        assert_eq!(resize(&img, 5, 4, Filter::Bilinear), img);
    }

    #[test]
    fn bilinear_downscale_by_two_averages_pairs_with_antialias() {
        // 4 -> 2 horizontally: support widens to 2, weights over 4 pixels (1/8, 3/8, 3/8, 1/8)
        // clipped to the image: for output 0, center 1.0, inputs 0..2 with weights
        // (x+0.5-1)/2 -> tri(-0.25)=0.75, tri(0.25)=0.75, tri(0.75)=0.25 -> normalised
        // 0.75/1.75, 0.75/1.75, 0.25/1.75.
        let img = RgbImage::from_fn(4, 1, |x, _| {
            image::Rgb([[0u8, 70, 140, 210][x as usize]; 3])
        });
        let out = resize(&img, 2, 1, Filter::Bilinear);
        let expect0: f64 = (0.0 * 0.75 + 70.0 * 0.75 + 140.0 * 0.25) / 1.75;
        assert_eq!(out.get_pixel(0, 0)[0], expect0.round() as u8);
    }
}
