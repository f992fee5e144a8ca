//! The shipped font and its one-time registration with plotters.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::style::FontStyle;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use crate::ReportError;

/// The font family name under which the shipped DejaVu Sans is registered with plotters.
///
/// It is plotters' default family, so every chart element (title, axis labels, legend)
/// uses the shipped font without further configuration. SVG files only name this family
/// (`font-family="sans-serif"`) and leave glyph rendering to the viewer.
pub const FONT_FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Outcome of the one-time registration (error text on failure).
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the shipped DejaVu Sans with plotters as [`FONT_FAMILY`] (normal, bold and
/// italic styles all map to it).
///
/// The registration runs exactly once per process (a [`OnceLock`], i.e. `std::sync::Once`
/// underneath); later calls return the stored outcome. Every drawing function of this crate
/// calls it, so users normally never need to.
pub fn ensure_font() -> Result<(), ReportError> {
    REGISTERED
        .get_or_init(|| {
            for style in [
                FontStyle::Normal,
                FontStyle::Bold,
                FontStyle::Italic,
                FontStyle::Oblique,
            ] {
                plotters::style::register_font(FONT_FAMILY, style, FONT_BYTES)
                    .map_err(|_| "the TTF could not be parsed".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(ReportError::Font)
}

/// The shipped font parsed for direct rasterisation (`None` if it fails to parse).
fn font_ref() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// Error raised by [`TextFix`] when the shipped font cannot be parsed.
#[derive(Debug)]
struct FontParseError;

impl std::fmt::Display for FontParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the shipped DejaVuSans.ttf could not be parsed")
    }
}

impl std::error::Error for FontParseError {}

/// Horizontal layout of `text` at pixel scale `size`: the caret x of every glyph, the total
/// advance width, and the scaled ascent and descent (descent ≤ 0).
fn layout(
    font: &FontRef<'static>,
    size: f32,
    text: &str,
) -> (Vec<(ab_glyph::GlyphId, f32)>, f32, f32, f32) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut caret = 0.0f32;
    let mut prev: Option<ab_glyph::GlyphId> = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        glyphs.push((id, caret));
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    (glyphs, caret, scaled.ascent(), scaled.descent())
}

/// A bitmap-backend wrapper that rasterises text itself with the shipped font.
///
/// plotters 0.3.7's `ab_glyph` text path drops each glyph's left side bearing and
/// truncates the caret to whole pixels, which gives visibly uneven letter spacing
/// ("Positi ve"). This wrapper delegates every primitive to the inner backend except
/// [`DrawingBackend::draw_text`] and [`DrawingBackend::estimate_text_size`], which place
/// glyphs at their sub-pixel caret position with their proper bounds (anchors and the
/// 90° rotations of axis titles are honoured). The font family in the style is ignored:
/// DejaVu Sans is the only font shipped. Used for PNG output only; SVG output leaves text
/// to the viewer.
pub(crate) struct TextFix<B>(pub(crate) B);

impl<B: DrawingBackend> DrawingBackend for TextFix<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let font =
            font_ref().ok_or_else(|| DrawingErrorKind::FontError(Box::new(FontParseError)))?;
        let (_, width, ascent, descent) = layout(font, style.size() as f32, text);
        Ok((width.ceil() as u32, (ascent - descent).ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let font =
            font_ref().ok_or_else(|| DrawingErrorKind::FontError(Box::new(FontParseError)))?;
        let size = style.size() as f32;
        let scale = PxScale::from(size);
        let (glyphs, width, ascent, descent) = layout(font, size, text);
        let height = ascent - descent;
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let mut result = Ok(());
        for (id, caret) in glyphs {
            // glyph origin on the baseline, in text-box coordinates with the anchor applied
            let glyph = id.with_scale_and_position(scale, point(caret + dx, ascent + dy.round()));
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                if cov <= 0.0 || result.is_err() {
                    return;
                }
                let lx = b.min.x as i32 + gx as i32;
                let ly = b.min.y as i32 + gy as i32;
                let (tx, ty) = trans.transform(lx, ly);
                let (x, y) = (pos.0 + tx, pos.1 + ty);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    result = self.0.draw_pixel(
                        (x, y),
                        BackendColor {
                            alpha: color.alpha * cov.min(1.0) as f64,
                            rgb: color.rgb,
                        },
                    );
                }
            });
            if result.is_err() {
                break;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_registers_and_is_idempotent() {
        ensure_font().unwrap();
        ensure_font().unwrap();
        // the shipped file is a real TrueType font (sfnt version 0x00010000)
        assert_eq!(&FONT_BYTES[..4], &[0, 1, 0, 0]);
        assert!(FONT_BYTES.len() > 100_000);
    }
}
