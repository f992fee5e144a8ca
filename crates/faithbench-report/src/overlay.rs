//! Heat maps on images: the `jet` colour map, the overlay blend of Chefer et al.'s
//! `show_cam_on_image`, captioned side-by-side panels, and an HTML gallery.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::TextFix;
use crate::html::{escape, url_path};
use crate::table::create_parent;
use crate::{ensure_font, ReportError, FONT_FAMILY};

/// Segment data of matplotlib's `jet` (`matplotlib._cm._jet_data`): per channel, the
/// breakpoints `(x, value)` of a piecewise-linear function on [0, 1].
const JET_R: [(f32, f32); 5] = [
    (0.0, 0.0),
    (0.35, 0.0),
    (0.66, 1.0),
    (0.89, 1.0),
    (1.0, 0.5),
];
const JET_G: [(f32, f32); 6] = [
    (0.0, 0.0),
    (0.125, 0.0),
    (0.375, 1.0),
    (0.64, 1.0),
    (0.91, 0.0),
    (1.0, 0.0),
];
const JET_B: [(f32, f32); 5] = [
    (0.0, 0.5),
    (0.11, 1.0),
    (0.34, 1.0),
    (0.65, 0.0),
    (1.0, 0.0),
];

/// Evaluates a piecewise-linear segment at `x` in [0, 1].
fn piecewise(seg: &[(f32, f32)], x: f32) -> f32 {
    for w in seg.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x1 {
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
        }
    }
    seg[seg.len() - 1].1
}

/// Number of entries of matplotlib's colour look-up table (`N = 256`).
pub const JET_LEVELS: usize = 256;

/// matplotlib's `jet` colour map, as RGB in [0, 1].
///
/// It reproduces `matplotlib.cm.jet(v)[:3]` exactly: matplotlib samples the
/// piecewise-linear segment data (red: 0→0, .35→0, .66→1, .89→1, 1→.5; green: 0→0,
/// .125→0, .375→1, .64→1, .91→0, 1→0; blue: 0→.5, .11→1, .34→1, .65→0, 1→0) at the
/// 256 points `i/255`, and looks `v` up as entry `min(floor(256·v), 255)`. Values are
/// clamped to [0, 1] first; NaN maps like 0.
///
/// Note: Chefer et al. colour with OpenCV's `COLORMAP_JET`, which has slightly different
/// breakpoints; the difference is invisible in practice but means pixel values differ.
pub fn jet(v: f32) -> [f32; 3] {
    let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
    let idx = ((v * JET_LEVELS as f32) as usize).min(JET_LEVELS - 1);
    let x = idx as f32 / (JET_LEVELS - 1) as f32;
    [
        piecewise(&JET_R, x),
        piecewise(&JET_G, x),
        piecewise(&JET_B, x),
    ]
}

/// [`jet`] as 8-bit RGB (`round(255·c)`), for colour bars and legends.
pub fn jet_u8(v: f32) -> [u8; 3] {
    jet(v).map(|c| (c * 255.0).round() as u8)
}

/// Blends a heat map over an image the way Chefer et al.'s `show_cam_on_image` does, with
/// the colour map of [`jet`] and correct RGB channel order.
///
/// `map` is row-major H×W (`map[y * W + x]`) with the image's size, values in [0, 1]
/// (clamped; NaN counts as 0). In `f32`, per pixel and channel:
///
/// ```text
/// heat = jet(map)                  // in [0, 1]
/// cam  = heat + img / 255
/// out  = cam / max(cam)            // max over all pixels and channels
/// u8   = floor(255 * out)          // numpy's np.uint8(255 * out)
/// ```
///
/// So the result is an equal (0.5/0.5) blend whenever the maximum is 2, and otherwise
/// stretched so its brightest channel is 255.
///
/// Errors: [`ReportError::Invalid`] (target `heatmap_overlay`) when `map.len() != H·W` or
/// the image is empty.
pub fn heatmap_overlay(image: &RgbImage, map: &[f32]) -> Result<RgbImage, ReportError> {
    let (w, h) = image.dimensions();
    let npx = w as usize * h as usize;
    if npx == 0 {
        return Err(ReportError::invalid("heatmap_overlay", "empty image"));
    }
    if map.len() != npx {
        return Err(ReportError::invalid(
            "heatmap_overlay",
            format!(
                "map has {} values but the image is {w}×{h} = {npx} pixels",
                map.len()
            ),
        ));
    }
    let cam: Vec<[f32; 3]> = image
        .pixels()
        .zip(map)
        .map(|(p, &m)| {
            let heat = jet(m);
            [0, 1, 2].map(|c| heat[c] + p.0[c] as f32 / 255.0)
        })
        .collect();
    let max = cam
        .iter()
        .flat_map(|c| c.iter().copied())
        .fold(0.0f32, f32::max);
    // max >= the smallest jet channel sum (0.5), never zero
    let out = RgbImage::from_fn(w, h, |x, y| {
        let c = cam[y as usize * w as usize + x as usize];
        Rgb(c.map(|v| (255.0 * (v / max)).clamp(0.0, 255.0) as u8))
    });
    Ok(out)
}

