//! BERT tokenisation with the `tokenizers` crate, from a `tokenizer.json` or a WordPiece
//! `vocab.txt` (uncased BERT pipeline: BertNormalizer with lower-casing, BertPreTokenizer,
//! WordPiece, `[CLS] … [SEP]`).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::Tokenizer;

use crate::error::{ModelError, Result};
use crate::trace::TextBatch;

/// One encoded text: ids, word-piece strings and character offsets into the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// Token ids including `[CLS]` and `[SEP]`.
    pub ids: Vec<u32>,
    /// Word-piece strings (`##` continuation prefix kept).
    pub tokens: Vec<String>,
    /// Character offsets (start, end) of each token in the input; (0, 0) for specials.
    pub offsets: Vec<(usize, usize)>,
    /// 1 for special tokens.
    pub special: Vec<bool>,
}

/// A BERT tokenizer.
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    pad_id: u32,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, or builds the uncased BERT pipeline from a `vocab.txt`
    /// (chosen by the file name: `*.json` is a tokenizer.json, anything else a vocab).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let err = |reason: String| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        if !path.exists() {
            return Err(ModelError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "tokenizer file not found",
                ),
            });
        }
        let mut inner = if path.extension().and_then(|e| e.to_str()) == Some("json") {
            Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?
        } else {
            let file = path
                .to_str()
                .ok_or_else(|| err("path is not UTF-8".into()))?;
            let wp = WordPiece::from_file(file)
                .unk_token("[UNK]".into())
                .build()
                .map_err(|e| err(e.to_string()))?;
            let mut t = Tokenizer::new(wp);
            t.with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
                .map_err(|e| err(e.to_string()))?;
            t.with_pre_tokenizer(Some(BertPreTokenizer));
            let id = |tok: &str| {
                t.token_to_id(tok)
                    .ok_or_else(|| err(format!("vocabulary has no `{tok}` token")))
            };
            let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
            t.with_post_processor(Some(BertProcessing::new(
                ("[SEP]".into(), sep),
                ("[CLS]".into(), cls),
            )));
            t
        };
        // A tokenizer.json may carry padding/truncation settings (MiniLM pads to 128); we pad
        // ourselves, per batch.
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?;
        let pad_id = inner.token_to_id("[PAD]").unwrap_or(0);
        Ok(Self {
            inner,
            path: path.to_path_buf(),
            pad_id,
        })
    }

    /// The id of a token string, if in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The `[PAD]` id (0 in BERT vocabularies).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Encodes one text with `[CLS]`/`[SEP]`, truncating to `max_len` tokens (keeping the
    /// final `[SEP]`, like `encode_plus(truncation=True)`).
    pub fn encode(&self, text: &str, max_len: usize) -> Result<Encoded> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| ModelError::Tokenizer {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let mut out = Encoded {
            ids: enc.get_ids().to_vec(),
            tokens: enc.get_tokens().to_vec(),
            offsets: enc.get_offsets().to_vec(),
            special: enc
                .get_special_tokens_mask()
                .iter()
                .map(|&s| s == 1)
                .collect(),
        };
        if out.ids.len() > max_len && max_len >= 2 {
            let last = out.ids.len() - 1;
            for v in [&mut out.special] {
                let s = v[last];
                v.truncate(max_len - 1);
                v.push(s);
            }
            let id = out.ids[last];
            out.ids.truncate(max_len - 1);
            out.ids.push(id);
            let t = out.tokens[last].clone();
            out.tokens.truncate(max_len - 1);
            out.tokens.push(t);
            let o = out.offsets[last];
            out.offsets.truncate(max_len - 1);
            out.offsets.push(o);
        }
        Ok(out)
    }

    /// Encodes and right-pads a batch into tensors.
    pub fn batch(
        &self,
        texts: &[&str],
        max_len: usize,
        device: &Device,
    ) -> Result<(TextBatch, Vec<Encoded>)> {
        let encs = texts
            .iter()
            .map(|t| self.encode(t, max_len))
            .collect::<Result<Vec<_>>>()?;
        Ok((
            batch_from_ids(
                &encs.iter().map(|e| e.ids.clone()).collect::<Vec<_>>(),
                self.pad_id,
                device,
            )?,
            encs,
        ))
    }
}

/// Right-pads id sequences into a [`TextBatch`] (segment ids 0).
pub fn batch_from_ids(seqs: &[Vec<u32>], pad_id: u32, device: &Device) -> Result<TextBatch> {
    let b = seqs.len();
    if b == 0 {
        return Err(ModelError::Input("empty text batch".into()));
    }
    let n = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
    if n == 0 {
        return Err(ModelError::Input("empty token sequence".into()));
    }
    let mut ids = vec![pad_id as i64; b * n];
    let mut mask = vec![0i64; b * n];
    for (i, s) in seqs.iter().enumerate() {
        for (j, &t) in s.iter().enumerate() {
            ids[i * n + j] = t as i64;
            mask[i * n + j] = 1;
        }
    }
    Ok(TextBatch {
        input_ids: Tensor::from_data(TensorData::new(ids, [b, n]), device),
        attention_mask: Tensor::from_data(TensorData::new(mask, [b, n]), device),
        token_type_ids: Tensor::<2, Int>::zeros([b, n], device),
        lengths: seqs.iter().map(|s| s.len()).collect(),
    })
}
