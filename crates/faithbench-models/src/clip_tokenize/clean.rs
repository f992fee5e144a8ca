//! The text clean-up OpenAI's CLIP tokenizer applies before BPE: `ftfy.fix_text`, then
//! `html.unescape` twice, strip, whitespace collapse, lower-casing.
//!
//! ftfy cannot be ported whole. [`fix_text`] implements what ftfy 6.3 does to text that is not
//! mojibake, in ftfy's order, repeated until nothing changes, per line (ftfy fixes every line
//! on its own; once a line contains `<`, HTML unescaping is off for it and all later lines):
//!
//! 1. `unescape_html`: entities ending in `;` from the HTML5 table (`&eacute;`), the upper-case
//!    spelling of lower-case entities (`&EACUTE;` → `É`) when that spelling is not an entity
//!    itself, and numeric references `&#…;` (a reference decoding to `;` is left alone);
//! 2. *(not implemented)* `fix_encoding`: mojibake detection and repair (`Ã©` → `é`), with its
//!    sub-steps `restore_byte_a0`, `replace_lossy_sequences` and `decode_inconsistent_utf8`;
//!    this needs ftfy's statistical "badness" heuristic and its single-byte codecs;
//! 3. `fix_c1_controls`: U+0080–U+009F read as Windows-1252 (undefined bytes kept);
//! 4. `fix_latin_ligatures`: `ﬁ` → `fi`, `Ĳ` → `IJ`, `ǆ` → `dž`, … (ftfy's 22 characters);
//! 5. `fix_character_width`: fullwidth and halfwidth forms U+FF01–U+FFEF to their NFKC form,
//!    U+3000 ideographic space to a space;
//! 6. `uncurl_quotes`: U+02BC, U+2018–U+201B → `'`; U+201C–U+201F → `"`;
//! 7. `fix_line_breaks`: CRLF, CR, U+2028, U+2029, U+0085 → `\n`;
//! 8. `fix_surrogates`: a no-op here (a Rust `&str` cannot hold surrogates);
//! 9. `remove_terminal_escapes`: `ESC [ (digits|;)* letter`;
//! 10. `remove_control_chars`: U+0000–U+0008, U+000B, U+000E–U+001F, U+007F, U+206A–U+206F,
//!     U+FEFF, U+FFF9–U+FFFC;
//! 11. NFC normalisation.
//!
//! [`html_unescape`] is Python's `html.unescape` (HTML5 named references, also the legacy ones
//! without `;` and their longest-prefix rule, numeric references with the HTML5 replacements).
//! The entity table is `data/html5_entities.txt`, generated from Python's
//! `html.entities.html5` by `scripts/fixtures/make_clip_tokenizer_fixture.py`.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

static ENTITY_TABLE: &str = include_str!("../../data/html5_entities.txt");

/// The HTML5 named character references, keyed without the leading `&` (with the `;` where the
/// name has one): Python's `html.entities.html5`.
fn html5() -> &'static HashMap<String, String> {
    static T: OnceLock<HashMap<String, String>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m = HashMap::new();
        for line in ENTITY_TABLE.lines() {
            let mut parts = line.split('\t');
            let (Some(name), Some(cps)) = (parts.next(), parts.next()) else {
                continue;
            };
            let value: String = cps
                .split(' ')
                .filter_map(|h| u32::from_str_radix(h, 16).ok())
                .filter_map(char::from_u32)
                .collect();
            m.insert(name.to_string(), value);
        }
        m
    })
}

/// ftfy's `HTML_ENTITIES`: `&name;` for every HTML5 name ending in `;`, plus the upper-cased
/// spelling of all-lower-case names when `html.unescape` leaves that spelling alone.
fn ftfy_entities() -> &'static HashMap<String, String> {
    static T: OnceLock<HashMap<String, String>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m = HashMap::new();
        let table = html5();
        let mut names: Vec<&String> = table.keys().filter(|k| k.ends_with(';')).collect();
        names.sort();
        for name in names {
            let value = &table[name];
            m.insert(format!("&{name}"), value.clone());
            if *name == name.to_lowercase() {
                let upper = format!("&{}", name.to_uppercase());
                if html_unescape(&upper) == upper {
                    m.insert(upper, value.to_uppercase());
                }
            }
        }
        m
    })
}

/// Number of entries of ftfy's entity table (the tokenizer test compares it with ftfy's).
pub fn ftfy_entity_count() -> usize {
    ftfy_entities().len()
}

/// Windows-1252 for 0x80..=0x9F, undefined bytes mapped to themselves (ftfy's
/// "sloppy-windows-1252", also the HTML5 numeric-reference replacements).
const CP1252_C1: [u32; 32] = [
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
];

