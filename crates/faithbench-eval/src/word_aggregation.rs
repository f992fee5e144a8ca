//! Word-piece scores → scores of the document's whitespace words (protocols §4.4 step 3).
//!
//! The BERT token-F1 test explains a `[CLS] doc [SEP]` input of at most 512 word-pieces, but ERASER
//! scores rationales as indices into the document's **words** (`doc.split()`). Two alignments are
//! offered, both named [`WordAlignment`] values:
//!
//! * [`WordAlignment::Reference`] — the reference's character-count alignment
//!   (`scores_per_word_from_scores_per_token` in TI/TE `bert_pipeline.py`), reproduced operation by
//!   operation:
//!   1. every piece string has **every** occurrence of `"##"` removed (Python
//!      `word.replace('##', '')`; for WordPiece continuation pieces this is the `##` prefix);
//!   2. pieces equal to one of the special tokens (`[CLS]`, `[SEP]`, `[UNK]`, `[PAD]` for BERT) are
//!      dropped, **including `[UNK]`**;
//!   3. each remaining piece's score is repeated once per character of the stripped piece
//!      (characters = Unicode scalar values, Python's `len`);
//!   4. the document's words are consumed left to right: word `w` takes the next `len(w)`
//!      characters and its score is the **maximum** over them; a word that starts after the last
//!      character ends the loop, and a word that starts before the end but needs more characters
//!      than remain takes the max over what is left (the reference slices `[start:end]` past the
//!      end). Truncated inputs therefore give fewer words than the document has
//!      ([`WordScores::covered_words`]).
//!
//!   **What happens with `[UNK]`.** Its characters are missing from the character stream, so every
//!   later word is fed characters that belong to later pieces: scores shift left by the number of
//!   characters of the unknown word, and the document gets *more* covered words than it should.
//!   The same happens whenever the tokenizer changes a word's character count (accent stripping
//!   of decomposed text, removed control characters). The reference script guards this with an
//!   `assert` that the reconstructed words (all covered words except the last one) equal the
//!   document's words, so on such a document the reference **aborts** instead of scoring. This
//!   module reproduces the shifted arithmetic and reports the first mismatching word in
//!   [`WordScores::first_mismatch`]; a caller that wants the reference's behaviour treats
//!   `Some(_)` as fatal.
//! * [`WordAlignment::Offsets`] — exact alignment from the tokenizer's per-piece character (or
//!   byte) offsets into the document text: a word's score is the maximum over the pieces whose
//!   offset span overlaps the word's span. `[UNK]` pieces keep their score (their offsets locate
//!   them); special tokens are still dropped except `[UNK]`, which is kept because its offsets are
//!   exact (pieces with an empty span are ignored). Covered words = all words up to the last word
//!   touched by a piece; an interior word touched by no piece (e.g. a word made only of characters
//!   the tokenizer deletes) gets score `0.0`, the minimum of clamped (`≥ 0`) relevance.
//!
//! Words are Python `str.split()` words: runs of non-whitespace separated by Python whitespace
//! (Unicode `White_Space` plus U+001C–U+001F, which Python's `str.isspace` also accepts); see
//! [`python_split`].

use serde::{Deserialize, Serialize};

/// The special tokens the reference drops: `['[CLS]', '[SEP]', '[UNK]', '[PAD]']`.
pub const BERT_SPECIAL_TOKENS: [&str; 4] = ["[CLS]", "[SEP]", "[UNK]", "[PAD]"];

/// Errors of the word aggregation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WordAggregationError {
    /// Pieces, scores (and offsets) have different lengths.
    #[error("{what}: {a} vs {b}")]
    LengthMismatch {
        /// Which two inputs disagree.
        what: &'static str,
        /// First length.
        a: usize,
        /// Second length.
        b: usize,
    },
    /// A score is NaN or infinite.
    #[error("piece {index}: non-finite score {value}")]
    NonFiniteScore {
        /// Piece index.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A piece's offsets are reversed or outside the text.
    #[error("piece {index}: offsets ({start}, {end}) are invalid for a text of {len} {unit}")]
    BadOffsets {
        /// Piece index.
        index: usize,
        /// Start offset.
        start: usize,
        /// End offset.
        end: usize,
        /// Text length in the offset unit.
        len: usize,
        /// "bytes" or "chars".
        unit: &'static str,
    },
    /// [`WordAlignment::Offsets`] was requested without offsets.
    #[error("WordAlignment::Offsets needs per-piece offsets")]
    MissingOffsets,
}

