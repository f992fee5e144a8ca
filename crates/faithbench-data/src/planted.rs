//! **faithbench-planted**: a procedural text benchmark with known rationales, in the ERASER Movie
//! Reviews format (protocols §5.3).
//!
//! Each document is a few sentences of *neutral* filler words ([`NEUTRAL`]: people, places,
//! objects, plain verbs — nothing that carries sentiment) into which one to three sentiment items
//! of a single class are planted ([`POSITIVE`] / [`NEGATIVE`]: words such as `superb`, `dreadful`,
//! or short phrases such as `a masterpiece`, `waste of time`). The class of the planted items is
//! the label (`POS` / `NEG`), and the filler is drawn independently of it, so a classifier that
//! solves the task must read the planted items: their token spans are the ground-truth
//! rationale, written as ERASER evidences (one evidence group per planted item). The content words
//! of the sentiment items never occur as filler; a phrase may contain a neutral function word
//! (`a`, `of`), as ERASER's human rationales do.
//!
//! Everything is a pure function of `(seed, split, index)` (SplitMix64): [`generate`] always gives
//! the same document, so the training stream needs no files. [`write_planted`] writes a dataset
//! folder that [`crate::eraser::Eraser`] reads: `docs/<docid>` (one sentence per line, tokens
//! separated by single spaces, lower case) and `{train,val,test}.jsonl`. Every token is a whole
//! word of [`vocabulary`], so a WordPiece tokenizer built from it never splits or drops a word.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::eraser::{Annotation, Evidence};

/// The seed of the shipped dataset (`datasets/planted`) and of the shipped model's training stream.
pub const PLANTED_SEED: u64 = 2023;

/// The ERASER Movie Reviews query string.
pub const QUERY: &str = "What is the sentiment of this review?";

/// Neutral filler words (150): no sentiment, disjoint from the content words of the sentiment
/// items.
pub const NEUTRAL: [&str; 150] = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "by",
    "from",
    "about",
    "as",
    "into",
    "after",
    "before",
    "during",
    "while",
    "then",
    "when",
    "where",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "he",
    "she",
    "they",
    "his",
    "her",
    "their",
    "we",
    "our",
    "one",
    "two",
    "three",
    "first",
    "second",
    "last",
    "next",
    "other",
    "some",
    "many",
    "each",
    "every",
    "film",
    "movie",
    "story",
    "plot",
    "scene",
    "script",
    "director",
    "actor",
    "actress",
    "cast",
    "camera",
    "music",
    "sound",
    "dialogue",
    "character",
    "hero",
    "villain",
    "city",
    "town",
    "house",
    "family",
    "father",
    "mother",
    "brother",
    "sister",
    "friend",
    "wife",
    "husband",
    "son",
    "daughter",
    "doctor",
    "police",
    "teacher",
    "student",
    "school",
    "war",
    "night",
    "day",
    "morning",
    "evening",
    "year",
    "time",
    "world",
    "country",
    "road",
    "car",
    "train",
    "ship",
    "island",
    "river",
    "mountain",
    "forest",
    "door",
    "window",
    "table",
    "letter",
    "phone",
    "money",
    "job",
    "office",
    "party",
    "wedding",
    "dinner",
    "team",
    "song",
    "book",
    "studio",
    "version",
    "sequel",
    "minutes",
    "hour",
    "ending",
    "begins",
    "follows",
    "meets",
    "returns",
    "travels",
    "finds",
    "leaves",
    "arrives",
    "moves",
    "works",
    "lives",
    "tells",
    "says",
    "shows",
    "takes",
    "gives",
    "walks",
    "opens",
    "waits",
    "talks",
    "plays",
    "directed",
    "released",
    "based",
    "is",
    "was",
    "are",
    "has",
];

/// Positive sentiment items (20), each one or more words.
pub const POSITIVE: [&str; 20] = [
    "superb",
    "brilliant",
    "wonderful",
    "excellent",
    "delightful",
    "masterful",
    "outstanding",
    "captivating",
    "stunning",
    "hilarious",
    "gripping",
    "charming",
    "terrific",
    "a masterpiece",
    "pure joy",
    "highly recommended",
    "beautifully acted",
    "a triumph",
    "an instant classic",
    "sheer brilliance",
];

/// Negative sentiment items (20), each one or more words.
pub const NEGATIVE: [&str; 20] = [
    "dreadful",
    "awful",
    "terrible",
    "boring",
    "tedious",
    "dull",
    "pointless",
    "clumsy",
    "painful",
    "horrible",
    "lifeless",
    "incoherent",
    "forgettable",
    "a mess",
    "a disaster",
    "waste of time",
    "poorly acted",
    "utterly predictable",
    "a complete failure",
    "badly written",
];