fn cp1252_c1(c: char) -> char {
    let u = c as u32;
    if (0x80..=0x9F).contains(&u) {
        char::from_u32(CP1252_C1[(u - 0x80) as usize]).unwrap_or(c)
    } else {
        c
    }
}

/// Python's `html._invalid_codepoints`: numeric references to these decode to nothing.
fn invalid_codepoint(n: u32) -> bool {
    matches!(n, 0x1..=0x8 | 0xB | 0xE..=0x1F | 0x7F..=0x9F | 0xFDD0..=0xFDEF)
        || (n & 0xFFFE == 0xFFFE && n <= 0x10FFFF)
}

/// A numeric character reference as Python's `html.unescape` decodes it.
fn numeric_charref(num: Option<u32>) -> String {
    let Some(n) = num else {
        return '\u{FFFD}'.to_string(); // too large for u32: > 0x10FFFF
    };
    match n {
        0x00 => '\u{FFFD}'.to_string(),
        0x0D => '\r'.to_string(),
        0x80..=0x9F => char::from_u32(CP1252_C1[(n - 0x80) as usize])
            .map(String::from)
            .unwrap_or_default(),
        0xD800..=0xDFFF => '\u{FFFD}'.to_string(),
        n if n > 0x10FFFF => '\u{FFFD}'.to_string(),
        n if invalid_codepoint(n) => String::new(),
        n => char::from_u32(n).map(String::from).unwrap_or_default(),
    }
}

fn parse_num(digits: &[char], radix: u32) -> Option<u32> {
    let mut v: u64 = 0;
    for &d in digits {
        v = v * radix as u64 + d.to_digit(radix)? as u64;
        if v > 0x10FFFF {
            return None;
        }
    }
    Some(v as u32)
}

/// Python's `html.unescape`.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let table = html5();
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] != '&' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        // `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`
        let j = i + 1;
        if j < c.len() && c[j] == '#' {
            let (radix, start) = if j + 1 < c.len() && (c[j + 1] == 'x' || c[j + 1] == 'X') {
                (16, j + 2)
            } else {
                (10, j + 1)
            };
            let mut k = start;
            while k < c.len() && c[k].is_ascii() && c[k].is_digit(radix) {
                k += 1;
            }
            if k > start {
                let num = parse_num(&c[start..k], radix);
                if k < c.len() && c[k] == ';' {
                    k += 1;
                }
                out.push_str(&numeric_charref(num));
                i = k;
                continue;
            }
            // `&#` not followed by digits: no match here.
            out.push('&');
            i += 1;
            continue;
        }
        let mut k = j;
        while k < c.len()
            && k - j < 32
            && !matches!(c[k], '\t' | '\n' | '\x0c' | ' ' | '<' | '&' | '#' | ';')
        {
            k += 1;
        }
        if k == j {
            out.push('&');
            i += 1;
            continue;
        }
        if k < c.len() && c[k] == ';' {
            k += 1;
        }
        let name: String = c[j..k].iter().collect();
        if let Some(v) = table.get(&name) {
            out.push_str(v);
        } else {
            let chars = &c[j..k];
            let mut done = false;
            for x in (2..chars.len()).rev() {
                let prefix: String = chars[..x].iter().collect();
                if let Some(v) = table.get(&prefix) {
                    out.push_str(v);
                    out.extend(chars[x..].iter());
                    done = true;
                    break;
                }
            }
            if !done {
                out.push('&');
                out.push_str(&name);
            }
        }
        i = k;
    }
    out
}

