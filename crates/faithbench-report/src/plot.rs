//! Charts written as both PNG (via an in-memory bitmap, saved with `image`) and SVG:
//! line plots of curves with optional confidence bands ([`plot_curves`]) and horizontal bar
//! charts with confidence intervals ([`plot_bars_with_ci`]).
//!
//! Colours come from [`PALETTE`] (Tableau 10); each curve additionally gets one of four
//! marker shapes so curves stay distinguishable in grey-scale or for colour-blind readers.
//! Output is deterministic: the same input gives byte-identical files.

use std::error::Error as StdError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};

use crate::font::TextFix;
use crate::table::create_parent;
use crate::{ensure_font, ReportError, FONT_FAMILY};

/// Size of the PNG and SVG charts in pixels (width, height).
pub const PLOT_SIZE: (u32, u32) = (1000, 650);

/// Tableau 10 (the 2016 palette, designed to be colour-blind friendly), in order:
/// blue, orange, red, teal, green, yellow, purple, pink, brown, grey.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xBA, 0xB0, 0xAC),
];

/// Colour of the `i`-th series (cycles through [`PALETTE`]).
pub fn palette_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub use faithbench_eval::summary::Curve;

/// The two files written by a plotting function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFiles {
    /// The PNG file (`<path>.png`).
    pub png: PathBuf,
    /// The SVG file (`<path>.svg`).
    pub svg: PathBuf,
}

/// Appends `.ext` to a path without touching what may look like an extension already
/// (`auc_0.5` becomes `auc_0.5.png`, not `auc_0.png`).
fn with_suffix(base: &Path, ext: &str) -> PathBuf {
    let mut s: OsString = base.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

type DrawResult = Result<(), Box<dyn StdError>>;

/// Something that can draw itself on any plotters backend.
trait Painter {
    /// Draws on `root` (already filled white, of size [`PLOT_SIZE`]).
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Renders `painter` to `<base>.png` and `<base>.svg` at [`PLOT_SIZE`].
fn render<P: Painter>(base: &Path, painter: &P) -> Result<PlotFiles, ReportError> {
    ensure_font()?;
    let png = with_suffix(base, "png");
    let svg = with_suffix(base, "svg");
    create_parent(&png)?;
    let (w, h) = PLOT_SIZE;

    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = TextFix(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
        root.fill(&WHITE).map_err(|e| ReportError::draw(&png, e))?;
        painter
            .paint(&root)
            .map_err(|e| ReportError::draw(&png, e))?;
        root.present().map_err(|e| ReportError::draw(&png, e))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf)
        .ok_or_else(|| ReportError::invalid(png.display(), "bitmap buffer has the wrong size"))?;
    img.save_with_format(&png, image::ImageFormat::Png)
        .map_err(|e| ReportError::Image {
            path: png.clone(),
            msg: e.to_string(),
        })?;

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| ReportError::draw(&svg, e))?;
        painter
            .paint(&root)
            .map_err(|e| ReportError::draw(&svg, e))?;
        root.present().map_err(|e| ReportError::draw(&svg, e))?;
    }
    std::fs::write(&svg, text).map_err(|e| ReportError::io(&svg, e))?;
    Ok(PlotFiles { png, svg })
}

/// Marker shapes cycled through by series index.
#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Marker {
    fn for_index(i: usize) -> Self {
        match i % 4 {
            0 => Marker::Circle,
            1 => Marker::Square,
            2 => Marker::Triangle,
            _ => Marker::Diamond,
        }
    }

    /// The marker centred on `c`, as a drawable element.
    fn at<C>(self, c: C, color: RGBColor) -> MarkerAt<C> {
        MarkerAt {
            c,
            marker: self,
            color,
        }
    }
}

/// A filled marker of a given shape at one coordinate (about 9–10 px across).
struct MarkerAt<C> {
    c: C,
    marker: Marker,
    color: RGBColor,
}

impl<'a, C> PointCollection<'a, C> for &'a MarkerAt<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.c)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for MarkerAt<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let style = self.color.filled();
        match self.marker {
            Marker::Circle => backend.draw_circle((x, y), 4, &style, true),
            Marker::Square => backend.draw_rect((x - 4, y - 4), (x + 4, y + 4), &style, true),
            Marker::Triangle => {
                backend.fill_polygon([(x, y - 5), (x + 5, y + 4), (x - 5, y + 4)], &style)
            }
            Marker::Diamond => {
                backend.fill_polygon([(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)], &style)
            }
        }
    }
}

/// At most this many markers are drawn per curve; longer curves mark every k-th point.
const MAX_MARKERS: usize = 25;

