//! ImageNet-1k class names and the zero-shot prompts built from them (protocols §4.3, pitfall P9c).
//!
//! The CLIP test of the reference builds `f"a photo of a {c}"` for every `c` in
//! `torchvision.datasets.ImageNet(root, split='val').classes`, and each `c` is a *tuple* of
//! WordNet synonyms, so the prompt holds the tuple's Python `str()`:
//! `a photo of a ('tench', 'Tinca tinca')`. [`ClassNameRule`] chooses between that reference
//! text ([`ClassNameRule::ReferenceTuple`]) and the clean first synonym
//! ([`ClassNameRule::FirstSynonym`], the default); [`prompt`] fills a `{}` template with it.
//!
//! [`imagenet_class_table`] is faithbench's table of the 1000 classes (WNID and synonyms, in
//! torchvision's order), generated from timm's `imagenet_synsets.txt` and
//! `imagenet_synset_to_lemma.txt` by `scripts/fixtures/make_imagenet_class_table.py`; its
//! synonyms are the devkit's `words` strings split on `", "`, as torchvision's `parse_meta_mat`
//! splits them.
//!
//! [`python_str_repr`] / [`python_tuple_repr`] reproduce CPython's `repr` exactly: single quotes
//! unless the string holds a `'` and no `"`; backslashes and the chosen quote escaped; `\t \n \r`
//! as such; other ASCII controls and DEL as `\xhh`; non-ASCII characters kept when
//! `str.isprintable()` holds for them and otherwise escaped as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
//! Printability comes from a table generated from Python 3.11.7 (Unicode 14.0.0).

use std::sync::OnceLock;

static TABLE_TSV: &str = include_str!("../data/imagenet_classes.tsv");
static NONPRINTABLE_TXT: &str = include_str!("../data/python_nonprintable.txt");

/// One ImageNet-1k class of the shipped table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageNetClass {
    /// WordNet id (`n01440764`).
    pub wnid: &'static str,
    /// The synonyms in devkit order (`["tench", "Tinca tinca"]`).
    pub synonyms: Vec<&'static str>,
}

/// Parses the embedded table: `wnid<TAB>syn1, syn2, …` lines, `#` comments.
fn parse_table(text: &'static str) -> Result<Vec<ImageNetClass>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((wnid, words)) = line.split_once('\t') else {
            return Err(format!("line {}: no tab", n + 1));
        };
        if !is_wnid(wnid) {
            return Err(format!("line {}: {wnid:?} is not a WNID", n + 1));
        }
        if let Some(prev) = out.last().map(|c: &ImageNetClass| c.wnid) {
            if prev >= wnid {
                return Err(format!("line {}: {wnid} is not after {prev}", n + 1));
            }
        }
        let synonyms: Vec<&'static str> = words.split(", ").collect();
        if synonyms.iter().any(|s| s.is_empty()) {
            return Err(format!("line {}: empty synonym", n + 1));
        }
        out.push(ImageNetClass { wnid, synonyms });
    }
    Ok(out)
}

/// The 1000 ImageNet-1k classes in torchvision's order (sorted WNIDs).
pub fn imagenet_class_table() -> &'static [ImageNetClass] {
    static TABLE: OnceLock<Vec<ImageNetClass>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The table is part of the crate and checked by `shipped_table_is_the_1000_classes`.
        parse_table(TABLE_TSV).expect("data/imagenet_classes.tsv is well formed")
    })
}

/// The synonyms of `wnid` in the shipped table.
pub fn imagenet_synonyms(wnid: &str) -> Option<&'static [&'static str]> {
    let table = imagenet_class_table();
    table
        .binary_search_by(|c| c.wnid.cmp(wnid))
        .ok()
        .map(|i| table[i].synonyms.as_slice())
}

/// Whether `name` has the form of a WordNet noun id: `n` and eight digits.
pub fn is_wnid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 9 && b[0] == b'n' && b[1..].iter().all(u8::is_ascii_digit)
}

/// How a class's synonyms become the text of its prompt.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ClassNameRule {
    /// The first synonym: `tench`.
    #[default]
    FirstSynonym,
    /// Python's `str()` of the synonym tuple, as the reference's prompts hold it:
    /// `('tench', 'Tinca tinca')` (pitfall P9c).
    ReferenceTuple,
}