/// How word-piece scores are mapped to the document's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordAlignment {
    /// The reference's character-count alignment (module docs): strip `##`, drop special tokens
    /// **including `[UNK]`** (later words shift), repeat scores per character, consume words by
    /// character count, max per word, stop when characters run out.
    Reference,
    /// Exact alignment through per-piece offsets into the document text: max over overlapping
    /// pieces; `[UNK]` keeps its score.
    Offsets,
}

/// Unit of the offsets given to [`WordAlignment::Offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetUnit {
    /// Byte offsets into the UTF-8 text (what the Rust `tokenizers` crate's `Encoding::get_offsets`
    /// returns).
    Bytes,
    /// Character (Unicode scalar) offsets (what Python's `return_offsets_mapping=True` returns).
    Chars,
}

/// Result of the word aggregation of one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordScores {
    /// One score per covered word, in document order (`scores.len() == covered_words`).
    pub scores: Vec<f32>,
    /// Number of leading document words that received a score.
    pub covered_words: usize,
    /// Number of words in the document.
    pub total_words: usize,
    /// [`WordAlignment::Reference`] only: number of characters contributed by the kept pieces.
    pub piece_chars: usize,
    /// [`WordAlignment::Reference`] only: `true` if the last covered word ran out of characters
    /// before its end (truncated input, or shifted characters).
    pub partial_last_word: bool,
    /// [`WordAlignment::Reference`] only: the first covered word, excluding the last one (exactly
    /// the reference's `assert`), whose reconstructed characters differ from the word itself —
    /// the reference script aborts on such a document. `None` for [`WordAlignment::Offsets`].
    pub first_mismatch: Option<usize>,
}

/// Everything the aggregation needs for one document.
#[derive(Debug, Clone, Copy)]
pub struct WordAggregationInput<'a, S: AsRef<str>> {
    /// The document text (for ERASER: the flattened document, e.g. its tokens joined by `' '`,
    /// or the raw file text; words are `python_split(text)`).
    pub text: &'a str,
    /// Word-piece strings as `convert_ids_to_tokens` gives them (incl. `[CLS]`, `[SEP]`, `##`).
    pub pieces: &'a [S],
    /// One score per piece (normally clamped `≥ 0`).
    pub scores: &'a [f32],
    /// Per-piece `(start, end)` offsets into `text` ([`WordAlignment::Offsets`] only).
    pub offsets: Option<&'a [(usize, usize)]>,
    /// Unit of `offsets`.
    pub offset_unit: OffsetUnit,
    /// Tokens to drop (normally [`BERT_SPECIAL_TOKENS`]).
    pub special_tokens: &'a [&'a str],
}

/// Python's `str.isspace` for one character: Unicode `White_Space` or U+001C–U+001F.
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `text.split()`: the maximal runs of non-whitespace characters.
pub fn python_split(text: &str) -> Vec<&str> {
    text.split(is_python_whitespace)
        .filter(|w| !w.is_empty())
        .collect()
}