/// Finite (min, max) over values, padded by `pad` of the span (or ±0.5 for a degenerate
/// span). `None` when there is no finite value.
fn padded_range(vals: impl Iterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        Some((lo - 0.5, hi + 0.5))
    } else {
        Some((lo - pad * span, hi + pad * span))
    }
}

/// Truncates a label to at most `max_chars` characters, ending with `…` when cut.
fn ellipsize(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Formats an axis tick: as many decimals as a tenth of the axis span needs (0–8),
/// trailing zeros trimmed, and no `-0` from rounding noise.
fn fmt_tick(v: f64, span: f64) -> String {
    let d = if span > 0.0 && span.is_finite() {
        (-(span / 10.0).log10()).ceil().clamp(0.0, 8.0) as usize
    } else {
        3
    };
    let mut s = format!("{v:.d$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

struct CurvesPainter<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    curves: &'a [Curve],
    x_range: (f64, f64),
    y_range: (f64, f64),
}

/// Width of the legend panel right of the curve chart.
const LEGEND_WIDTH: u32 = 230;

impl Painter for CurvesPainter<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (w, _) = root.dim_in_pixel();
        let (plot_area, legend_area) = root.split_horizontally(w - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(self.title, (FONT_FAMILY, 26))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                self.x_range.0..self.x_range.1,
                self.y_range.0..self.y_range.1,
            )?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_label_formatter(&|v| fmt_tick(*v, self.x_range.1 - self.x_range.0))
            .y_label_formatter(&|v| fmt_tick(*v, self.y_range.1 - self.y_range.0))
            .axis_desc_style((FONT_FAMILY, 18))
            .label_style((FONT_FAMILY, 14))
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()?;

        for (i, c) in self.curves.iter().enumerate() {
            let color = palette_color(i);
            if let Some((lo, hi)) = &c.band {
                let pts: Vec<(f64, f64, f64)> =
                    c.xs.iter()
                        .zip(lo.iter().zip(hi.iter()))
                        .map(|(&x, (&l, &h))| (x, l, h))
                        .filter(|(x, l, h)| x.is_finite() && l.is_finite() && h.is_finite())
                        .collect();
                if pts.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.2)).collect();
                    poly.extend(pts.iter().rev().map(|p| (p.0, p.1)));
                    chart.draw_series(std::iter::once(Polygon::new(
                        poly,
                        color.mix(0.18).filled(),
                    )))?;
                }
            }
        }
        for (i, c) in self.curves.iter().enumerate() {
            let color = palette_color(i);
            let pts: Vec<(f64, f64)> =
                c.xs.iter()
                    .zip(c.ys.iter())
                    .map(|(&x, &y)| (x, y))
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect();
            chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?;
            let step = pts.len().div_ceil(MAX_MARKERS).max(1);
            let marker = Marker::for_index(i);
            chart.draw_series(pts.iter().step_by(step).map(|&p| marker.at(p, color)))?;
        }

        // legend panel: one entry per curve, line + marker + label
        let legend = legend_area.margin(60, 10, 5, 10);
        let entry_h = 24;
        let font = (FONT_FAMILY, 15).into_font().color(&BLACK);
        for (i, c) in self.curves.iter().enumerate() {
            let y = 12 + entry_h * i as i32;
            let color = palette_color(i);
            legend.draw(&PathElement::new(
                vec![(2, y), (34, y)],
                color.stroke_width(2),
            ))?;
            legend.draw(&Marker::for_index(i).at((18, y), color))?;
            legend.draw_text(
                &ellipsize(&c.label, 24),
                &font.pos(Pos::new(HPos::Left, VPos::Center)),
                (42, y),
            )?;
        }
        Ok(())
    }
}