impl ClassNameRule {
    /// Every rule, in listing order.
    pub const ALL: [ClassNameRule; 2] =
        [ClassNameRule::FirstSynonym, ClassNameRule::ReferenceTuple];

    /// The config name: `first_synonym` / `reference_tuple`.
    pub fn name(self) -> &'static str {
        match self {
            ClassNameRule::FirstSynonym => "first_synonym",
            ClassNameRule::ReferenceTuple => "reference_tuple",
        }
    }

    /// The rule of this config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The class text this rule makes of `synonyms`.
    pub fn class_name<S: AsRef<str>>(self, synonyms: &[S]) -> Result<String, PromptError> {
        match self {
            ClassNameRule::FirstSynonym => synonyms
                .first()
                .map(|s| s.as_ref().to_string())
                .ok_or(PromptError::NoSynonyms),
            ClassNameRule::ReferenceTuple if synonyms.is_empty() => Err(PromptError::NoSynonyms),
            ClassNameRule::ReferenceTuple => Ok(python_tuple_repr(synonyms)),
        }
    }
}

/// Errors of the prompt helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The template is not a `str.format` template with exactly one `{}`.
    #[error("prompt template {template:?}: {message}")]
    Template {
        /// The template given.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// A class without any synonym.
    #[error("a class has no name (empty list of synonyms)")]
    NoSynonyms,
}

/// The template split at its one `{}`, with `{{`/`}}` already turned into braces.
fn split_template(template: &str) -> Result<(String, String), PromptError> {
    let bad = |message: String| PromptError::Template {
        template: template.to_string(),
        message,
    };
    let mut parts = vec![String::new()];
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
                if let Some(p) = parts.last_mut() {
                    p.push(c);
                }
            }
            ('{', Some('}')) => {
                chars.next();
                parts.push(String::new());
            }
            ('{', _) => {
                let field: String = std::iter::once('{')
                    .chain(chars.by_ref().take_while(|&x| x != '}'))
                    .collect();
                return Err(bad(format!(
                    "replacement field {field}…}} is not supported; use {{}} (and {{{{ }}}} for literal braces)"
                )));
            }
            ('}', _) => {
                return Err(bad(
                    "single '}' (write }} for a literal brace, as in Python's str.format)".into(),
                ))
            }
            _ => {
                if let Some(p) = parts.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    match parts.len() {
        2 => {
            let suffix = parts.pop().unwrap_or_default();
            let prefix = parts.pop().unwrap_or_default();
            Ok((prefix, suffix))
        }
        1 => Err(bad("has no {} placeholder".into())),
        n => Err(bad(format!(
            "has {} {{}} placeholders; exactly one is needed",
            n - 1
        ))),
    }
}

/// `template.format(name)` for a template with exactly one `{}` (`{{` and `}}` are literal
/// braces, as in Python), where `name` is the class text `rule` makes of `synonyms`:
/// `prompt("a photo of a {}", &["tench", "Tinca tinca"], ReferenceTuple)` is
/// `a photo of a ('tench', 'Tinca tinca')`.
pub fn prompt<S: AsRef<str>>(
    template: &str,
    synonyms: &[S],
    rule: ClassNameRule,
) -> Result<String, PromptError> {
    let (prefix, suffix) = split_template(template)?;
    let name = rule.class_name(synonyms)?;
    Ok(format!("{prefix}{name}{suffix}"))
}

fn nonprintable_ranges() -> &'static [(u32, u32)] {
    static RANGES: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        NONPRINTABLE_TXT
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                // Checked by `nonprintable_table_is_well_formed`.
                let (a, b) = l.split_once(' ').expect("`start end` line");
                let hex = |x: &str| u32::from_str_radix(x, 16).expect("hex code point");
                (hex(a), hex(b))
            })
            .collect()
    })
}

/// Python's `str.isprintable()` for one character (Python 3.11.7, Unicode 14.0.0).
pub fn python_is_printable(c: char) -> bool {
    let cp = c as u32;
    let ranges = nonprintable_ranges();
    let i = ranges.partition_point(|&(_, end)| end < cp);
    !(i < ranges.len() && ranges[i].0 <= cp)
}