/// ftfy's `unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when it is in ftfy's table or is a
/// numeric reference that decodes to something without `;`.
fn ftfy_unescape_html(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let table = ftfy_entities();
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == '&' {
            let mut j = i + 1;
            if j < c.len() && c[j] == '#' {
                j += 1;
            }
            let mut k = j;
            while k < c.len() && k - j < 24 && c[k].is_ascii_alphanumeric() {
                k += 1;
            }
            if k > j && k < c.len() && c[k] == ';' {
                let m: String = c[i..=k].iter().collect();
                let rep = if let Some(v) = table.get(&m) {
                    v.clone()
                } else if m.starts_with("&#") {
                    let u = html_unescape(&m);
                    if u.contains(';') {
                        m
                    } else {
                        u
                    }
                } else {
                    m
                };
                out.push_str(&rep);
                i = k + 1;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// ftfy's Latin ligatures and digraphs.
fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

fn is_removed_control(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F | 0x206A..=0x206F | 0xFEFF | 0xFFF9..=0xFFFC)
}

fn push_width_fixed(out: &mut String, c: char) {
    let u = c as u32;
    if u == 0x3000 {
        out.push(' ');
    } else if (0xFF01..0xFFF0).contains(&u) {
        out.extend(std::iter::once(c).nfkc());
    } else {
        out.push(c);
    }
}

/// `ESC [ (\d|;)* [a-zA-Z]` removed (`\d`: Unicode decimal digits, as Python's `re`).
fn remove_terminal_escapes(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_string();
    }
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == '\u{1b}' && i + 1 < c.len() && c[i + 1] == '[' {
            let mut k = i + 2;
            while k < c.len() && (c[k] == ';' || is_decimal_digit(c[k])) {
                k += 1;
            }
            if k < c.len() && c[k].is_ascii_alphabetic() {
                i = k + 1;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Unicode general category Nd (what `\d` matches in Python's `re` on `str`).
fn is_decimal_digit(c: char) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^\p{Nd}$").expect("static regex"));
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

/// One pass of ftfy's fixers (without `fix_encoding`) and NFC.
fn fix_segment_once(text: &str, unescape: bool) -> String {
    let t = if unescape {
        ftfy_unescape_html(text)
    } else {
        text.to_string()
    };
    let mut s = String::with_capacity(t.len());
    for c in t.chars() {
        let c = cp1252_c1(c);
        match ligature(c) {
            Some(l) => {
                for c in l.chars() {
                    push_width_fixed(&mut s, c);
                }
            }
            None => push_width_fixed(&mut s, c),
        }
    }
    let s: String = s
        .chars()
        .map(|c| match c {
            '\u{02BC}' | '\u{2018}'..='\u{201B}' => '\'',
            '\u{201C}'..='\u{201F}' => '"',
            c => c,
        })
        .collect();
    let s = s
        .replace("\r\n", "\n")
        .replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
    let s = remove_terminal_escapes(&s);
    let s: String = s.chars().filter(|&c| !is_removed_control(c)).collect();
    s.nfc().collect()
}

/// `ftfy.fix_text` with its default configuration, minus mojibake repair (see the module docs).
pub fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape = true;
    for segment in text.split_inclusive('\n') {
        if segment.contains('<') {
            unescape = false;
        }
        let mut t = segment.to_string();
        loop {
            let next = fix_segment_once(&t, unescape);
            if next == t {
                break;
            }
            t = next;
        }
        out.push_str(&t);
    }
    out
}

/// Python's `str.isspace()`.
pub fn is_python_space(c: char) -> bool {
    matches!(c as u32,
        0x09..=0x0D | 0x1C..=0x20 | 0x85 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029
        | 0x202F | 0x205F | 0x3000)
}

/// Unicode White_Space (what `\s` matches in the `regex` module CLIP imports as `re`).
fn is_white_space(c: char) -> bool {
    matches!(c as u32,
        0x09..=0x0D | 0x20 | 0x85 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F
        | 0x205F | 0x3000)
}

/// `whitespace_clean(basic_clean(text)).lower()` of OpenAI's `simple_tokenizer.py`.
pub fn clip_clean(text: &str) -> String {
    let t = fix_text(text);
    let t = html_unescape(&html_unescape(&t));
    let t = t.trim_matches(is_python_space);
    let mut out = String::with_capacity(t.len());
    let mut in_space = false;
    for c in t.chars() {
        if is_white_space(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out.trim_matches(is_python_space).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_unescape_follows_python() {
        assert_eq!(html_unescape("&amp;&lt;&gt;"), "&<>");
        assert_eq!(html_unescape("&ampx"), "&x"); // legacy name without `;`, longest prefix
        assert_eq!(html_unescape("&notit;"), "¬it;");
        assert_eq!(html_unescape("&#65;&#x42;&#X43"), "ABC");
        assert_eq!(
            html_unescape("&#0;&#128;&#1;&#xD800;&#99999999999;"),
            "\u{FFFD}€\u{FFFD}\u{FFFD}"
        );
        assert_eq!(html_unescape("& &# &bogus;"), "& &# &bogus;");
    }

    #[test]
    fn ftfy_subset() {
        assert_eq!(fix_text("ﬂuﬃ"), "fluffi");
        assert_eq!(fix_text("ＬＯＵＤ　ＮＯＩＳＥＳ"), "LOUD NOISES");
        assert_eq!(fix_text("\u{201c}hi\u{201d} it\u{2019}s"), "\"hi\" it's");
        assert_eq!(fix_text("P&EACUTE;REZ &eacute;"), "PÉREZ é");
        assert_eq!(fix_text("x&#59;y"), "x&#59;y");
        assert_eq!(fix_text("a\u{85}b\r\nc"), "a…b\nc");
        assert_eq!(fix_text("\u{1b}[36;44mblue\u{1b}[0m"), "blue");
        assert_eq!(fix_text("e\u{301}"), "é");
        assert_eq!(fix_text("<b>&amp;</b>"), "<b>&amp;</b>");
    }
}