/// Class names in label order (0 = `NEG`, 1 = `POS`, as the Movie Reviews classifiers use).
pub const CLASSES: [&str; 2] = ["NEG", "POS"];

/// BERT special tokens at the start of [`vocabulary`]: `[PAD]` = 0, `[UNK]` = 1, `[CLS]` = 2,
/// `[SEP]` = 3, `[MASK]` = 4.
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// A split of the generated dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlantedSplit {
    /// The training stream (generated on the fly by training; not shipped).
    Train,
    /// Validation split.
    Val,
    /// Test split (the shipped evaluation split).
    Test,
}

impl PlantedSplit {
    /// `train` / `val` / `test`.
    pub fn name(self) -> &'static str {
        match self {
            PlantedSplit::Train => "train",
            PlantedSplit::Val => "val",
            PlantedSplit::Test => "test",
        }
    }

    fn tag(self) -> u64 {
        match self {
            PlantedSplit::Train => 0x7EA1,
            PlantedSplit::Val => 0x7A11,
            PlantedSplit::Test => 0x7E57,
        }
    }
}

/// One planted sentiment item with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedItem {
    /// The item's text (words joined by single spaces).
    pub text: String,
    /// First token (inclusive) in the flattened document.
    pub start_token: usize,
    /// Last token (exclusive).
    pub end_token: usize,
    /// The sentence holding the item.
    pub sentence: usize,
}

/// One generated document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedDoc {
    /// Document id, e.g. `test_00042.txt` (also the annotation id).
    pub docid: String,
    /// 0 = `NEG`, 1 = `POS`.
    pub label: usize,
    /// Sentences of tokens (each ends with `.`).
    pub sentences: Vec<Vec<String>>,
    /// The planted items in document order.
    pub items: Vec<PlantedItem>,
}

