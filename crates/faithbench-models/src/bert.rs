//! BERT sequence classifier (Hugging Face `BertForSequenceClassification`) with traced
//! attention. Post-LN layers; the IG scaling multiplies the embedding output (protocols §1.5).

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;

use crate::attention::SelfAttention;
use crate::error::{ModelError, Result};
use crate::rules::{activation, layer_norm, GradRules, InputGradRequest, NormRule};
use crate::trace::gelu;
use crate::trace::{
    alpha_tensor, finish_trace, leaf_gradient, make_probes, scaled_leaf, Explainable, Family,
    ForwardTrace, LayerTrace, ModelInput, Readout, TextBatch, TraceOptions,
};

/// BERT hyper-parameters (the fields of a Hugging Face `config.json` that matter).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size D.
    pub hidden: usize,
    /// Number of layers L.
    pub depth: usize,
    /// Number of heads H.
    pub heads: usize,
    /// FFN hidden size.
    pub intermediate: usize,
    /// Maximum positions.
    pub max_position: usize,
    /// Token-type vocabulary.
    pub type_vocab: usize,
    /// Number of classes (0 for an encoder-only checkpoint such as a sentence embedder).
    pub num_classes: usize,
    /// LayerNorm epsilon.
    pub ln_eps: f64,
}

impl BertConfig {
    /// `bert-base-uncased` with a classifier of `num_classes` outputs.
    pub fn bert_base(num_classes: usize) -> Self {
        Self {
            vocab_size: 30522,
            hidden: 768,
            depth: 12,
            heads: 12,
            intermediate: 3072,
            max_position: 512,
            type_vocab: 2,
            num_classes,
            ln_eps: 1e-12,
        }
    }

    /// A randomly initialised model (N(0, 0.02) embeddings, Kaiming-uniform Linears).
    pub fn init(&self, device: &Device) -> Bert {
        use burn::nn::{LayerNormConfig, LinearConfig};
        use burn::tensor::Distribution;
        let d = self.hidden;
        let ln = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.ln_eps)
                .init(device)
        };
        let lin = |i: usize, o: usize| LinearConfig::new(i, o).init(device);
        let normal = |shape: [usize; 2]| {
            Param::from_tensor(Tensor::<2>::random(
                shape,
                Distribution::Normal(0.0, 0.02),
                device,
            ))
        };
        Bert {
            embeddings: BertEmbeddings {
                word_embeddings: normal([self.vocab_size, d]),
                position_embeddings: normal([self.max_position, d]),
                token_type_embeddings: normal([self.type_vocab, d]),
                layer_norm: ln(),
            },
            layers: (0..self.depth)
                .map(|_| BertLayer {
                    attention: SelfAttention {
                        qkv: lin(d, 3 * d),
                        proj: lin(d, d),
                        num_heads: self.heads,
                    },
                    attention_norm: ln(),
                    intermediate: lin(d, self.intermediate),
                    output: lin(self.intermediate, d),
                    output_norm: ln(),
                })
                .collect(),
            pooler: (self.num_classes > 0).then(|| lin(d, d)),
            classifier: (self.num_classes > 0).then(|| lin(d, self.num_classes)),
            config: self.clone(),
        }
    }

    /// Reads a Hugging Face `config.json` (`BertConfig`). `num_classes` comes from
    /// `id2label` / `num_labels` (default 2, as in transformers), or 0 with `encoder_only`.
    pub fn from_hf_json(path: &std::path::Path, encoder_only: bool) -> Result<Self> {
        let err = |reason: String| ModelError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let get = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(|x| x.as_u64())
                .map(|x| x as usize)
                .ok_or_else(|| err(format!("missing or non-integer key `{k}`")))
        };
        if let Some(act) = v.get("hidden_act").and_then(|a| a.as_str()) {
            if act != "gelu" {
                return Err(err(format!(
                    "hidden_act `{act}` is not supported (faithbench implements exact `gelu`)"
                )));
            }
        }
        let num_classes = if encoder_only {
            0
        } else if let Some(m) = v.get("id2label").and_then(|m| m.as_object()) {
            m.len()
        } else {
            v.get("num_labels").and_then(|x| x.as_u64()).unwrap_or(2) as usize
        };
        Ok(Self {
            vocab_size: get("vocab_size")?,
            hidden: get("hidden_size")?,
            depth: get("num_hidden_layers")?,
            heads: get("num_attention_heads")?,
            intermediate: get("intermediate_size")?,
            max_position: get("max_position_embeddings")?,
            type_vocab: get("type_vocab_size")?,
            num_classes,
            ln_eps: v
                .get("layer_norm_eps")
                .and_then(|x| x.as_f64())
                .unwrap_or(1e-12),
        })
    }
}

/// Word + position + token-type embeddings, LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// (V, D).
    pub word_embeddings: Param<Tensor<2>>,
    /// (P, D).
    pub position_embeddings: Param<Tensor<2>>,
    /// (T, D).
    pub token_type_embeddings: Param<Tensor<2>>,
    /// Embedding LayerNorm (HF `embeddings.LayerNorm`).
    pub layer_norm: LayerNorm,
}

