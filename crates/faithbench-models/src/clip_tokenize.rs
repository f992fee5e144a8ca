//! OpenAI CLIP's byte-level BPE tokenizer (`clip/simple_tokenizer.py` and `clip.tokenize`),
//! with the vocabulary embedded (`data/bpe_simple_vocab_16e6.txt.gz`, OpenAI's file).
//!
//! Pipeline (as OpenAI's `SimpleTokenizer.encode`):
//! 1. clean-up: `ftfy.fix_text` (the subset described in [`clean`]: everything ftfy does to
//!    ordinary text, not mojibake repair), `html.unescape` twice, strip, runs of whitespace to
//!    one space, lower-casing;
//! 2. split with `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//!    (compiled with IGNORECASE by OpenAI: the literal alternatives match case-insensitively,
//!    and U+0345, whose case folding is a letter, matches no alternative and is dropped);
//! 3. each piece as UTF-8 bytes, each byte mapped to a printable character (GPT-2's
//!    byte→unicode table);
//! 4. BPE with `</w>` marking the end of the piece and OpenAI's merge ranks (the first
//!    49152 − 256 − 2 merges of the vocabulary file); a literal `<|startoftext|>` /
//!    `<|endoftext|>` in the text is that special token;
//! 5. [`ClipTokenizer::tokenize`]: `[49406] + ids + [49407]`, at most the context length (77);
//!    with `truncate` (as `clip.tokenize(..., truncate=True)`) the first 77 are kept and the last
//!    one is replaced by the end token; without it an over-long text is an error.
//!
//! The exactness test (`tests/clip_tokenizer.rs`) compares every id sequence with OpenAI's code
//! on a few hundred strings (`fixtures/clip/tokenizer.json`).

pub mod clean;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use burn::prelude::*;

use crate::error::{ModelError, Result};
use crate::trace::TextBatch;

/// OpenAI's BPE vocabulary, as shipped with CLIP (`bpe_simple_vocab_16e6.txt.gz`).
static BPE_VOCAB_GZ: &[u8] = include_bytes!("../data/bpe_simple_vocab_16e6.txt.gz");

/// The start-of-text id.
pub const SOT: u32 = 49406;
/// The end-of-text id.
pub const EOT: u32 = 49407;
/// CLIP's context length.
pub const CONTEXT_LENGTH: usize = 77;
/// Number of merges OpenAI uses (49152 − 256 − 2).
const NUM_MERGES: usize = 49152 - 256 - 2;

/// One tokenised text.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipEncoded {
    /// `[SOT] + BPE ids + [EOT]` (no padding).
    pub ids: Vec<u32>,
    /// The vocabulary string of each id (byte-level characters, `</w>` marks a word end).
    pub tokens: Vec<String>,
    /// Each token as readable text (its bytes decoded as UTF-8, lossy for tokens that split a
    /// character, `</w>` removed), for token heat maps.
    pub texts: Vec<String>,
    /// Whether the text was cut to the context length.
    pub truncated: bool,
}

impl ClipEncoded {
    /// Position of the end-of-text token (the last id).
    pub fn eot_position(&self) -> usize {
        self.ids.len().saturating_sub(1)
    }
}

/// CLIP's tokenizer.
pub struct ClipTokenizer {
    encoder: HashMap<String, u32>,
    decoder: Vec<String>,
    ranks: HashMap<(String, String), u32>,
    byte_encoder: [char; 256],
    byte_decoder: HashMap<char, u8>,
    pattern: regex::Regex,
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("vocab", &self.decoder.len())
            .finish()
    }
}

/// GPT-2 / CLIP byte → printable character table, in OpenAI's order.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let mut bs: Vec<u32> = ('!' as u32..='~' as u32)
        .chain('¡' as u32..='¬' as u32)
        .chain('®' as u32..='ÿ' as u32)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.into_iter()
        .zip(cs)
        .map(|(b, c)| (b as u8, char::from_u32(c).unwrap_or('?')))
        .collect()
}

impl ClipTokenizer {
    /// The tokenizer with OpenAI's embedded vocabulary.
    pub fn new() -> Result<Self> {
        Self::from_gz_bytes(
            BPE_VOCAB_GZ,
            Path::new("<embedded bpe_simple_vocab_16e6.txt.gz>"),
        )
    }