/// Padding around and between panels in [`side_by_side`], in pixels.
pub const PANEL_PAD: u32 = 10;
/// Height of the caption strip above the panels in [`side_by_side`], in pixels.
pub const CAPTION_HEIGHT: u32 = 30;

/// Lays out `panels` left to right on a white canvas with a caption above each.
///
/// Layout: [`PANEL_PAD`] pixels of padding around and between panels, a caption strip of
/// [`CAPTION_HEIGHT`] pixels above the panels; panels are top-aligned, so the canvas is
/// `PAD + Σ(wᵢ + PAD)` wide and `PAD + CAPTION_HEIGHT + max hᵢ + PAD` high. Captions are
/// drawn in the shipped DejaVu Sans, centred over their panel, at 16 px, shrunk down to
/// 10 px and then cut with `…` if they are wider than the panel.
///
/// Errors: [`ReportError::Invalid`] (target `side_by_side`) when there are no panels or
/// `captions.len() != panels.len()`; [`ReportError::Font`] if the font cannot be loaded.
pub fn side_by_side(panels: &[RgbImage], captions: &[&str]) -> Result<RgbImage, ReportError> {
    if panels.is_empty() {
        return Err(ReportError::invalid("side_by_side", "no panels"));
    }
    if captions.len() != panels.len() {
        return Err(ReportError::invalid(
            "side_by_side",
            format!("{} panels but {} captions", panels.len(), captions.len()),
        ));
    }
    ensure_font()?;
    let width = PANEL_PAD + panels.iter().map(|p| p.width() + PANEL_PAD).sum::<u32>();
    let height = PANEL_PAD
        + CAPTION_HEIGHT
        + panels.iter().map(|p| p.height()).max().unwrap_or(0)
        + PANEL_PAD;
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let mut x = PANEL_PAD;
    let top = PANEL_PAD + CAPTION_HEIGHT;
    let mut centres = Vec::with_capacity(panels.len());
    for p in panels {
        image::imageops::replace(&mut canvas, p, x as i64, top as i64);
        centres.push((x + p.width() / 2, p.width()));
        x += p.width() + PANEL_PAD;
    }

    let mut buf = canvas.into_raw();
    {
        let area =
            TextFix(BitMapBackend::with_buffer(&mut buf, (width, height))).into_drawing_area();
        let draw_err = |e: &dyn std::fmt::Display| {
            ReportError::invalid("side_by_side", format!("drawing a caption failed: {e}"))
        };
        for ((cx, pw), caption) in centres.iter().zip(captions) {
            let (text, size) = fit_caption(&area, caption, *pw).map_err(|e| draw_err(&e))?;
            if text.is_empty() {
                continue;
            }
            let style = (FONT_FAMILY, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center));
            area.draw_text(
                &text,
                &style,
                (*cx as i32, (PANEL_PAD + CAPTION_HEIGHT / 2) as i32),
            )
            .map_err(|e| draw_err(&e))?;
        }
        area.present().map_err(|e| draw_err(&e))?;
    }
    RgbImage::from_raw(width, height, buf)
        .ok_or_else(|| ReportError::invalid("side_by_side", "canvas buffer has the wrong size"))
}

/// Chooses the font size (16 down to 10) and, if still too wide, an ellipsised text that
/// fits into `max_w` pixels.
fn fit_caption<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    max_w: u32,
) -> Result<(String, f64), plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>> {
    let width = |t: &str, size: f64| -> Result<u32, _> {
        let style = TextStyle::from((FONT_FAMILY, size).into_font());
        area.estimate_text_size(t, &style).map(|(w, _)| w)
    };
    let mut size = 16.0;
    while size > 10.0 && width(caption, size)? > max_w {
        size -= 1.0;
    }
    if width(caption, size)? <= max_w {
        return Ok((caption.to_string(), size));
    }
    let chars: Vec<char> = caption.chars().collect();
    for keep in (0..chars.len()).rev() {
        let t: String = chars[..keep].iter().collect::<String>() + "…";
        if width(&t, size)? <= max_w {
            return Ok((t, size));
        }
    }
    Ok((String::new(), size))
}

/// One image of a [`gallery_html`] page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryItem {
    /// The PNG file; relative paths are taken relative to the gallery directory, absolute
    /// paths under it are made relative, other absolute paths are linked as `file://` URLs.
    pub image: PathBuf,
    /// Sample identifier (e.g. an ImageNet file stem).
    pub sample_id: String,
    /// Class label or target description.
    pub label: String,
    /// Explainer (method) name.
    pub explainer: String,
}