fn lookup(table: Tensor<2>, ids: Tensor<2, Int>) -> Tensor<3> {
    let [b, n] = ids.dims();
    let d = table.dims()[1];
    table.select(0, ids.reshape([b * n])).reshape([b, n, d])
}

impl BertEmbeddings {
    /// Embedding output (B, N, D) — before the IG scaling.
    pub fn forward(&self, batch: &TextBatch) -> Tensor<3> {
        let words = self.words(batch);
        self.forward_words(words, batch, NormRule::Gradient, 0.0)
    }

    /// The word embeddings of the batch (B, N, D), before position and type embeddings.
    pub fn words(&self, batch: &TextBatch) -> Tensor<3> {
        lookup(self.word_embeddings.val(), batch.input_ids.clone())
    }

    /// Embedding output from given word embeddings (B, N, D) (HF's `inputs_embeds`): plus
    /// position and type embeddings, then the LayerNorm under `rule` (`eps`: its epsilon).
    pub fn forward_words(
        &self,
        words: Tensor<3>,
        batch: &TextBatch,
        rule: NormRule,
        eps: f64,
    ) -> Tensor<3> {
        let [b, n] = batch.input_ids.dims();
        let dev = batch.input_ids.device();
        let pos = Tensor::<1, Int>::arange(0..n as i64, &dev)
            .reshape([1, n])
            .expand([b, n]);
        let e = words
            + lookup(self.position_embeddings.val(), pos)
            + lookup(
                self.token_type_embeddings.val(),
                batch.token_type_ids.clone(),
            );
        layer_norm(&self.layer_norm, e, rule, eps)
    }
}

/// One post-LN layer: `a = LN(x + attn(x))`, `out = LN(a + ffn(a))`.
#[derive(Module, Debug)]
pub struct BertLayer {
    /// Self-attention (query/key/value fused; `proj` = `attention.output.dense`).
    pub attention: SelfAttention,
    /// `attention.output.LayerNorm`.
    pub attention_norm: LayerNorm,
    /// `intermediate.dense`.
    pub intermediate: Linear,
    /// `output.dense`.
    pub output: Linear,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm,
}

/// BERT encoder with pooler and classifier.
#[derive(Module, Debug)]
pub struct Bert {
    /// Embeddings.
    pub embeddings: BertEmbeddings,
    /// Encoder layers.
    pub layers: Vec<BertLayer>,
    /// `pooler.dense` (tanh), absent in encoder-only checkpoints.
    pub pooler: Option<Linear>,
    /// `classifier`, absent in encoder-only checkpoints.
    pub classifier: Option<Linear>,
    /// Configuration.
    #[module(skip)]
    pub config: BertConfig,
}

/// Additive mask value for padded keys: `torch.finfo(float32).min`, as transformers ≥ 4.21
/// (the pinned reference environment, 4.24) adds.
pub const MASK_VALUE: f32 = f32::MIN;

impl Bert {
    fn check(&self, batch: &TextBatch) -> Result<()> {
        let [b, n] = batch.input_ids.dims();
        if n > self.config.max_position {
            return Err(ModelError::Input(format!(
                "sequence length {n} exceeds max_position_embeddings {}",
                self.config.max_position
            )));
        }
        if batch.attention_mask.dims() != [b, n] || batch.token_type_ids.dims() != [b, n] {
            return Err(ModelError::Input(
                "input_ids, attention_mask and token_type_ids must have the same shape".into(),
            ));
        }
        let max_id = batch.input_ids.clone().max().into_scalar::<i64>();
        let min_id = batch.input_ids.clone().min().into_scalar::<i64>();
        if min_id < 0 || max_id as usize >= self.config.vocab_size {
            return Err(ModelError::Input(format!(
                "token id out of range [0, {}): min {min_id}, max {max_id}",
                self.config.vocab_size
            )));
        }
        Ok(())
    }

    /// Runs the encoder; returns the last hidden state (B, N, D) and the per-layer traces.
    pub fn encode(
        &self,
        batch: &TextBatch,
        alphas: &[f32],
        opts: &TraceOptions,
        probes: &[Option<Tensor<4>>],
    ) -> Result<(Tensor<3>, Vec<LayerTrace>)> {
        self.check(batch)?;
        let b = batch.input_ids.dims()[0];
        if alphas.len() != b {
            return Err(ModelError::Input(format!(
                "{} alphas for a batch of {b}",
                alphas.len()
            )));
        }
        let dev = self.embeddings.word_embeddings.val().device();
        let mut x = self.embeddings.forward(batch);
        if !alphas.iter().all(|&a| a == 1.0) {
            x = x * alpha_tensor::<3>(alphas, &dev);
        }
        Ok(self.layers_forward(x, batch, opts, probes, &GradRules::default()))
    }