    /// A tokenizer from a `bpe_simple_vocab_16e6.txt.gz`-style file (gzip or plain text).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_gz_bytes(&bytes, path)
    }

    fn from_gz_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let err = |reason: String| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_string(&mut s)
                .map_err(|e| err(format!("cannot decompress the vocabulary: {e}")))?;
            s
        } else {
            String::from_utf8(bytes.to_vec())
                .map_err(|e| err(format!("the vocabulary is not UTF-8: {e}")))?
        };
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() < NUM_MERGES + 1 {
            return Err(err(format!(
                "the vocabulary has {} merge lines, CLIP needs {NUM_MERGES}",
                lines.len().saturating_sub(1)
            )));
        }
        let mut merges = Vec::with_capacity(NUM_MERGES);
        for (i, line) in lines[1..=NUM_MERGES].iter().enumerate() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) => merges.push((a.to_string(), b.to_string())),
                _ => {
                    return Err(err(format!(
                        "merge line {} is not two symbols: `{line}`",
                        i + 2
                    )))
                }
            }
        }
        let table = bytes_to_unicode();
        let mut byte_encoder = ['\0'; 256];
        let mut byte_decoder = HashMap::new();
        for &(b, c) in &table {
            byte_encoder[b as usize] = c;
            byte_decoder.insert(c, b);
        }
        let mut vocab: Vec<String> = table.iter().map(|&(_, c)| c.to_string()).collect();
        vocab.extend(table.iter().map(|&(_, c)| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<|startoftext|>".into());
        vocab.push("<|endoftext|>".into());
        // dict(zip(vocab, range(len(vocab)))): a repeated string keeps its last index.
        let mut encoder = HashMap::with_capacity(vocab.len());
        for (i, v) in vocab.iter().enumerate() {
            encoder.insert(v.clone(), i as u32);
        }
        let ranks = merges
            .into_iter()
            .enumerate()
            .map(|(i, m)| (m, i as u32))
            .collect();
        // OpenAI compiles the pattern with IGNORECASE. With Python's `regex` that changes only
        // (a) the literal alternatives (`'ſ` matches `'s`) and (b) U+0345, whose case folding
        // is a letter, so the negated class rejects it and the character is dropped. Rust's
        // case-insensitive classes would instead add U+0345 to `\p{L}`, so only the literals
        // are case-insensitive here and U+0345 is excluded explicitly.
        let pattern = regex::Regex::new(
            r"(?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d)|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}\x{345}]+",
        )
        .map_err(|e| err(format!("split pattern: {e}")))?;
        Ok(Self {
            encoder,
            decoder: vocab,
            ranks,
            byte_encoder,
            byte_decoder,
            pattern,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Vocabulary size (49408).
    pub fn vocab_size(&self) -> usize {
        self.decoder.len()
    }

    /// The text as the tokenizer sees it after clean-up (step 1 of the module docs).
    pub fn clean(text: &str) -> String {
        clean::clip_clean(text)
    }

    /// BPE of one byte-encoded piece (OpenAI's `bpe`), as vocabulary strings.
    fn bpe(&self, token: &str) -> Vec<String> {
        if token == "<|startoftext|>" || token == "<|endoftext|>" {
            return vec![token.to_string()];
        }
        let mut word: Vec<String> = token.chars().map(String::from).collect();
        match word.last_mut() {
            Some(last) => last.push_str("</w>"),
            None => return Vec::new(),
        }
        if word.len() == 1 {
            return word;
        }
        loop {
            let best = word
                .windows(2)
                .filter_map(|p| {
                    self.ranks
                        .get(&(p[0].clone(), p[1].clone()))
                        .map(|&r| (r, p[0].clone(), p[1].clone()))
                })
                .min_by_key(|(r, _, _)| *r);
            let Some((_, first, second)) = best else {
                break;
            };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                match word[i..].iter().position(|s| *s == first) {
                    Some(off) => {
                        merged.extend(word[i..i + off].iter().cloned());
                        i += off;
                    }
                    None => {
                        merged.extend(word[i..].iter().cloned());
                        break;
                    }
                }
                if i + 1 < word.len() && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
            if word.len() == 1 {
                break;
            }
        }
        word
    }

    /// BPE ids of a text, without the start/end tokens (OpenAI's `SimpleTokenizer.encode`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean::clip_clean(text);
        let mut ids = Vec::new();
        for m in self.pattern.find_iter(&cleaned) {
            let piece: String = m
                .as_str()
                .bytes()
                .map(|b| self.byte_encoder[b as usize])
                .collect();
            if let Ok(cache) = self.cache.lock() {
                if let Some(hit) = cache.get(&piece) {
                    ids.extend_from_slice(hit);
                    continue;
                }
            }
            // Every BPE symbol is a vocabulary entry by construction (single byte characters,
            // their `</w>` forms and merge results).
            let piece_ids: Vec<u32> = self
                .bpe(&piece)
                .iter()
                .filter_map(|s| self.encoder.get(s).copied())
                .collect();
            ids.extend_from_slice(&piece_ids);
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() < 1 << 16 {
                    cache.insert(piece, piece_ids);
                }
            }
        }
        ids
    }

    /// `[SOT] + encode(text) + [EOT]`, as `clip.tokenize(text, context_length, truncate)` builds
    /// it before padding. A text longer than `context_length` tokens is cut (the last kept token
    /// becomes the end token) with `truncate`, and is an error without it.
    pub fn tokenize(
        &self,
        text: &str,
        context_length: usize,
        truncate: bool,
    ) -> Result<ClipEncoded> {
        if context_length < 2 {
            return Err(ModelError::Input(format!(
                "context length {context_length} cannot hold the start and end tokens"
            )));
        }
        let mut ids = Vec::with_capacity(context_length);
        ids.push(SOT);
        ids.extend(self.encode(text));
        ids.push(EOT);
        let mut truncated = false;
        if ids.len() > context_length {
            if !truncate {
                return Err(ModelError::Input(format!(
                    "text is {} tokens long (with start and end tokens), more than the context \
                     length {context_length}; tokenize with truncation to cut it: `{text}`",
                    ids.len()
                )));
            }
            ids.truncate(context_length);
            if let Some(last) = ids.last_mut() {
                *last = EOT;
            }
            truncated = true;
        }
        let tokens = ids.iter().map(|&i| self.token(i).to_string()).collect();
        let texts = ids.iter().map(|&i| self.token_text(i)).collect();
        Ok(ClipEncoded {
            ids,
            tokens,
            texts,
            truncated,
        })
    }

    /// Tokenises texts into a batch padded with 0 to `context_length` (`clip.tokenize`):
    /// `input_ids` (B, context_length), `attention_mask` 1 up to and including the end token,
    /// `token_type_ids` 0, `lengths` = position of the end token + 1.
    pub fn tokenize_batch(
        &self,
        texts: &[&str],
        context_length: usize,
        truncate: bool,
        device: &Device,
    ) -> Result<(TextBatch, Vec<ClipEncoded>)> {
        let enc = texts
            .iter()
            .map(|t| self.tokenize(t, context_length, truncate))
            .collect::<Result<Vec<_>>>()?;
        let ids: Vec<Vec<u32>> = enc.iter().map(|e| e.ids.clone()).collect();
        Ok((clip_batch_from_ids(&ids, context_length, device)?, enc))
    }

    /// The vocabulary string of an id (empty for an unknown id).
    pub fn token(&self, id: u32) -> &str {
        self.decoder
            .get(id as usize)
            .map(|s| s.as_str())
            .unwrap_or("")
    }

    /// An id as readable text: its bytes decoded as UTF-8 (lossy), `</w>` removed.
    pub fn token_text(&self, id: u32) -> String {
        let s = self.token(id);
        if s == "<|startoftext|>" || s == "<|endoftext|>" {
            return s.to_string();
        }
        let s = s.strip_suffix("</w>").unwrap_or(s);
        let bytes: Vec<u8> = s
            .chars()
            .filter_map(|c| self.byte_decoder.get(&c).copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// OpenAI's `decode`: the ids' bytes joined and decoded (lossy), `</w>` as a space.
    pub fn decode(&self, ids: &[u32]) -> String {
        let joined: String = ids.iter().map(|&i| self.token(i)).collect();
        let mut bytes = Vec::with_capacity(joined.len());
        for c in joined.chars() {
            if let Some(&b) = self.byte_decoder.get(&c) {
                bytes.push(b);
            } else {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        String::from_utf8_lossy(&bytes).replace("</w>", " ")
    }
}

/// A CLIP text batch from id sequences (each `[SOT] … [EOT]`), zero-padded to `context_length`.
pub fn clip_batch_from_ids(
    ids: &[Vec<u32>],
    context_length: usize,
    device: &Device,
) -> Result<TextBatch> {
    let b = ids.len();
    if b == 0 {
        return Err(ModelError::Input("empty text batch".into()));
    }
    let mut flat = vec![0i64; b * context_length];
    let mut mask = vec![0i64; b * context_length];
    let mut lengths = Vec::with_capacity(b);
    for (r, row) in ids.iter().enumerate() {
        if row.len() > context_length || row.is_empty() {
            return Err(ModelError::Input(format!(
                "text {r} has {} tokens, the context length is {context_length}",
                row.len()
            )));
        }
        for (j, &id) in row.iter().enumerate() {
            flat[r * context_length + j] = id as i64;
            mask[r * context_length + j] = 1;
        }
        lengths.push(row.len());
    }
    let shape = [b, context_length];
    Ok(TextBatch {
        input_ids: Tensor::from_data(TensorData::new(flat, shape), device),
        attention_mask: Tensor::from_data(TensorData::new(mask, shape), device),
        token_type_ids: Tensor::zeros(shape, device),
        lengths,
    })
}