impl PlantedDoc {
    /// The flattened tokens.
    pub fn tokens(&self) -> Vec<&str> {
        self.sentences
            .iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The document file's text: one sentence per line, tokens separated by single spaces.
    pub fn file_text(&self) -> String {
        let mut s = String::new();
        for sent in &self.sentences {
            s.push_str(&sent.join(" "));
            s.push('\n');
        }
        s
    }

    /// The flattened document as one line (tokens joined by single spaces), as a classifier
    /// reads it.
    pub fn text(&self) -> String {
        self.tokens().join(" ")
    }

    /// The ERASER annotation: one evidence group per planted item.
    pub fn annotation(&self) -> Annotation {
        Annotation {
            annotation_id: self.docid.clone(),
            query: QUERY.to_string(),
            evidences: self
                .items
                .iter()
                .map(|it| {
                    vec![Evidence {
                        docid: self.docid.clone(),
                        start_token: it.start_token as i64,
                        end_token: it.end_token as i64,
                        start_sentence: it.sentence as i64,
                        end_sentence: it.sentence as i64 + 1,
                        text: it.text.clone(),
                    }]
                })
                .collect(),
            classification: CLASSES[self.label].to_string(),
            query_type: None,
            docids: None,
        }
    }
}

/// The document generator: [`SplitMix64`] seeded from (seed, split, index).
#[derive(Debug, Clone)]
struct Rng(crate::rng::SplitMix64);

impl Rng {
    fn new(seed: u64, split: PlantedSplit, index: u64) -> Self {
        let mut r = crate::rng::SplitMix64::new(
            (seed ^ 0x7E47_0F5A_4E5B_1E5C ^ split.tag().wrapping_mul(0xA24B_AED4_963E_E407))
                .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        r.next_u64();
        Rng(r)
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

/// Document id of document `index` of `split`.
pub fn docid(split: PlantedSplit, index: usize) -> String {
    format!("{}_{index:05}.txt", split.name())
}

/// Generates document `index` of `split`: 3–5 sentences of 5–11 neutral words and a final `.`,
/// with 1–3 distinct sentiment items of the label's class inserted at random word positions of
/// random sentences (never after the final `.`).
pub fn generate(seed: u64, split: PlantedSplit, index: usize) -> PlantedDoc {
    let mut rng = Rng::new(seed, split, index as u64);
    let label = (rng.next() & 1) as usize;
    let pool: &[&str] = if label == 1 { &POSITIVE } else { &NEGATIVE };
    let n_sent = rng.between(3, 5);
    // sentence words as (token, planted item index)
    let mut sents: Vec<Vec<(String, Option<usize>)>> = (0..n_sent)
        .map(|_| {
            let n = rng.between(5, 11);
            (0..n)
                .map(|_| (NEUTRAL[rng.between(0, NEUTRAL.len() - 1)].to_string(), None))
                .collect()
        })
        .collect();
    let n_items = rng.between(1, 3);
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < n_items {
        let c = rng.between(0, pool.len() - 1);
        if !chosen.contains(&c) {
            chosen.push(c);
        }
    }
    for (k, &c) in chosen.iter().enumerate() {
        let s = rng.between(0, n_sent - 1);
        // word boundaries that do not split an item planted earlier
        let slots: Vec<usize> = (0..=sents[s].len())
            .filter(|&at| {
                at == 0
                    || at == sents[s].len()
                    || sents[s][at].1.is_none()
                    || sents[s][at - 1].1 != sents[s][at].1
            })
            .collect();
        let at = slots[rng.between(0, slots.len() - 1)];
        let words: Vec<(String, Option<usize>)> = pool[c]
            .split(' ')
            .map(|w| (w.to_string(), Some(k)))
            .collect();
        sents[s].splice(at..at, words);
    }
    for s in &mut sents {
        s.push((".".to_string(), None));
    }
    // flatten and locate items
    let mut items: Vec<PlantedItem> = Vec::new();
    let mut pos = 0usize;
    for (si, s) in sents.iter().enumerate() {
        let mut j = 0;
        while j < s.len() {
            if let Some(k) = s[j].1 {
                let start = j;
                while j < s.len() && s[j].1 == Some(k) {
                    j += 1;
                }
                items.push(PlantedItem {
                    text: pool[chosen[k]].to_string(),
                    start_token: pos + start,
                    end_token: pos + j,
                    sentence: si,
                });
            } else {
                j += 1;
            }
        }
        pos += s.len();
    }
    PlantedDoc {
        docid: docid(split, index),
        label,
        sentences: sents
            .into_iter()
            .map(|s| s.into_iter().map(|(w, _)| w).collect())
            .collect(),
        items,
    }
}

/// The WordPiece vocabulary (`vocab.txt` lines, id = line position): [`SPECIAL_TOKENS`], `.`,
/// `,`, then every word of [`NEUTRAL`], [`POSITIVE`] and [`NEGATIVE`] once, sorted.
pub fn vocabulary() -> Vec<String> {
    let mut words: BTreeSet<&str> = BTreeSet::new();
    for w in NEUTRAL {
        words.insert(w);
    }
    for item in POSITIVE.iter().chain(NEGATIVE.iter()) {
        for w in item.split(' ') {
            words.insert(w);
        }
    }
    SPECIAL_TOKENS
        .iter()
        .chain([".", ","].iter())
        .copied()
        .chain(words)
        .map(str::to_string)
        .collect()
}

/// Errors of [`write_planted`].
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct PlantedWriteError {
    /// File or folder.
    pub path: PathBuf,
    /// Cause.
    pub source: std::io::Error,
}

/// Writes `docs/<docid>` and `<split>.jsonl` for documents `0..n` of each `(split, n)` with
/// `n > 0` (the annotation lines in index order).
pub fn write_planted(
    out: &Path,
    seed: u64,
    splits: &[(PlantedSplit, usize)],
) -> Result<(), PlantedWriteError> {
    let err = |path: &Path, source| PlantedWriteError {
        path: path.to_path_buf(),
        source,
    };
    let docs = out.join("docs");
    fs::create_dir_all(&docs).map_err(|e| err(&docs, e))?;
    for &(split, n) in splits {
        if n == 0 {
            continue;
        }
        let mut jsonl = String::new();
        for i in 0..n {
            let d = generate(seed, split, i);
            let p = docs.join(&d.docid);
            fs::write(&p, d.file_text()).map_err(|e| err(&p, e))?;
            let line = serde_json::to_string(&d.annotation()).map_err(|e| {
                err(
                    &p,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                )
            })?;
            jsonl.push_str(&line);
            jsonl.push('\n');
        }
        let p = out.join(format!("{}.jsonl", split.name()));
        fs::write(&p, jsonl).map_err(|e| err(&p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraser::{Eraser, Split};

    #[test]
    fn word_lists_are_disjoint_and_sized() {
        let neutral: BTreeSet<&str> = NEUTRAL.iter().copied().collect();
        assert_eq!(neutral.len(), NEUTRAL.len(), "duplicate neutral word");
        let content = |items: &[&str]| -> BTreeSet<String> {
            items
                .iter()
                .flat_map(|i| i.split(' '))
                .filter(|w| !neutral.contains(w))
                .map(str::to_string)
                .collect()
        };
        let pos = content(&POSITIVE);
        let neg = content(&NEGATIVE);
        // every item has a content word, and no content word is shared between the classes
        for item in POSITIVE.iter().chain(NEGATIVE.iter()) {
            assert!(
                item.split(' ').any(|w| !neutral.contains(w)),
                "{item} has no content word"
            );
        }
        let shared: Vec<&String> = pos.intersection(&neg).collect();
        assert_eq!(
            shared,
            vec!["acted"],
            "only `acted` is shared (beautifully/poorly acted)"
        );
        let v = vocabulary();
        assert_eq!(&v[..5], &SPECIAL_TOKENS.map(String::from));
        let set: BTreeSet<&String> = v.iter().collect();
        assert_eq!(set.len(), v.len(), "vocabulary has duplicates");
        assert!(v.iter().all(|w| w
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '.' || c == ',' || w.starts_with('['))));
    }

    #[test]
    fn generation_is_deterministic_and_spans_match_planted_words() {
        let a = generate(PLANTED_SEED, PlantedSplit::Test, 7);
        let b = generate(PLANTED_SEED, PlantedSplit::Test, 7);
        assert_eq!(a, b);
        assert_ne!(a, generate(PLANTED_SEED, PlantedSplit::Val, 7));
        assert_ne!(a, generate(PLANTED_SEED + 1, PlantedSplit::Test, 7));
        let mut labels = [0usize; 2];
        for i in 0..300 {
            let d = generate(PLANTED_SEED, PlantedSplit::Test, i);
            labels[d.label] += 1;
            assert!((1..=3).contains(&d.items.len()));
            assert!((3..=5).contains(&d.sentences.len()));
            let toks = d.tokens();
            assert!(toks.len() <= 5 * 12 + 3 * 3, "{} tokens", toks.len());
            let pool: &[&str] = if d.label == 1 { &POSITIVE } else { &NEGATIVE };
            let other: &[&str] = if d.label == 1 { &NEGATIVE } else { &POSITIVE };
            let mut covered = vec![false; toks.len()];
            let mut start_of_sentence = vec![0usize];
            for s in &d.sentences {
                start_of_sentence.push(start_of_sentence.last().unwrap() + s.len());
                assert_eq!(s.last().map(String::as_str), Some("."));
            }
            for it in &d.items {
                assert!(pool.contains(&it.text.as_str()));
                assert_eq!(toks[it.start_token..it.end_token].join(" "), it.text);
                assert!(start_of_sentence[it.sentence] <= it.start_token);
                assert!(it.end_token < start_of_sentence[it.sentence + 1]);
                covered[it.start_token..it.end_token].fill(true);
            }
            // outside the spans: only neutral words and `.`
            for (t, c) in toks.iter().zip(&covered) {
                if !c {
                    assert!(NEUTRAL.contains(t) || *t == ".", "{t} in {}", d.docid);
                }
            }
            // no word of the other class's items appears unless it is neutral or shared
            for w in other.iter().flat_map(|i| i.split(' ')) {
                if !NEUTRAL.contains(&w) && w != "acted" {
                    assert!(!toks.contains(&w), "{w} in {}", d.docid);
                }
            }
        }
        assert!(labels[0] > 100 && labels[1] > 100, "{labels:?}");
    }

    #[test]
    fn hand_checked_document() {
        // Document 0 of the shipped test split, written out in full so that a change of the
        // generator is noticed (datasets/planted would have to be regenerated).
        let d = generate(PLANTED_SEED, PlantedSplit::Test, 0);
        let ann = d.annotation();
        assert_eq!(ann.annotation_id, "test_00000.txt");
        assert_eq!(ann.classification, CLASSES[d.label]);
        assert_eq!(ann.evidences.len(), d.items.len());
        for (g, it) in ann.evidences.iter().zip(&d.items) {
            assert_eq!(g.len(), 1);
            assert_eq!(g[0].start_token as usize, it.start_token);
            assert_eq!(g[0].end_sentence, g[0].start_sentence + 1);
        }
        let shipped = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../datasets/planted/docs/test_00000.txt"
        );
        if let Ok(text) = std::fs::read_to_string(shipped) {
            assert_eq!(
                text,
                d.file_text(),
                "datasets/planted is stale: rerun synth-text"
            );
        }
    }

    #[test]
    fn written_dataset_reads_back_through_the_eraser_reader() {
        let dir = std::env::temp_dir().join(format!("faithbench-planted-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write_planted(
            &dir,
            PLANTED_SEED,
            &[(PlantedSplit::Test, 20), (PlantedSplit::Val, 5)],
        )
        .unwrap();
        let ds = Eraser::open(&dir).unwrap();
        assert_eq!(ds.documents().len(), 25);
        let test = ds.split(Split::Test).unwrap();
        assert_eq!(test.len(), 20);
        assert!(ds.text_mismatches(&test).is_empty());
        for (i, a) in test.iter().enumerate() {
            let d = generate(PLANTED_SEED, PlantedSplit::Test, i);
            assert_eq!(a, &d.annotation());
            let doc = ds.document(&a.annotation_id).unwrap();
            assert_eq!(doc.sentences, d.sentences);
        }
        assert_eq!(ds.split(Split::Val).unwrap().len(), 5);
        assert!(ds.split(Split::Train).is_err(), "no train split written");
        let _ = fs::remove_dir_all(&dir);
    }
}