    /// The encoder layers on the embedding output `x`, under `rules`.
    fn layers_forward(
        &self,
        mut x: Tensor<3>,
        batch: &TextBatch,
        opts: &TraceOptions,
        probes: &[Option<Tensor<4>>],
        rules: &GradRules,
    ) -> (Tensor<3>, Vec<LayerTrace>) {
        let [b, n] = batch.input_ids.dims();
        let eps = self.config.ln_eps;
        let ln = |m: &LayerNorm, x: Tensor<3>| layer_norm(m, x, rules.layer_norm, eps);
        let mask = (batch.attention_mask.clone().float().neg() + 1.0)
            .mul_scalar(MASK_VALUE)
            .reshape([b, 1, 1, n]);
        let mut layers = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let probe = probes.get(i).cloned().flatten();
            let z = opts.z_vproj.then(|| x.clone().inner());
            let (a, rec) = layer.attention.forward_ruled(
                x.clone(),
                Some(&mask),
                probe,
                opts.attn,
                opts.z_vproj,
                rules.attention,
            );
            let a = ln(&layer.attention_norm, a + x);
            let f = layer.output.forward(activation(
                layer.intermediate.forward(a.clone()),
                gelu,
                rules.activation,
            ));
            x = ln(&layer.output_norm, f + a);
            layers.push(LayerTrace {
                attn: rec.attn,
                grad: None,
                z,
                vproj: rec.vproj,
            });
        }
        (x, layers)
    }

    fn heads(&self) -> Result<(&Linear, &Linear)> {
        match (&self.pooler, &self.classifier) {
            (Some(p), Some(c)) => Ok((p, c)),
            _ => Err(ModelError::Input(
                "this BERT checkpoint has no pooler/classifier (encoder only); it cannot be explained".into(),
            )),
        }
    }
}

impl Explainable for Bert {
    fn randomization_steps(&self) -> Vec<String> {
        crate::randomize::step_labels(self.layers.len())
    }
    fn randomized(&self, steps: &[usize], seed: u64) -> Result<Box<dyn Explainable>> {
        Ok(Box::new(self.randomized_copy(steps, seed)?))
    }
    fn family(&self) -> Family {
        Family::Bert
    }
    fn num_layers(&self) -> usize {
        self.layers.len()
    }
    fn num_heads(&self) -> usize {
        self.config.heads
    }
    fn readout(&self) -> Readout {
        Readout::BertClsRow
    }
    fn patch_grid(&self) -> Option<(usize, usize)> {
        None
    }
    fn device(&self) -> Device {
        self.embeddings.word_embeddings.val().device()
    }

    fn attn_relevance(
        &self,
        input: &ModelInput,
        targets: &[usize],
        rules: crate::lrp::LrpRules,
        down_to: usize,
    ) -> Result<Vec<Option<Tensor<4>>>> {
        let ModelInput::Text(batch) = input else {
            return Err(ModelError::Input("BERT needs a text input".into()));
        };
        self.check(batch)?;
        Bert::attn_relevance(self, batch, targets, rules, down_to)
    }

    fn input_relevance(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        request: &InputGradRequest,
    ) -> Result<Tensor<2>> {
        let ModelInput::Text(batch) = input else {
            return Err(ModelError::Input("BERT needs a text input".into()));
        };
        let (pooler, classifier) = self.heads()?;
        let batch = batch.to_device(&self.device());
        self.check(&batch)?;
        let rules = &request.rules;
        let words = self.embeddings.words(&batch);
        let leaf = scaled_leaf(words.clone(), alphas)?;
        let x = self.embeddings.forward_words(
            leaf.clone(),
            &batch,
            rules.layer_norm,
            self.config.ln_eps,
        );
        let (h, _) = self.layers_forward(x, &batch, &TraceOptions::default(), &[], rules);
        let [b, _, d] = h.dims();
        let pooled = activation(
            pooler.forward(h.narrow(1, 0, 1).reshape([b, d])),
            Tensor::tanh,
            rules.activation,
        );
        let logits = classifier.forward(pooled);
        let g = leaf_gradient(&logits, &leaf, request)?;
        Ok((words.inner() * g).sum_dim(2).squeeze_dim(2))
    }

    fn trace(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
    ) -> Result<ForwardTrace> {
        let ModelInput::Text(batch) = input else {
            return Err(ModelError::Input("BERT needs a text input".into()));
        };
        let (pooler, classifier) = self.heads()?;
        let dev = self.device();
        let batch = batch.to_device(&dev);
        let [b, n] = batch.input_ids.dims();
        let probes = make_probes(opts, self.layers.len(), [b, self.config.heads, n, n], &dev)?;
        let (h, layers) = self.encode(&batch, alphas, opts, &probes)?;
        let d = self.config.hidden;
        let pooled = pooler.forward(h.narrow(1, 0, 1).reshape([b, d])).tanh();
        let logits = classifier.forward(pooled);
        finish_trace(logits, probes, layers, opts)
    }
}
