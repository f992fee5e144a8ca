//! Token heat maps as standalone HTML pages (for BERT-style text explanations).

use std::fmt::Write as _;

use crate::html::escape;
use crate::ReportError;

/// How special tokens (see [`TokenHtmlOptions::special_tokens`]) are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecialTokens {
    /// Shown in grey italics, without a heat colour (the default).
    #[default]
    Grey,
    /// Left out of the text entirely.
    Omit,
}

/// Options of [`token_heatmap_html_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct TokenHtmlOptions {
    /// Tokens treated as special (exact match). Default: `[CLS]`, `[SEP]`, `[PAD]`,
    /// `<|startoftext|>`, `<|endoftext|>`.
    pub special_tokens: Vec<String>,
    /// How special tokens are shown.
    pub special: SpecialTokens,
    /// Prefix marking a word-piece continuation (default `##`): such a token is shown
    /// without the prefix and joined to the previous token with no space.
    pub continuation_prefix: String,
}

impl Default for TokenHtmlOptions {
    fn default() -> Self {
        TokenHtmlOptions {
            special_tokens: [
                "[CLS]",
                "[SEP]",
                "[PAD]",
                "<|startoftext|>",
                "<|endoftext|>",
            ]
            .map(String::from)
            .to_vec(),
            special: SpecialTokens::Grey,
            continuation_prefix: "##".to_string(),
        }
    }
}

/// Background colour for a normalised score `t` in [0, 1]: linear from white (0) to pure
/// red (1), i.e. `rgb(255, g, g)` with `g = round(255·(1 − t))`. Out-of-range and NaN
/// values are clamped (NaN → white).
pub fn score_color(t: f32) -> (u8, u8, u8) {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let g = (255.0 * (1.0 - t)).round() as u8;
    (255, g, g)
}

/// Min–max normalises non-negative scores: negative scores and NaN count as 0, then
/// `t = (s − min) / (max − min)` over the entries where `include` is true. Entries not
/// included get 0; if `max == min` every entry gets 0.
pub fn normalise_scores(scores: &[f32], include: &[bool]) -> Vec<f32> {
    let clean: Vec<f32> = scores
        .iter()
        .map(|&s| if s.is_nan() { 0.0 } else { s.max(0.0) })
        .collect();
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for (s, _) in clean.iter().zip(include).filter(|(_, &inc)| inc) {
        lo = lo.min(*s);
        hi = hi.max(*s);
    }
    clean
        .iter()
        .zip(include)
        .map(|(&s, &inc)| {
            if inc && hi > lo && hi.is_finite() {
                (s - lo) / (hi - lo)
            } else {
                0.0
            }
        })
        .collect()
}

/// [`token_heatmap_html_with`] with the default [`TokenHtmlOptions`] (`##` word pieces,
/// special tokens greyed).
pub fn token_heatmap_html(
    title: &str,
    tokens: &[String],
    scores: &[f32],
    meta: &[(String, String)],
) -> Result<String, ReportError> {
    token_heatmap_html_with(title, tokens, scores, meta, &TokenHtmlOptions::default())
}

