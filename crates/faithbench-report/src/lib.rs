//! Reporting for faithbench: summary tables (CSV and Markdown), regression diffs, plots
//! (curves and bar charts with confidence intervals, PNG + SVG), heat-map overlays on
//! images, and token heat maps as standalone HTML pages.
//!
//! This crate is deliberately independent of burn and of the models: it consumes the summary
//! types of `faithbench-eval` (rows, curves), plain numbers, strings and [`image::RgbImage`]s.
//!
//! Text is rendered with DejaVu Sans, which is shipped in `assets/` and compiled into the
//! binary (see [`ensure_font`]); no system fonts or fontconfig are needed.
//!
//! Modules:
//! - [`table`] — [`table::SummaryRow`], summary CSV read/write, Markdown tables and diffs.
//! - [`plot`] — [`plot::plot_curves`] and [`plot::plot_bars_with_ci`].
//! - [`overlay`] — the `jet` colour map, [`overlay::heatmap_overlay`], [`overlay::side_by_side`]
//!   and [`overlay::gallery_html`].
//! - [`tokens_html`] — [`tokens_html::token_heatmap_html`].
//! - [`leaderboard`] — the leaderboard of `faithbench report`: ranking, compact letters,
//!   Markdown and the self-contained HTML page.

#![warn(missing_docs)]

mod error;
mod font;
pub mod html;
pub mod leaderboard;
pub mod overlay;
pub mod plot;
pub mod table;
pub mod tokens_html;

pub use error::ReportError;
pub use font::{ensure_font, FONT_FAMILY};

/// Convenience alias for results of this crate.
pub type Result<T> = std::result::Result<T, ReportError>;