/// Writes `out_dir/index.html`, a standalone page (inline CSS, no scripts) showing the
/// items' PNGs as thumbnails (at most 240×240 CSS pixels, each linking to the full image).
///
/// Items are grouped by `sample_id` in order of first appearance; each group is a section
/// headed `sample id — label` with one captioned figure per item (caption: explainer,
/// sample id, label). All text is HTML-escaped and paths percent-encoded. `out_dir` is
/// created if needed. Returns the path of the written `index.html`.
pub fn gallery_html(
    out_dir: impl AsRef<Path>,
    title: &str,
    items: &[GalleryItem],
) -> Result<PathBuf, ReportError> {
    let out_dir = out_dir.as_ref();
    let index = out_dir.join("index.html");
    create_parent(&index)?;

    let mut groups: Vec<(&str, Vec<&GalleryItem>)> = Vec::new();
    for it in items {
        match groups.iter_mut().find(|(s, _)| *s == it.sample_id) {
            Some((_, v)) => v.push(it),
            None => groups.push((&it.sample_id, vec![it])),
        }
    }

    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>{t}</title>\n<style>\n\
body {{ font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 24px; color: #222; background: #fff; }}\n\
h1 {{ font-size: 22px; }}\n\
section {{ margin-bottom: 28px; }}\n\
h2 {{ font-size: 17px; margin: 8px 0; border-bottom: 1px solid #ddd; }}\n\
.row {{ display: flex; flex-wrap: wrap; gap: 14px; }}\n\
figure {{ margin: 0; width: 244px; }}\n\
figure img {{ max-width: 240px; max-height: 240px; border: 2px solid #eee; display: block; }}\n\
figcaption {{ font-size: 13px; margin-top: 4px; overflow-wrap: anywhere; }}\n\
figcaption .ex {{ font-weight: bold; }}\n\
figcaption .meta {{ color: #666; }}\n\
</style>\n</head>\n<body>\n<h1>{t}</h1>\n<p>{n} image{ns}, {g} sample{gs}.</p>\n",
        t = escape(title),
        n = items.len(),
        g = groups.len(),
        ns = if items.len() == 1 { "" } else { "s" },
        gs = if groups.len() == 1 { "" } else { "s" },
    );
    for (sample, its) in &groups {
        let label = its.first().map(|i| i.label.as_str()).unwrap_or("");
        let _ = write!(
            h,
            "<section>\n<h2>{} — {}</h2>\n<div class=\"row\">\n",
            escape(sample),
            escape(label)
        );
        for it in its {
            let href = escape(&image_href(out_dir, &it.image));
            let _ = writeln!(
                h,
                "<figure><a href=\"{href}\"><img src=\"{href}\" alt=\"{alt}\" loading=\"lazy\"></a>\
<figcaption><span class=\"ex\">{ex}</span><br><span class=\"meta\">{id} · {lab}</span></figcaption></figure>",
                alt = escape(&format!("{} / {} / {}", it.sample_id, it.label, it.explainer)),
                ex = escape(&it.explainer),
                id = escape(&it.sample_id),
                lab = escape(&it.label),
            );
        }
        h.push_str("</div>\n</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    std::fs::write(&index, h).map_err(|e| ReportError::io(&index, e))?;
    Ok(index)
}

/// The `src`/`href` for an image path as seen from `out_dir` (see [`GalleryItem::image`]).
fn image_href(out_dir: &Path, image: &Path) -> String {
    if image.is_absolute() {
        let base = out_dir
            .canonicalize()
            .unwrap_or_else(|_| out_dir.to_path_buf());
        for b in [out_dir, base.as_path()] {
            if let Ok(rel) = image.strip_prefix(b) {
                return url_path(&rel.to_string_lossy());
            }
        }
        format!("file://{}", url_path(&image.to_string_lossy()))
    } else {
        url_path(&image.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::test_dir;

    #[test]
    fn jet_matches_matplotlib() {
        // reference values: matplotlib.cm.jet(v)[:3]
        let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(jet(0.0), [0.0, 0.0, 0.5]));
        assert!(close(jet(1.0), [0.5, 0.0, 0.0]));
        // cm.jet(0.5) = (0.4901960784313725, 1.0, 0.4775458570524984)
        assert!(
            close(jet(0.5), [0.49019608, 1.0, 0.47754586]),
            "{:?}",
            jet(0.5)
        );
        // cm.jet(0.25) = (0.0, 0.5, 1.0): entry 64 -> x = 64/255
        let j = jet(0.25);
        assert!((j[0] - 0.0).abs() < 1e-6 && (j[2] - 1.0).abs() < 1e-6);
        assert!((j[1] - ((64.0 / 255.0 - 0.125) / 0.25)).abs() < 1e-6);
        assert_eq!(jet(f32::NAN), jet(0.0));
        assert_eq!(jet(2.0), jet(1.0));
        assert_eq!(jet_u8(1.0), [128, 0, 0]);
    }

    #[test]
    fn overlay_hot_and_cold_pixels_on_grey() {
        let img = RgbImage::from_pixel(4, 3, Rgb([128, 128, 128]));
        let mut map = vec![0.0f32; 12];
        map[5] = 1.0; // (x=1, y=1) hot
        let out = heatmap_overlay(&img, &map).unwrap();
        // cam hot  = (0.5 + 128/255, 128/255, 128/255), max = 0.5 + 128/255 = 1.00196
        // cam cold = (128/255, 128/255, 0.5 + 128/255)
        assert_eq!(out.get_pixel(1, 1).0, [255, 127, 127]);
        assert_eq!(out.get_pixel(0, 0).0, [127, 127, 255]);
        assert_eq!(out.get_pixel(3, 2).0, [127, 127, 255]);
        assert_eq!(out.dimensions(), (4, 3));
    }

    #[test]
    fn overlay_rejects_wrong_size() {
        let img = RgbImage::new(4, 3);
        let err = heatmap_overlay(&img, &[0.0; 11]).unwrap_err();
        assert!(err.to_string().contains("heatmap_overlay"), "{err}");
        assert!(err.to_string().contains("4×3"), "{err}");
    }

    #[test]
    fn side_by_side_layout_and_captions() {
        let a = RgbImage::from_pixel(60, 40, Rgb([255, 0, 0]));
        let b = RgbImage::from_pixel(100, 50, Rgb([0, 0, 255]));
        let out =
            side_by_side(&[a, b], &["input", "a very long caption that must be cut"]).unwrap();
        assert_eq!(out.dimensions(), (10 + 70 + 110, 10 + 30 + 50 + 10));
        assert_eq!(out.get_pixel(10, 40).0, [255, 0, 0]);
        assert_eq!(out.get_pixel(69, 79).0, [255, 0, 0]);
        assert_eq!(out.get_pixel(80, 40).0, [0, 0, 255]);
        assert_eq!(out.get_pixel(10, 85).0, [255, 255, 255]); // below the short panel
                                                              // captions drew dark pixels in the strip above each panel, none outside
        let dark_in = |x0: u32, x1: u32| {
            (x0..x1)
                .flat_map(|x| (10..40).map(move |y| (x, y)))
                .filter(|&(x, y)| out.get_pixel(x, y).0.iter().all(|&c| c < 128))
                .count()
        };
        assert!(dark_in(10, 70) > 20, "first caption not drawn");
        assert!(dark_in(80, 180) > 20, "second caption not drawn");
        assert_eq!(dark_in(0, 10), 0);
        assert!(side_by_side(&[], &[]).is_err());
        assert!(side_by_side(&[RgbImage::new(2, 2)], &[]).is_err());
    }

    #[test]
    fn gallery_writes_escaped_index() {
        let dir = test_dir("gallery");
        let p = dir.join("img 1.png");
        RgbImage::new(2, 2).save(&p).unwrap();
        let items = vec![
            GalleryItem {
                image: p.clone(),
                sample_id: "n0153<x>".into(),
                label: "goldfish & co".into(),
                explainer: "ours".into(),
            },
            GalleryItem {
                image: PathBuf::from("sub/b.png"),
                sample_id: "n0153<x>".into(),
                label: "goldfish & co".into(),
                explainer: "rollout".into(),
            },
            GalleryItem {
                image: PathBuf::from("/elsewhere/c.png"),
                sample_id: "s2".into(),
                label: "cat".into(),
                explainer: "ours".into(),
            },
        ];
        let index = gallery_html(dir.join("gal"), "Gallery <1>", &items).unwrap();
        assert_eq!(index, dir.join("gal/index.html"));
        let h = std::fs::read_to_string(&index).unwrap();
        assert!(h.contains("<title>Gallery &lt;1&gt;</title>"));
        assert!(h.contains("<h2>n0153&lt;x&gt; — goldfish &amp; co</h2>"));
        assert_eq!(h.matches("<section>").count(), 2);
        assert!(h.contains("<p>3 images, 2 samples.</p>"));
        assert_eq!(h.matches("<figure>").count(), 3);
        assert!(h.contains("src=\"sub/b.png\""));
        assert!(h.contains("src=\"file:///elsewhere/c.png\""));
        assert!(h.contains("img%201.png"));
        assert!(h.contains("<span class=\"ex\">rollout</span>"));
        assert!(!h.contains("<x>"));
    }
}