/// `python_split` with each word's `(start, end)` byte span.
fn python_split_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if is_python_whitespace(c) {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

fn check_scores(scores: &[f32]) -> Result<(), WordAggregationError> {
    if let Some(index) = scores.iter().position(|v| !v.is_finite()) {
        return Err(WordAggregationError::NonFiniteScore {
            index,
            value: scores[index],
        });
    }
    Ok(())
}

/// The reference alignment on explicit words (see the module docs for every step).
///
/// `words` are the document's whitespace words in order, `pieces` / `scores` the input's
/// word-pieces (incl. special tokens) and their scores.
pub fn word_scores_reference<W: AsRef<str>, P: AsRef<str>>(
    words: &[W],
    pieces: &[P],
    scores: &[f32],
    special_tokens: &[&str],
) -> Result<WordScores, WordAggregationError> {
    if pieces.len() != scores.len() {
        return Err(WordAggregationError::LengthMismatch {
            what: "pieces vs scores",
            a: pieces.len(),
            b: scores.len(),
        });
    }
    check_scores(scores)?;
    // character stream: (char, score)
    let mut chars: Vec<(char, f32)> = Vec::new();
    for (piece, &score) in pieces.iter().zip(scores) {
        let stripped = piece.as_ref().replace("##", "");
        if special_tokens.contains(&stripped.as_str()) {
            continue;
        }
        chars.extend(stripped.chars().map(|c| (c, score)));
    }
    let mut out = Vec::new();
    let mut reconstructed_ok: Vec<bool> = Vec::new();
    let mut start = 0usize;
    let mut partial = false;
    for w in words {
        if start >= chars.len() {
            break;
        }
        let w = w.as_ref();
        let end = start + w.chars().count();
        let slice = &chars[start..end.min(chars.len())];
        partial = end > chars.len();
        let max = slice
            .iter()
            .map(|&(_, s)| s)
            .fold(f32::NEG_INFINITY, f32::max);
        out.push(max);
        reconstructed_ok.push(slice.iter().map(|&(c, _)| c).eq(w.chars()));
        start = end;
    }
    let covered = out.len();
    let first_mismatch = reconstructed_ok[..covered.saturating_sub(1)]
        .iter()
        .position(|ok| !ok);
    Ok(WordScores {
        scores: out,
        covered_words: covered,
        total_words: words.len(),
        piece_chars: chars.len(),
        partial_last_word: partial,
        first_mismatch,
    })
}

/// The offset alignment: `text` is the string the tokenizer saw, `offsets[i]` the span of piece
/// `i` in `unit`s. Special tokens except `[UNK]` are dropped; pieces with an empty span are
/// ignored. See the module docs.
pub fn word_scores_offsets<P: AsRef<str>>(
    text: &str,
    pieces: &[P],
    scores: &[f32],
    offsets: &[(usize, usize)],
    unit: OffsetUnit,
    special_tokens: &[&str],
) -> Result<WordScores, WordAggregationError> {
    if pieces.len() != scores.len() {
        return Err(WordAggregationError::LengthMismatch {
            what: "pieces vs scores",
            a: pieces.len(),
            b: scores.len(),
        });
    }
    if pieces.len() != offsets.len() {
        return Err(WordAggregationError::LengthMismatch {
            what: "pieces vs offsets",
            a: pieces.len(),
            b: offsets.len(),
        });
    }
    check_scores(scores)?;
    let spans = python_split_spans(text);
    // Convert word byte spans into the offset unit.
    let (word_spans, len, unit_name): (Vec<(usize, usize)>, usize, &'static str) = match unit {
        OffsetUnit::Bytes => (spans.clone(), text.len(), "bytes"),
        OffsetUnit::Chars => {
            // byte index -> char index
            let mut byte_to_char = vec![0usize; text.len() + 1];
            let mut n = 0;
            for (i, c) in text.char_indices() {
                byte_to_char[i..i + c.len_utf8()].fill(n);
                n += 1;
            }
            byte_to_char[text.len()] = n;
            (
                spans
                    .iter()
                    .map(|&(s, e)| (byte_to_char[s], byte_to_char[e]))
                    .collect(),
                n,
                "chars",
            )
        }
    };
    let mut best: Vec<Option<f32>> = vec![None; word_spans.len()];
    for (index, ((piece, &score), &(s, e))) in pieces.iter().zip(scores).zip(offsets).enumerate() {
        if s > e || e > len {
            return Err(WordAggregationError::BadOffsets {
                index,
                start: s,
                end: e,
                len,
                unit: unit_name,
            });
        }
        let p = piece.as_ref();
        if p != "[UNK]" && special_tokens.contains(&p) {
            continue;
        }
        if s == e {
            continue;
        }
        // words overlapping [s, e): word spans are sorted and disjoint
        let first = word_spans.partition_point(|&(_, we)| we <= s);
        for (w, &(ws, _)) in word_spans.iter().enumerate().skip(first) {
            if ws >= e {
                break;
            }
            best[w] = Some(best[w].map_or(score, |b| b.max(score)));
        }
    }
    let covered = best.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    Ok(WordScores {
        scores: best[..covered].iter().map(|b| b.unwrap_or(0.0)).collect(),
        covered_words: covered,
        total_words: word_spans.len(),
        piece_chars: 0,
        partial_last_word: false,
        first_mismatch: None,
    })
}

/// Word scores of one document under `alignment`.
///
/// [`WordAlignment::Reference`] uses `python_split(input.text)` as the words and ignores the
/// offsets; [`WordAlignment::Offsets`] needs `input.offsets`.
pub fn word_scores<S: AsRef<str>>(
    alignment: WordAlignment,
    input: &WordAggregationInput<'_, S>,
) -> Result<WordScores, WordAggregationError> {
    match alignment {
        WordAlignment::Reference => word_scores_reference(
            &python_split(input.text),
            input.pieces,
            input.scores,
            input.special_tokens,
        ),
        WordAlignment::Offsets => word_scores_offsets(
            input.text,
            input.pieces,
            input.scores,
            input.offsets.ok_or(WordAggregationError::MissingOffsets)?,
            input.offset_unit,
            input.special_tokens,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SP: &[&str] = &BERT_SPECIAL_TOKENS;

    #[test]
    fn python_split_matches_str_split() {
        assert_eq!(
            python_split("  a b\tc\n\nd\u{a0}e\u{1c}f "),
            vec!["a", "b", "c", "d", "e", "f"]
        );
        assert_eq!(python_split_spans("ab  cd"), vec![(0, 2), (4, 6)]);
        assert!(python_split(" \u{3000} ").is_empty());
        // zero-width space is not whitespace in Python
        assert_eq!(python_split("a\u{200b}b"), vec!["a\u{200b}b"]);
    }

    #[test]
    fn reference_hand_computed() {
        // doc "the film's plot" -> words: the(3) film's(6) plot(4)
        // pieces: [CLS] the film ' s plot [SEP] with scores .9 .1 .5 .2 .3 .4 .8
        // chars: t h e (.1) f i l m (.5) ' (.2) s (.3) p l o t (.4)
        // the = max(.1)=.1 ; film's = max(.5,.5,.5,.5,.2,.3) = .5 ; plot = .4
        let pieces = ["[CLS]", "the", "film", "'", "s", "plot", "[SEP]"];
        let scores = [0.9, 0.1, 0.5, 0.2, 0.3, 0.4, 0.8];
        let r = word_scores_reference(&["the", "film's", "plot"], &pieces, &scores, SP).unwrap();
        assert_eq!(r.scores, vec![0.1, 0.5, 0.4]);
        assert_eq!((r.covered_words, r.total_words, r.piece_chars), (3, 3, 13));
        assert!(!r.partial_last_word);
        assert_eq!(r.first_mismatch, None);
    }

    #[test]
    fn reference_strips_hashes_and_truncates() {
        // words: unbelievable(12) acting(6) here(4) today(5)
        // pieces (truncated after "her"): un ##believ ##able act ##ing her
        // chars: u n (.2) b e l i e v (.7) a b l e (.1) | a c t (.3) i n g (.6) | h e r (.9)
        // unbelievable = .7 ; acting = .6 ; here -> only 3 chars left -> max(.9) partial ; today not covered
        let pieces = [
            "[CLS]", "un", "##believ", "##able", "act", "##ing", "her", "[SEP]",
        ];
        let scores = [1.0, 0.2, 0.7, 0.1, 0.3, 0.6, 0.9, 1.0];
        let words = ["unbelievable", "acting", "here", "today"];
        let r = word_scores_reference(&words, &pieces, &scores, SP).unwrap();
        assert_eq!(r.scores, vec![0.7, 0.6, 0.9]);
        assert_eq!((r.covered_words, r.total_words), (3, 4));
        assert!(r.partial_last_word);
        // the last covered word is excluded from the reference's check
        assert_eq!(r.first_mismatch, None);
    }

    #[test]
    fn reference_unk_shifts_later_words() {
        // words: a(1) ☃☃(2) big(3) cat(3)
        // pieces: [CLS] a [UNK] big cat [SEP]; scores .1 .2 .9 .3 .4 .5
        // [UNK] dropped -> chars: a(.2) b i g(.3) c a t(.4)  (7 chars)
        // a = .2 ; ☃☃ takes "bi" -> .3 ; big takes "gca" -> max(.3,.4,.4) = .4 ; cat takes "t" -> .4 (partial)
        let pieces = ["[CLS]", "a", "[UNK]", "big", "cat", "[SEP]"];
        let scores = [0.1, 0.2, 0.9, 0.3, 0.4, 0.5];
        let words = ["a", "☃☃", "big", "cat"];
        let r = word_scores_reference(&words, &pieces, &scores, SP).unwrap();
        assert_eq!(r.scores, vec![0.2, 0.3, 0.4, 0.4]);
        assert_eq!(r.covered_words, 4);
        assert!(r.partial_last_word);
        assert_eq!(r.piece_chars, 7);
        // word 1 ("☃☃") is reconstructed as "bi": the reference would abort here
        assert_eq!(r.first_mismatch, Some(1));

        // Offsets alignment on the same input: text "a ☃☃ big cat" (chars: a=0..1, ☃☃=2..4, big=5..8, cat=9..12)
        let offsets = [(0, 0), (0, 1), (2, 4), (5, 8), (9, 12), (0, 0)];
        let r = word_scores_offsets(
            "a ☃☃ big cat",
            &pieces,
            &scores,
            &offsets,
            OffsetUnit::Chars,
            SP,
        )
        .unwrap();
        // [UNK] keeps its score .9 for ☃☃
        assert_eq!(r.scores, vec![0.2, 0.9, 0.3, 0.4]);
        assert_eq!((r.covered_words, r.total_words), (4, 4));
        // byte offsets: ☃ is 3 bytes -> a=0..1, ☃☃=2..8, big=9..12, cat=13..16
        let boff = [(0, 0), (0, 1), (2, 8), (9, 12), (13, 16), (0, 0)];
        let rb = word_scores_offsets(
            "a ☃☃ big cat",
            &pieces,
            &scores,
            &boff,
            OffsetUnit::Bytes,
            SP,
        )
        .unwrap();
        assert_eq!(rb, r);
    }

    #[test]
    fn offsets_truncated_and_multi_piece_words() {
        // text "unbelievable acting here today"; pieces up to "her" (truncated mid-word "here")
        // offsets (chars): un 0..2, ##believ 2..8, ##able 8..12, act 13..16, ##ing 16..19, her 20..23
        let pieces = [
            "[CLS]", "un", "##believ", "##able", "act", "##ing", "her", "[SEP]",
        ];
        let scores = [1.0, 0.2, 0.7, 0.1, 0.3, 0.6, 0.9, 1.0];
        let offsets = [
            (0, 0),
            (0, 2),
            (2, 8),
            (8, 12),
            (13, 16),
            (16, 19),
            (20, 23),
            (0, 0),
        ];
        let input = WordAggregationInput {
            text: "unbelievable acting here today",
            pieces: &pieces,
            scores: &scores,
            offsets: Some(&offsets),
            offset_unit: OffsetUnit::Chars,
            special_tokens: SP,
        };
        let r = word_scores(WordAlignment::Offsets, &input).unwrap();
        assert_eq!(r.scores, vec![0.7, 0.6, 0.9]);
        assert_eq!((r.covered_words, r.total_words), (3, 4));
        let r = word_scores(WordAlignment::Reference, &input).unwrap();
        assert_eq!(r.scores, vec![0.7, 0.6, 0.9]);
        // a piece spanning two words (e.g. a tokenizer that merges) scores both
        let r = word_scores_offsets(
            "ab cd ef",
            &["x", "y"],
            &[0.5, 0.25],
            &[(0, 4), (6, 8)],
            OffsetUnit::Bytes,
            SP,
        )
        .unwrap();
        assert_eq!(r.scores, vec![0.5, 0.5, 0.25]);
        // an interior word touched by no piece gets 0
        let r = word_scores_offsets(
            "ab cd ef",
            &["x", "y"],
            &[0.5, 0.25],
            &[(0, 2), (6, 8)],
            OffsetUnit::Bytes,
            SP,
        )
        .unwrap();
        assert_eq!(r.scores, vec![0.5, 0.0, 0.25]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            word_scores_reference(&["a"], &["a", "b"], &[0.0], SP),
            Err(WordAggregationError::LengthMismatch { .. })
        ));
        assert!(matches!(
            word_scores_reference(&["a"], &["a"], &[f32::NAN], SP),
            Err(WordAggregationError::NonFiniteScore { index: 0, .. })
        ));
        assert!(matches!(
            word_scores_offsets("ab", &["a"], &[0.0], &[(1, 5)], OffsetUnit::Bytes, SP),
            Err(WordAggregationError::BadOffsets { .. })
        ));
        let input = WordAggregationInput {
            text: "a",
            pieces: &["a"],
            scores: &[0.0],
            offsets: None,
            offset_unit: OffsetUnit::Chars,
            special_tokens: SP,
        };
        assert_eq!(
            word_scores(WordAlignment::Offsets, &input),
            Err(WordAggregationError::MissingOffsets)
        );
    }
}