/// Renders tokens and their attribution scores as a standalone UTF-8 HTML page (inline
/// CSS, no scripts, no external resources).
///
/// - Each token is a `<span class="tok">` whose background is
///   [`score_color`] of its [`normalise_scores`] value; normalisation runs over the
///   non-special tokens only (special tokens often carry outlying scores). Its `title`
///   tooltip shows the raw score (6 decimals) and the normalised one (3 decimals).
/// - A token starting with [`TokenHtmlOptions::continuation_prefix`] is shown without it
///   and follows the previous token with no space; a word (head + continuations) never
///   breaks across lines.
/// - Special tokens are greyed or omitted per [`TokenHtmlOptions::special`].
/// - `meta` pairs (e.g. model, label, prediction, explainer) are listed in a table above
///   the text; a colour legend (white→red gradient with the raw min and max) follows it.
/// - All text (title, tokens, meta) is HTML-escaped.
///
/// Errors: [`ReportError::Invalid`] (target `token_heatmap_html`) when `tokens` and
/// `scores` differ in length.
pub fn token_heatmap_html_with(
    title: &str,
    tokens: &[String],
    scores: &[f32],
    meta: &[(String, String)],
    opts: &TokenHtmlOptions,
) -> Result<String, ReportError> {
    if tokens.len() != scores.len() {
        return Err(ReportError::invalid(
            "token_heatmap_html",
            format!("{} tokens but {} scores", tokens.len(), scores.len()),
        ));
    }
    let is_special: Vec<bool> = tokens
        .iter()
        .map(|t| opts.special_tokens.iter().any(|s| s == t))
        .collect();
    let include: Vec<bool> = is_special.iter().map(|s| !s).collect();
    let norm = normalise_scores(scores, &include);
    let raw_range = scores
        .iter()
        .zip(&include)
        .filter(|(s, &inc)| inc && !s.is_nan())
        .map(|(s, _)| *s)
        .fold(None, |acc: Option<(f32, f32)>, s| match acc {
            None => Some((s, s)),
            Some((lo, hi)) => Some((lo.min(s), hi.max(s))),
        });

    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{t}</title>\n<style>\n{css}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title),
        css = CSS
    );
    if !meta.is_empty() {
        h.push_str("<table class=\"meta\">\n");
        for (k, v) in meta {
            let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
        }
        h.push_str("</table>\n");
    }
    // legend
    let (lo_txt, hi_txt) = match raw_range {
        Some((lo, hi)) => (format!("{:.4}", lo.max(0.0)), format!("{:.4}", hi.max(0.0))),
        None => ("–".to_string(), "–".to_string()),
    };
    let _ = writeln!(
        h,
        "<div class=\"legend\"><span class=\"lab\">min {lo_txt}</span>\
<span class=\"bar\" title=\"white = lowest, red = highest attribution (min–max normalised, negatives as 0)\"></span>\
<span class=\"lab\">max {hi_txt}</span></div>"
    );

    h.push_str("<div class=\"text\">");
    let is_cont: Vec<bool> = tokens
        .iter()
        .zip(&is_special)
        .map(|(tok, &special)| {
            !special
                && !opts.continuation_prefix.is_empty()
                && tok.starts_with(&opts.continuation_prefix)
                && tok.len() > opts.continuation_prefix.len()
        })
        .collect();
    let shown_idx: Vec<usize> = (0..tokens.len())
        .filter(|&i| !(is_special[i] && opts.special == SpecialTokens::Omit))
        .collect();
    let mut word_open = false;
    let mut first = true;
    for (k, &i) in shown_idx.iter().enumerate() {
        let tok = &tokens[i];
        let special = is_special[i];
        let cont = is_cont[i];
        // joined to the next shown token? (then square off the right corners)
        let joined_right = shown_idx.get(k + 1).is_some_and(|&j| is_cont[j]);
        let shown = if cont {
            &tok[opts.continuation_prefix.len()..]
        } else {
            tok.as_str()
        };
        let word_open_before = word_open;
        if !(cont && word_open) {
            if word_open {
                h.push_str("</span>");
            }
            if !first {
                h.push(' ');
            }
            h.push_str("<span class=\"w\">");
            word_open = true;
        }
        first = false;
        if special {
            let _ = write!(
                h,
                "<span class=\"tok sp\" title=\"special token; score {:.6}\">{}</span>",
                scores[i],
                escape(shown)
            );
        } else {
            let (r, g, b) = score_color(norm[i]);
            let class = match (cont && word_open_before, joined_right) {
                (false, false) => "tok",
                (true, false) => "tok jl",
                (false, true) => "tok jr",
                (true, true) => "tok jl jr",
            };
            let _ = write!(
                h,
                "<span class=\"{class}\" style=\"background:#{r:02x}{g:02x}{b:02x}\" \
title=\"{tip}\">{txt}</span>",
                tip = escape(&format!(
                    "{tok}: score {:.6}, normalised {:.3}",
                    scores[i], norm[i]
                )),
                txt = escape(shown)
            );
        }
    }
    if word_open {
        h.push_str("</span>");
    }
    h.push_str("</div>\n</body>\n</html>\n");
    Ok(h)
}