/// Draws `curves` as a line chart and writes `<path_without_ext>.png` and
/// `<path_without_ext>.svg` (each [`PLOT_SIZE`] = 1000×650; parent directories are
/// created; `.png`/`.svg` are appended, never substituted).
///
/// Curve `i` gets colour `PALETTE[i % 10]` and marker shape `i % 4` (circle, square,
/// triangle, diamond); markers are drawn on at most 25 points per curve (every k-th point).
/// A curve's `band`, if any, is drawn first as a translucent area (18% opacity). The legend
/// sits in a panel right of the chart, so it never hides data; labels longer than 24
/// characters are cut with `…`. Axis ranges span all finite values (including bands) with
/// 2% (x) / 5% (y) padding. Non-finite points are skipped.
///
/// Errors: [`ReportError::Invalid`] naming the PNG path if there are no curves, a curve's
/// `ys` or band lengths differ from its `xs`, or there is no finite point at all; I/O,
/// drawing and encoding errors name the file concerned.
pub fn plot_curves(
    path_without_ext: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    y_label: &str,
    curves: &[Curve],
) -> Result<PlotFiles, ReportError> {
    let base = path_without_ext.as_ref();
    let target = with_suffix(base, "png").display().to_string();
    if curves.is_empty() {
        return Err(ReportError::invalid(&target, "no curves to plot"));
    }
    for c in curves {
        if c.ys.len() != c.xs.len() {
            return Err(ReportError::invalid(
                &target,
                format!(
                    "curve {:?}: {} xs but {} ys",
                    c.label,
                    c.xs.len(),
                    c.ys.len()
                ),
            ));
        }
        if let Some((lo, hi)) = &c.band {
            if lo.len() != c.xs.len() || hi.len() != c.xs.len() {
                return Err(ReportError::invalid(
                    &target,
                    format!(
                        "curve {:?}: band lengths {}/{} differ from {} xs",
                        c.label,
                        lo.len(),
                        hi.len(),
                        c.xs.len()
                    ),
                ));
            }
        }
    }
    let x_range = padded_range(curves.iter().flat_map(|c| c.xs.iter().copied()), 0.02);
    let y_range = padded_range(
        curves.iter().flat_map(|c| {
            let band = c
                .band
                .iter()
                .flat_map(|(l, h)| l.iter().chain(h.iter()).copied());
            c.ys.iter().copied().chain(band)
        }),
        0.05,
    );
    let (Some(x_range), Some(y_range)) = (x_range, y_range) else {
        return Err(ReportError::invalid(&target, "no finite data point"));
    };
    render(
        base,
        &CurvesPainter {
            title,
            x_label,
            y_label,
            curves,
            x_range,
            y_range,
        },
    )
}

struct BarsPainter<'a> {
    title: &'a str,
    x_label: &'a str,
    labels: Vec<String>,
    rows: Vec<(f64, f64, f64)>,
    x_range: (f64, f64),
}

impl Painter for BarsPainter<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.rows.len();
        let longest = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1);
        let label_area = (longest as u32 * 9 + 20).clamp(60, 300);
        let labels = &self.labels;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT_FAMILY, 26))
            .margin(15)
            .margin_right(40)
            .x_label_area_size(50)
            .y_label_area_size(label_area)
            .build_cartesian_2d(
                self.x_range.0..self.x_range.1,
                // discrete i32 ranges include their end: 0..n-1 gives n segments
                (0..n as i32 - 1).into_segmented(),
            )?;
        let fmt = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) if *i >= 0 && (*i as usize) < n => {
                // row 0 is drawn at the top
                labels[n - 1 - *i as usize].clone()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .x_label_formatter(&|v| fmt_tick(*v, self.x_range.1 - self.x_range.0))
            .axis_desc_style((FONT_FAMILY, 18))
            .label_style((FONT_FAMILY, 15))
            .y_labels(n)
            .y_label_formatter(&fmt)
            .disable_y_mesh()
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()?;

        let base = if self.x_range.0 <= 0.0 && self.x_range.1 >= 0.0 {
            0.0
        } else {
            self.x_range.0
        };
        for (i, &(v, lo, hi)) in self.rows.iter().enumerate() {
            let seg = (n - 1 - i) as i32;
            let color = palette_color(i);
            if v.is_finite() {
                let mut bar = Rectangle::new(
                    [
                        (base, SegmentValue::Exact(seg)),
                        (v, SegmentValue::Exact(seg + 1)),
                    ],
                    color.filled(),
                );
                bar.set_margin(8, 8, 0, 0);
                chart.draw_series(std::iter::once(bar))?;
            }
            if lo.is_finite() && hi.is_finite() && v.is_finite() {
                // error bar: horizontal line lo..hi with vertical caps of ±6 px
                let style = BLACK.stroke_width(2);
                let centre = SegmentValue::CenterOf(seg);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(lo, centre.clone()), (hi, centre.clone())],
                    style,
                )))?;
                chart.draw_series([lo, hi].into_iter().map(|x| {
                    EmptyElement::at((x, centre.clone()))
                        + PathElement::new(vec![(0, -6), (0, 6)], style)
                }))?;
            }
            let text_x = [v, hi]
                .into_iter()
                .filter(|x| x.is_finite())
                .fold(base, f64::max);
            chart.draw_series(std::iter::once(
                EmptyElement::at((text_x, SegmentValue::CenterOf(seg)))
                    + Text::new(
                        format!("{v:.4}"),
                        (6, 0),
                        (FONT_FAMILY, 14)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ),
            ))?;
        }
        Ok(())
    }
}