/// Python's `repr(s)` of a `str`.
pub fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        let cp = c as u32;
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if cp < 0x20 || cp == 0x7f => out.push_str(&format!("\\x{cp:02x}")),
            _ if cp < 0x7f => out.push(c),
            _ if python_is_printable(c) => out.push(c),
            _ if cp <= 0xff => out.push_str(&format!("\\x{cp:02x}")),
            _ if cp <= 0xffff => out.push_str(&format!("\\u{cp:04x}")),
            _ => out.push_str(&format!("\\U{cp:08x}")),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` (= `str()`) of a tuple of `str`: `('a', 'b')`, `('a',)`, `()`.
pub fn python_tuple_repr<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| python_str_repr(s.as_ref())).collect();
    match inner.len() {
        1 => format!("({},)", inner[0]),
        _ => format!("({})", inner.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/data/imagenet_meta")
            .join(rel)
    }

    #[test]
    fn shipped_table_is_the_1000_classes() {
        let table = parse_table(TABLE_TSV).unwrap();
        assert_eq!(table.len(), 1000);
        assert_eq!(imagenet_class_table(), table.as_slice());
        // sorted strictly (parse_table checks) and the ends of torchvision's order
        assert_eq!(table[0].wnid, "n01440764");
        assert_eq!(table[0].synonyms, ["tench", "Tinca tinca"]);
        assert_eq!(table[999].wnid, "n15075141");
        assert_eq!(
            table[999].synonyms,
            ["toilet tissue", "toilet paper", "bathroom tissue"]
        );
        // the two classes that share a name in the devkit
        assert_eq!(imagenet_synonyms("n02012849"), Some(&["crane"][..]));
        assert_eq!(imagenet_synonyms("n03126707"), Some(&["crane"][..]));
        assert_eq!(imagenet_synonyms("n03710637"), Some(&["maillot"][..]));
        assert_eq!(
            imagenet_synonyms("n03710721"),
            Some(&["maillot", "tank suit"][..])
        );
        assert_eq!(
            imagenet_synonyms("n03590841"),
            Some(&["jack-o'-lantern"][..])
        );
        assert_eq!(imagenet_synonyms("n99999999"), None);
        assert_eq!(imagenet_synonyms("tench"), None);
        let synonyms: usize = table.iter().map(|c| c.synonyms.len()).sum();
        assert_eq!(synonyms, 1860);
    }

    #[test]
    fn table_parser_rejects_bad_lines() {
        assert!(parse_table("n01440764 tench\n")
            .unwrap_err()
            .contains("no tab"));
        assert!(parse_table("x0144076\ttench\n")
            .unwrap_err()
            .contains("not a WNID"));
        assert!(parse_table("n2\ta\nn1\tb\n")
            .unwrap_err()
            .contains("not a WNID"));
        let e = parse_table("n00000002\ta\nn00000001\tb\n").unwrap_err();
        assert!(
            e.contains("line 2: n00000001 is not after n00000002"),
            "{e}"
        );
        assert!(parse_table("n00000001\ta, , b\n")
            .unwrap_err()
            .contains("empty synonym"));
        assert_eq!(
            parse_table("# c\n\nn00000001\ta, b\n").unwrap()[0].synonyms,
            ["a", "b"]
        );
    }

    #[test]
    fn wnid_form() {
        for ok in ["n01440764", "n00000000"] {
            assert!(is_wnid(ok), "{ok}");
        }
        for no in [
            "n0144076",
            "n014407640",
            "N01440764",
            "x01440764",
            "n0144076a",
            "disc",
            "",
        ] {
            assert!(!is_wnid(no), "{no}");
        }
    }

    #[test]
    fn rule_names() {
        assert_eq!(ClassNameRule::default(), ClassNameRule::FirstSynonym);
        for r in ClassNameRule::ALL {
            assert_eq!(ClassNameRule::from_name(r.name()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.name()));
            assert_eq!(serde_json::from_str::<ClassNameRule>(&json).unwrap(), r);
        }
        assert_eq!(ClassNameRule::from_name("tuple"), None);
    }

    #[test]
    fn hand_computed_names_and_prompts() {
        use ClassNameRule::*;
        let tench = ["tench", "Tinca tinca"];
        assert_eq!(FirstSynonym.class_name(&tench).unwrap(), "tench");
        assert_eq!(
            ReferenceTuple.class_name(&tench).unwrap(),
            "('tench', 'Tinca tinca')"
        );
        let jack = ["jack-o'-lantern"];
        assert_eq!(FirstSynonym.class_name(&jack).unwrap(), "jack-o'-lantern");
        assert_eq!(
            ReferenceTuple.class_name(&jack).unwrap(),
            "(\"jack-o'-lantern\",)"
        );
        let crane = ["crane".to_string()];
        assert_eq!(ReferenceTuple.class_name(&crane).unwrap(), "('crane',)");
        // an apostrophe next to ordinary synonyms: only that element switches quotes
        let gown = ["academic gown", "academic robe", "judge's robe"];
        assert_eq!(
            ReferenceTuple.class_name(&gown).unwrap(),
            "('academic gown', 'academic robe', \"judge's robe\")"
        );
        // both quote kinds: single quotes, the apostrophe escaped
        assert_eq!(python_str_repr("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(
            python_str_repr("a\\b\tc\nd\re\x00\x7f"),
            "'a\\\\b\\tc\\nd\\re\\x00\\x7f'"
        );
        assert_eq!(
            python_str_repr("é\u{a0}\u{ad}\u{2028}😀\u{f0000}"),
            "'é\\xa0\\xad\\u2028😀\\U000f0000'"
        );
        assert_eq!(python_tuple_repr::<&str>(&[]), "()");

        assert_eq!(
            prompt("a photo of a {}", &tench, ReferenceTuple).unwrap(),
            "a photo of a ('tench', 'Tinca tinca')"
        );
        assert_eq!(
            prompt("a photo of a {}", &tench, FirstSynonym).unwrap(),
            "a photo of a tench"
        );
        assert_eq!(
            prompt("a photo of a {}.", &jack, ReferenceTuple).unwrap(),
            "a photo of a (\"jack-o'-lantern\",)."
        );
        assert_eq!(prompt("{}", &crane, FirstSynonym).unwrap(), "crane");
        assert_eq!(
            prompt("{{x}} {} }}", &crane, FirstSynonym).unwrap(),
            "{x} crane }"
        );
    }

    #[test]
    fn bad_templates_and_empty_classes() {
        let tench = ["tench"];
        for (t, want) in [
            ("a photo", "has no {} placeholder"),
            ("{{}}", "has no {} placeholder"),
            ("{} and {}", "has 2 {} placeholders"),
            ("a {c}", "replacement field {c…} is not supported"),
            ("a {0}", "replacement field {0…}"),
            ("a {", "replacement field {…}"),
            ("a } {}", "single '}'"),
        ] {
            let e = prompt(t, &tench, ClassNameRule::FirstSynonym).unwrap_err();
            assert!(matches!(e, PromptError::Template { .. }), "{t}");
            assert!(e.to_string().contains(want), "{t}: {e}");
            assert!(e.to_string().contains(&format!("{t:?}")), "{t}: {e}");
        }
        for r in ClassNameRule::ALL {
            assert_eq!(
                prompt::<&str>("a {}", &[], r).unwrap_err(),
                PromptError::NoSynonyms
            );
        }
    }

    #[test]
    fn nonprintable_table_is_well_formed() {
        let r = nonprintable_ranges();
        assert_eq!(r.len(), 701);
        assert_eq!(r[0], (0, 0x1f));
        assert_eq!(r[1], (0x7f, 0xa0));
        assert!(r
            .windows(2)
            .all(|w| w[0].0 <= w[0].1 && w[0].1 + 1 < w[1].0));
        assert_eq!(r.last().map(|x| x.1), Some(0x10ffff));
        for (c, p) in [
            ('a', true),
            (' ', true),
            ('\u{1f}', false),
            ('\u{a0}', false),
            ('\u{a1}', true),
            ('\u{ad}', false),
            ('\u{378}', false),
            ('\u{2028}', false),
            ('\u{3000}', false),
            ('漢', true),
            ('😀', true),
            ('\u{e000}', false),
            ('\u{10ffff}', false),
        ] {
            assert_eq!(python_is_printable(c), p, "{:x}", c as u32);
        }
    }

    #[test]
    fn repr_matches_python_on_edge_cases() {
        let text = std::fs::read_to_string(fixture("repr_edge_cases.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 29);
        for c in cases {
            let s = c["s"].as_str().unwrap();
            assert_eq!(python_str_repr(s), c["repr"].as_str().unwrap(), "{s:?}");
            assert_eq!(
                python_tuple_repr(&[s]),
                c["tuple1"].as_str().unwrap(),
                "{s:?}"
            );
            assert_eq!(
                python_tuple_repr(&[s, "x"]),
                c["tuple2"].as_str().unwrap(),
                "{s:?}"
            );
        }
    }
}