/// The page's style sheet.
const CSS: &str = "\
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 24px; color: #111; background: #fff; }
h1 { font-size: 20px; margin: 0 0 12px 0; }
table.meta { border-collapse: collapse; font-size: 14px; margin-bottom: 12px; }
table.meta th { text-align: left; padding: 2px 12px 2px 0; color: #555; font-weight: normal; }
table.meta td { padding: 2px 0; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 13px; color: #444; margin-bottom: 16px; }
.legend .bar { display: inline-block; width: 220px; height: 14px; border: 1px solid #999;
  background: linear-gradient(to right, #ffffff, #ff0000); }
.text { font-size: 18px; line-height: 2.1; max-width: 60em; }
.w { white-space: nowrap; }
.tok { padding: 3px 1px; border-radius: 3px; }
.tok.jl { border-top-left-radius: 0; border-bottom-left-radius: 0; padding-left: 0; }
.tok.jr { border-top-right-radius: 0; border-bottom-right-radius: 0; padding-right: 0; }
.tok.sp { color: #999; font-style: italic; font-size: 14px; background: #f1f1f1; }
";

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn colours_of_max_and_min_tokens() {
        let t = toks(&["[CLS]", "good", "movie", "[SEP]"]);
        let h = token_heatmap_html("t", &t, &[9.0, 0.8, 0.2, -3.0], &[]).unwrap();
        // "good" is the max (special tokens excluded from normalisation), "movie" the min
        assert!(h.contains("style=\"background:#ff0000\" title=\"good: score 0.800000, normalised 1.000\">good</span>"), "{h}");
        assert!(h.contains("style=\"background:#ffffff\" title=\"movie: score 0.200000, normalised 0.000\">movie</span>"), "{h}");
        assert!(h.contains(
            "<span class=\"tok sp\" title=\"special token; score 9.000000\">[CLS]</span>"
        ));
        assert!(h.contains("min 0.2000") && h.contains("max 0.8000"));
        assert_eq!(score_color(0.5), (255, 128, 128));
    }

    #[test]
    fn escapes_tokens_title_and_meta() {
        let t = toks(&["<script>alert(1)</script>", "a&b", "\"q\""]);
        let meta = vec![("label<".to_string(), "pos\"itive".to_string())];
        let h = token_heatmap_html("<b>T</b>", &t, &[0.1, 0.2, 0.3], &meta).unwrap();
        assert!(!h.contains("<script>"), "{h}");
        assert!(!h.contains("<b>T"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;</span>"));
        assert!(h.contains(">a&amp;b</span>"));
        assert!(h.contains(">&quot;q&quot;</span>"));
        assert!(h.contains("<title>&lt;b&gt;T&lt;/b&gt;</title>"));
        assert!(h.contains("<tr><th>label&lt;</th><td>pos&quot;itive</td></tr>"));
        assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<meta charset=\"utf-8\">"));
        assert!(!h.contains("http://") && !h.contains("https://") && !h.contains("<link"));
    }

    #[test]
    fn wordpieces_join_and_special_tokens_can_be_omitted() {
        let t = toks(&[
            "[CLS]", "un", "##believ", "##able", "film", "[SEP]", "[PAD]",
        ]);
        let s = [0.0, 1.0, 0.5, 0.0, 0.25, 0.0, 0.0];
        let h = token_heatmap_html("t", &t, &s, &[]).unwrap();
        // one nowrap word span holding the three pieces, no space between them
        let word = h
            .split("<span class=\"w\">")
            .find(|w| w.contains(">un</span>"))
            .unwrap();
        assert!(word.contains("class=\"tok jr\""), "{word}");
        assert!(
            word.contains(">un</span><span class=\"tok jl jr\""),
            "{word}"
        );
        assert!(
            word.contains(">believ</span><span class=\"tok jl\""),
            "{word}"
        );
        assert!(word.contains(">able</span></span> "), "{word}");
        // the prefix only survives in the tooltips (raw token), never in the shown text
        assert!(!h.contains(">##"));
        assert!(h.contains("title=\"##believ: score 0.500000, normalised 0.500\""));
        assert_eq!(h.matches("class=\"tok sp\"").count(), 3);

        let opts = TokenHtmlOptions {
            special: SpecialTokens::Omit,
            ..Default::default()
        };
        let h = token_heatmap_html_with("t", &t, &s, &[], &opts).unwrap();
        assert!(!h.contains("[CLS]") && !h.contains("[PAD]") && !h.contains("tok sp"));
        assert!(h.contains("<div class=\"text\"><span class=\"w\"><span class=\"tok jr\""));
    }

    #[test]
    fn normalisation_edge_cases() {
        assert_eq!(
            normalise_scores(&[-1.0, 0.0, 2.0, f32::NAN], &[true; 4]),
            vec![0.0, 0.0, 1.0, 0.0]
        );
        assert_eq!(normalise_scores(&[3.0, 3.0], &[true, true]), vec![0.0, 0.0]);
        assert_eq!(
            normalise_scores(&[1.0, 2.0, 3.0], &[true, false, true]),
            vec![0.0, 0.0, 1.0]
        );
        let err = token_heatmap_html("t", &toks(&["a"]), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("1 tokens but 0 scores"));
        // empty input is a valid (empty) page
        let h = token_heatmap_html("t", &[], &[], &[]).unwrap();
        assert!(h.contains("min –"));
    }
}