/// Draws a horizontal bar chart with confidence intervals and writes
/// `<path_without_ext>.png` and `<path_without_ext>.svg` ([`PLOT_SIZE`]).
///
/// `rows` are `(label, value, ci_low, ci_high)`; the first row is drawn at the top, bar `i`
/// in `PALETTE[i % 10]`, the CI as a black error bar, and the value (4 decimals) printed
/// right of the bar/CI. Bars start at 0 when 0 is in the axis range, otherwise at the left
/// edge. `x_label` describes the value axis. A row with a non-finite value draws no bar; a
/// non-finite CI end draws no error bar.
///
/// Errors: [`ReportError::Invalid`] naming the PNG path for no rows or no finite value;
/// I/O, drawing and encoding errors name the file concerned.
pub fn plot_bars_with_ci<L: AsRef<str>>(
    path_without_ext: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    rows: &[(L, f64, f64, f64)],
) -> Result<PlotFiles, ReportError> {
    let base = path_without_ext.as_ref();
    let target = with_suffix(base, "png").display().to_string();
    if rows.is_empty() {
        return Err(ReportError::invalid(&target, "no bars to plot"));
    }
    let vals = rows
        .iter()
        .flat_map(|r| [r.1, r.2, r.3])
        .chain(std::iter::once(0.0));
    if !rows.iter().any(|r| r.1.is_finite()) {
        return Err(ReportError::invalid(&target, "no finite bar value"));
    }
    let Some((lo, hi)) = padded_range(vals, 0.0) else {
        return Err(ReportError::invalid(&target, "no finite bar value"));
    };
    // room on the right for the value text, a little on the left
    let span = hi - lo;
    let x_range = (
        if lo < 0.0 { lo - 0.05 * span } else { lo },
        hi + 0.15 * span,
    );
    render(
        base,
        &BarsPainter {
            title,
            x_label,
            labels: rows.iter().map(|r| ellipsize(r.0.as_ref(), 32)).collect(),
            rows: rows.iter().map(|r| (r.1, r.2, r.3)).collect(),
            x_range,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::test_dir;

    fn check_png(path: &Path) -> image::RgbImage {
        let img = image::open(path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), PLOT_SIZE);
        let first = *img.get_pixel(0, 0);
        assert!(img.pixels().any(|p| *p != first), "PNG is a single colour");
        img
    }

    fn count_color(img: &image::RgbImage, c: RGBColor) -> usize {
        img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
    }

    #[test]
    fn curves_png_and_svg() {
        let dir = test_dir("curves");
        let xs: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
        let curves: Vec<Curve> = (0..3)
            .map(|k| {
                let ys: Vec<f64> = xs.iter().map(|x| (1.0 - x).powi(k + 1)).collect();
                Curve {
                    label: format!("method-{k} <&>"),
                    band: (k == 0).then(|| {
                        (
                            ys.iter().map(|y| y - 0.05).collect(),
                            ys.iter().map(|y| y + 0.05).collect(),
                        )
                    }),
                    xs: xs.clone(),
                    ys,
                }
            })
            .collect();
        let files = plot_curves(
            dir.join("sub/pert_0.5"),
            "Positive perturbation",
            "fraction removed",
            "accuracy",
            &curves,
        )
        .unwrap();
        assert_eq!(files.png, dir.join("sub/pert_0.5.png"));
        assert_eq!(files.svg, dir.join("sub/pert_0.5.svg"));
        let img = check_png(&files.png);
        for (k, c) in PALETTE.iter().take(3).enumerate() {
            assert!(count_color(&img, *c) > 50, "curve colour {k} missing");
        }
        let svg = std::fs::read_to_string(&files.svg).unwrap();
        assert!(svg.starts_with("<svg"));
        for s in [
            "Positive perturbation",
            "fraction removed",
            "accuracy",
            "method-0 &lt;&amp;&gt;",
            "method-2",
        ] {
            assert!(svg.contains(s), "SVG lacks {s}");
        }
        assert!(svg.contains("#4E79A7") || svg.contains("#4e79a7"));
        // deterministic
        let png1 = std::fs::read(&files.png).unwrap();
        let svg1 = svg.clone();
        plot_curves(
            dir.join("sub/pert_0.5"),
            "Positive perturbation",
            "fraction removed",
            "accuracy",
            &curves,
        )
        .unwrap();
        assert_eq!(png1, std::fs::read(&files.png).unwrap());
        assert_eq!(svg1, std::fs::read_to_string(&files.svg).unwrap());
    }

    #[test]
    fn tick_format() {
        assert_eq!(fmt_tick(-1e-17, 0.9), "0");
        assert_eq!(fmt_tick(0.1, 0.9), "0.1");
        assert_eq!(fmt_tick(0.25, 0.9), "0.25");
        assert_eq!(fmt_tick(-0.3, 0.9), "-0.3");
        assert_eq!(fmt_tick(200.0, 1000.0), "200");
        assert_eq!(fmt_tick(0.002, 0.01), "0.002");
    }

    #[test]
    fn curves_reject_bad_input() {
        let dir = test_dir("curves_bad");
        let bad = Curve {
            label: "x".into(),
            xs: vec![0.0, 1.0],
            ys: vec![1.0],
            band: None,
        };
        let err = plot_curves(dir.join("c"), "t", "x", "y", &[bad]).unwrap_err();
        assert!(matches!(err, ReportError::Invalid { .. }));
        assert!(err.to_string().contains("c.png"), "{err}");
        assert!(plot_curves(dir.join("c"), "t", "x", "y", &[]).is_err());
        let nan = Curve {
            label: "x".into(),
            xs: vec![f64::NAN],
            ys: vec![f64::NAN],
            band: None,
        };
        assert!(plot_curves(dir.join("c"), "t", "x", "y", &[nan]).is_err());
        assert!(!dir.join("c.png").exists());
    }

    #[test]
    fn single_point_curve_and_many_curves() {
        let dir = test_dir("curves_many");
        let curves: Vec<Curve> = (0..12)
            .map(|k| Curve {
                label: format!("c{k}"),
                xs: vec![0.0, 1.0],
                ys: vec![k as f64, k as f64 + 0.5],
                band: None,
            })
            .chain(std::iter::once(Curve {
                label: "point".into(),
                xs: vec![0.5],
                ys: vec![3.0],
                band: None,
            }))
            .collect();
        let files = plot_curves(dir.join("many"), "t", "x", "y", &curves).unwrap();
        let img = check_png(&files.png);
        for c in PALETTE {
            assert!(count_color(&img, c) > 20);
        }
    }

    #[test]
    fn bars_png_and_svg() {
        let dir = test_dir("bars");
        let rows = vec![
            ("rollout", 0.41, 0.38, 0.44),
            ("transformer-attribution", 0.55, 0.52, 0.58),
            ("ours", 0.63, 0.60, 0.66),
        ];
        let files =
            plot_bars_with_ci(dir.join("miou"), "Segmentation mIoU", "mIoU", &rows).unwrap();
        let img = check_png(&files.png);
        // the first row is on top; bars fill the plot height (no empty segment)
        let mean_y = |c: RGBColor| {
            let ys: Vec<u32> = img
                .enumerate_pixels()
                .filter(|(_, _, p)| p.0 == [c.0, c.1, c.2])
                .map(|(_, y, _)| y)
                .collect();
            assert!(ys.len() > 500, "bar colour {c:?} missing");
            ys.iter().sum::<u32>() as f64 / ys.len() as f64
        };
        let (y0, y1, y2) = (mean_y(PALETTE[0]), mean_y(PALETTE[1]), mean_y(PALETTE[2]));
        assert!(y0 < y1 && y1 < y2, "{y0} {y1} {y2}");
        assert!(y0 < 650.0 / 3.0, "top bar too low: {y0}");
        // a single bar works
        let one = plot_bars_with_ci(dir.join("one"), "t", "v", &[("only", 0.5, 0.4, 0.6)]).unwrap();
        assert!(count_color(&check_png(&one.png), PALETTE[0]) > 5000);
        let svg = std::fs::read_to_string(&files.svg).unwrap();
        for s in [
            "Segmentation mIoU",
            "rollout",
            "transformer-attribution",
            "ours",
            "0.6300",
        ] {
            assert!(svg.contains(s), "SVG lacks {s}");
        }
        // negative values and owned labels work too
        let rows2 = vec![
            ("a".to_string(), -0.2, -0.3, -0.1),
            ("b".to_string(), 0.4, 0.3, 0.5),
        ];
        plot_bars_with_ci(dir.join("neg"), "t", "v", &rows2).unwrap();
        let empty: Vec<(&str, f64, f64, f64)> = vec![];
        assert!(plot_bars_with_ci(dir.join("e"), "t", "v", &empty).is_err());
    }
}
