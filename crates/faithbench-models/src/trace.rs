//! What a traced forward pass returns, and the [`Explainable`] trait every model implements.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::error::{ModelError, Result};
use crate::rules::InputGradRequest;

/// A batch of tokenised text (right-padded).
#[derive(Debug, Clone)]
pub struct TextBatch {
    /// Token ids (B, N).
    pub input_ids: Tensor<2, Int>,
    /// 1 for real tokens, 0 for padding (B, N).
    pub attention_mask: Tensor<2, Int>,
    /// Segment ids (B, N).
    pub token_type_ids: Tensor<2, Int>,
    /// Number of real (non-padding) tokens per row.
    pub lengths: Vec<usize>,
}

/// Model input: a normalised image batch or a text batch.
#[derive(Debug, Clone)]
pub enum ModelInput {
    /// Normalised images (B, 3, S, S) — normalisation is done by the caller (see
    /// [`crate::preprocess`]), because perturbation tests remove pixels before it.
    Image(Tensor<4>),
    /// Tokenised text.
    Text(TextBatch),
}

impl ModelInput {
    /// Batch size.
    pub fn batch_size(&self) -> usize {
        match self {
            ModelInput::Image(t) => t.dims()[0],
            ModelInput::Text(t) => t.input_ids.dims()[0],
        }
    }

    /// Device of the input tensors.
    pub fn device(&self) -> Device {
        match self {
            ModelInput::Image(t) => t.device(),
            ModelInput::Text(t) => t.input_ids.device(),
        }
    }

    /// Selects rows of the batch (with repetition), e.g. to run several IG steps of the same
    /// inputs in one call.
    pub fn select_rows(&self, rows: &[usize]) -> ModelInput {
        let dev = self.device();
        let idx = Tensor::<1, Int>::from_data(
            TensorData::new(
                rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                [rows.len()],
            ),
            &dev,
        );
        match self {
            ModelInput::Image(t) => ModelInput::Image(t.clone().select(0, idx)),
            ModelInput::Text(t) => ModelInput::Text(TextBatch {
                input_ids: t.input_ids.clone().select(0, idx.clone()),
                attention_mask: t.attention_mask.clone().select(0, idx.clone()),
                token_type_ids: t.token_type_ids.clone().select(0, idx),
                lengths: rows.iter().map(|&r| t.lengths[r]).collect(),
            }),
        }
    }

    /// Moves the input to a device (e.g. the autodiff device of the model).
    pub fn to_device(&self, device: &Device) -> ModelInput {
        match self {
            ModelInput::Image(t) => ModelInput::Image(t.clone().to_device(device)),
            ModelInput::Text(t) => ModelInput::Text(t.to_device(device)),
        }
    }
}

impl TextBatch {
    /// Moves the batch to a device.
    pub fn to_device(&self, device: &Device) -> TextBatch {
        TextBatch {
            input_ids: self.input_ids.clone().to_device(device),
            attention_mask: self.attention_mask.clone().to_device(device),
            token_type_ids: self.token_type_ids.clone().to_device(device),
            lengths: self.lengths.clone(),
        }
    }
}

/// Which scalar the gradients are taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The pre-softmax logit of the explained class (the reference code, TI).
    #[default]
    Logit,
    /// The softmax probability of the explained class (InterpretDL's CV default).
    Probability,
}

/// A request for ∂y/∂A: y = Σ_b objective(logits[b])[targets[b]].
#[derive(Debug, Clone)]
pub struct GradRequest {
    /// Explained class per batch row.
    pub targets: Vec<usize>,
    /// Logit or probability.
    pub objective: Objective,
    /// Layers whose attention gradient is wanted (others get no probe, so backward skips them).
    pub layers: Vec<usize>,
}

/// Which stream the token-wise value projection `v·W_Oᵀ` is computed on (see
/// [`Explainable::trace_vproj`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VprojSource {
    /// The values the attention actually uses: `v` of the attention input (`ln_1(z)` /
    /// `norm1(z)` for pre-LN models, the layer input for BERT). The method's definition
    /// (protocols §1.3) and what TI does for ViT and BERT.
    #[default]
    AttentionInput,
    /// TI's CLIP code (pitfall P9a): `v` recomputed from `ln_1` of the stream *after* the
    /// attention residual, `ln_1(z + attn(ln_1 z))`. Only CLIP models offer it.
    PostAttention,
}

/// What to record during a traced forward.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Record A for every layer.
    pub attn: bool,
    /// Record the block input z and `v·W_Oᵀ` for every layer.
    pub z_vproj: bool,
    /// Take gradients.
    pub grad: Option<GradRequest>,
}

/// Per-layer recordings (plain tensors, no autodiff graph).
#[derive(Debug, Clone, Default)]
pub struct LayerTrace {
    /// Post-softmax attention probabilities (B, H, N, N).
    pub attn: Option<Tensor<4>>,
    /// ∂y/∂A (B, H, N, N).
    pub grad: Option<Tensor<4>>,
    /// Block input (pre-LayerNorm residual stream for pre-LN models; layer input for BERT), (B, N, D).
    pub z: Option<Tensor<3>>,
    /// `v·W_Oᵀ` without bias (B, N, D).
    pub vproj: Option<Tensor<3>>,
}

/// Output of a traced forward pass.
#[derive(Debug, Clone)]
pub struct ForwardTrace {
    /// Logits (B, C), plain tensor.
    pub logits: Tensor<2>,
    /// One entry per layer.
    pub layers: Vec<LayerTrace>,
}

/// How a square token-to-token matrix T (N×N) is read out into a relevance vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// ViT / CLIP with a class token: `t_j = T[0, j]`, j = 1..N-1 (patch tokens).
    ClsRow,
    /// ViT with global average pooling (MAE): `t_j = mean_{i≥1} T[i, j]`, j = 1..N-1.
    MeanPatchRows,
    /// BERT: `t = T[0, :]` over all N tokens, then `t_0 := 0`.
    BertClsRow,
    /// CLIP text tower (protocols §1.6): the row of the end-of-text token `e` (per sample, see
    /// [`Explainable::readout_rows`]), columns `1..e` (the text tokens between start and end,
    /// `e − 1` values): `t_j = T[e, j]`, j = 1..e-1.
    EotRow,
}

/// Model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Vision transformer (image input).
    Vit,
    /// BERT sequence classifier (text input).
    Bert,
    /// CLIP image tower explained against fixed text embeddings (image input; also the family
    /// of a loaded CLIP model).
    Clip,
    /// CLIP text tower explained against fixed image embeddings (text input).
    ClipText,
}

impl Family {
    /// The name used in configs and messages (`vit`, `bert`, `clip`, `clip_text`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Vit => "vit",
            Family::Bert => "bert",
            Family::Clip => "clip",
            Family::ClipText => "clip_text",
        }
    }
}

/// A model the explainers can trace.
pub trait Explainable: Send + Sync {
    /// Model family.
    fn family(&self) -> Family;
    /// Number of attention layers L.
    fn num_layers(&self) -> usize;
    /// Number of heads H.
    fn num_heads(&self) -> usize;
    /// How token relevance is read out of a token-to-token matrix.
    fn readout(&self) -> Readout;
    /// Patch grid (h, w) for image models.
    fn patch_grid(&self) -> Option<(usize, usize)>;
    /// Device of the model's weights (an autodiff device when gradients are needed).
    fn device(&self) -> Device;
    /// Forward pass with `alphas[b]` scaling the IG-scaled quantity of row b (protocols §1.5:
    /// normalised image for ViT, embedding output for BERT), recording what `opts` asks for.
    fn trace(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
    ) -> Result<ForwardTrace>;
    /// The same model with its average pooling's `fc_norm` in `order` (the reference's MAE
    /// LRP model, pitfall P7): `None` when the model already has that order; an error for
    /// models without `fc_norm` when another order than the default is asked for.
    fn with_fc_norm_order(
        &self,
        order: crate::vit::FcNormOrder,
    ) -> Result<Option<Box<dyn Explainable>>> {
        if order.is_default() {
            return Ok(None);
        }
        Err(ModelError::Input(format!(
            "fc_norm_order = \"norm_then_pool\" applies to average-pooled ViTs with fc_norm (MAE); a {} model has none",
            self.family().name()
        )))
    }
    /// LRP relevance at the attention probabilities of layers `down_to..L` (protocols §2.4),
    /// each (B, H, N, N). Models without LRP support return an error.
    fn attn_relevance(
        &self,
        input: &ModelInput,
        targets: &[usize],
        rules: crate::lrp::LrpRules,
        down_to: usize,
    ) -> Result<Vec<Option<Tensor<4>>>> {
        let _ = (input, targets, rules, down_to);
        Err(ModelError::Input("this model does not support LRP".into()))
    }
    /// The query row of the read-out per sample: 0 for class-token read-outs, the end-of-text
    /// position for [`Readout::EotRow`].
    fn readout_rows(&self, input: &ModelInput) -> Result<Vec<usize>> {
        Ok(vec![0; input.batch_size()])
    }
    /// As [`trace`](Explainable::trace), with `v·W_Oᵀ` (recorded when `opts.z_vproj`) computed
    /// on the stream `source` names. [`VprojSource::AttentionInput`] is `trace` itself; only
    /// the CLIP views offer [`VprojSource::PostAttention`] (TI's CLIP code, pitfall P9a), other
    /// models return an error for it.
    fn trace_vproj(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        opts: &TraceOptions,
        source: VprojSource,
    ) -> Result<ForwardTrace> {
        match source {
            VprojSource::AttentionInput => self.trace(input, alphas, opts),
            VprojSource::PostAttention => Err(ModelError::Input(format!(
                "vproj source `post_attention` is TI's CLIP variant (pitfall P9a); a {} model \
                 records v·W_Oᵀ of the attention input only",
                self.family().name()
            ))),
        }
    }
    /// The model's parameter-randomisation steps from the output down (`head`, `block L-1` …
    /// `block 0`, `embeddings`; [`crate::randomize`]), for the model-randomisation sanity
    /// check. Empty for models that offer none.
    fn randomization_steps(&self) -> Vec<String> {
        Vec::new()
    }
    /// A copy of the model with the parameters of `steps` (indices into
    /// [`randomization_steps`](Explainable::randomization_steps)) re-initialised, seeded.
    fn randomized(&self, steps: &[usize], seed: u64) -> Result<Box<dyn Explainable>> {
        let _ = (steps, seed);
        Err(ModelError::Input(format!(
            "a {} model offers no parameter randomisation",
            self.family().name()
        )))
    }
    /// Gradient × input at the input representation, under `request.rules`
    /// ([`crate::rules`]): with `x` the normalised image (image models) or the word / token
    /// embeddings before position and type embeddings are added (text models), the forward
    /// runs on `alphas[b] · x_b` and the result is `x ⊙ ∂y/∂(α x)` summed per token — over
    /// channels and the pixels of each patch (B, N−1, patch order) or over the hidden size
    /// (B, N, every position of the padded row). `alphas = 1` is input × gradient (and, with
    /// LRP rules, the LRP relevance of the input); the mean over an α grid is integrated
    /// gradients with a zero baseline. Models without it return an error.
    fn input_relevance(
        &self,
        input: &ModelInput,
        alphas: &[f32],
        request: &crate::rules::InputGradRequest,
    ) -> Result<Tensor<2>> {
        let _ = (input, alphas, request);
        Err(ModelError::Input(format!(
            "a {} model does not offer gradient × input at its input",
            self.family().name()
        )))
    }
    /// Plain forward (alpha = 1), logits (B, C).
    fn logits(&self, input: &ModelInput) -> Result<Tensor<2>> {
        let b = input.batch_size();
        Ok(self
            .trace(input, &vec![1.0; b], &TraceOptions::default())?
            .logits)
    }
}

/// Whether `device` is burn's flex CPU device (with or without autodiff).
pub(crate) fn is_flex(device: &Device) -> bool {
    device.clone().inner() == Device::flex()
}

/// The index of the first layer with a probe (`probes.len()` if none): no gradient a trace
/// returns flows through anything computed before that layer's attention.
pub(crate) fn first_probe(probes: &[Option<Tensor<4>>]) -> usize {
    probes
        .iter()
        .position(Option::is_some)
        .unwrap_or(probes.len())
}

/// Exact (erf) GELU, `x · Φ(x)`, with the exact gradient on every device. On flex it is burn's
/// `gelu` op, whose backward there is the derivative of the erf form. burn's default
/// `gelu_backward`, which the cubecl backends (wgpu, cuda) inherit, is the derivative of the
/// *tanh approximation* instead — 3.3e-4 relative off the exact one on a (1, 197, 768) batch
/// (measured on wgpu/lavapipe, docs/gpu.md), the error every attention gradient on wgpu
/// inherited — so elsewhere the function is composed from `erf`, whose backward is exact.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if is_flex(&x.device()) {
        burn::tensor::activation::gelu(x)
    } else {
        gelu_composed(x)
    }
}

/// `x · (1 + erf(x/√2)) / 2` from burn's element-wise ops (their backward: the erf derivative).
pub(crate) fn gelu_composed<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone()
        * x.div_scalar(core::f64::consts::SQRT_2)
            .erf()
            .add_scalar(1.0)
            .mul_scalar(0.5)
}

/// Exact (erf) GELU for activations no gradient has to flow through, spread over the CPU
/// threads. burn-flex's own GELU kernel runs on one thread (scalar `libm::erff`); this computes
/// the same expression with the same `erff`, element by element, so the values are bit-identical
/// — only the work is split. The result is a new tensor outside the autodiff graph. On other
/// devices it is burn's `gelu`.
pub(crate) fn gelu_untracked<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !is_flex(&device) || x.dtype() != burn::tensor::DType::F32 {
        return gelu(x);
    }
    let mut data = x.into_data();
    match data.as_mut_slice::<f32>() {
        Ok(values) => {
            use rayon::prelude::*;
            let sqrt2 = core::f32::consts::SQRT_2;
            values.par_chunks_mut(1 << 15).for_each(|chunk| {
                for v in chunk {
                    let x = *v;
                    // The expression of burn-flex's `gelu` (ops/activation.rs), kept verbatim.
                    *v = 0.5 * x * (1.0 + libm::erff(x / sqrt2));
                }
            });
            Tensor::from_data(data, &device)
        }
        Err(_) => gelu(Tensor::from_data(data, &device)),
    }
}

/// Zero probes for the requested layers (None elsewhere), on the model device.
pub(crate) fn make_probes(
    opts: &TraceOptions,
    num_layers: usize,
    shape: [usize; 4],
    device: &Device,
) -> Result<Vec<Option<Tensor<4>>>> {
    let mut probes = vec![None; num_layers];
    if let Some(g) = &opts.grad {
        if !device.is_autodiff() {
            return Err(ModelError::Input(
                "gradients were requested but the model is not on an autodiff device \
                 (create it on `device.autodiff()`)"
                    .into(),
            ));
        }
        if g.targets.len() != shape[0] {
            return Err(ModelError::Input(format!(
                "{} target classes given for a batch of {}",
                g.targets.len(),
                shape[0]
            )));
        }
        for &l in &g.layers {
            if l >= num_layers {
                return Err(ModelError::Input(format!(
                    "gradient requested for layer {l}, the model has {num_layers} layers"
                )));
            }
            probes[l] = Some(Tensor::<4>::zeros(shape, device).require_grad());
        }
    }
    Ok(probes)
}

/// Per-sample alpha as a tensor broadcastable over the trailing `D-1` dims.
pub(crate) fn alpha_tensor<const D: usize>(alphas: &[f32], device: &Device) -> Tensor<D> {
    let mut shape = [1usize; D];
    shape[0] = alphas.len();
    Tensor::from_data(TensorData::new(alphas.to_vec(), shape), device)
}

/// `y = Σ_b objective(logits[b])[targets[b]]`, the scalar every gradient is taken of (an error
/// when a target is out of range).
pub(crate) fn explained_score(
    logits: &Tensor<2>,
    targets: &[usize],
    objective: Objective,
) -> Result<Tensor<1>> {
    let [b, c] = logits.dims();
    if targets.len() != b {
        return Err(ModelError::Input(format!(
            "{} target classes given for a batch of {b}",
            targets.len()
        )));
    }
    if let Some(&bad) = targets.iter().find(|&&t| t >= c) {
        return Err(ModelError::Input(format!(
            "target class {bad} out of range for a model with {c} classes"
        )));
    }
    let mut onehot = vec![0f32; b * c];
    for (i, &t) in targets.iter().enumerate() {
        onehot[i * c + t] = 1.0;
    }
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, c]), &logits.device());
    let scores = match objective {
        Objective::Logit => logits.clone(),
        Objective::Probability => softmax(logits.clone(), 1),
    };
    Ok((scores * onehot).sum())
}

/// The gradient of `explained_score` at the leaf `x` (a tensor made with `require_grad` that
/// the logits were computed from).
pub(crate) fn leaf_gradient<const D: usize>(
    logits: &Tensor<2>,
    x: &Tensor<D>,
    request: &InputGradRequest,
) -> Result<Tensor<D>> {
    let grads = explained_score(logits, &request.targets, request.objective)?.backward();
    x.grad(&grads).ok_or_else(|| {
        ModelError::Input("no gradient reached the input (all rules detach it?)".into())
    })
}

/// A leaf `alpha_b · x_b` that requires grad on an autodiff device (an error elsewhere).
pub(crate) fn scaled_leaf<const D: usize>(x: Tensor<D>, alphas: &[f32]) -> Result<Tensor<D>> {
    let dev = x.device();
    if !dev.is_autodiff() {
        return Err(ModelError::Input(
            "gradients were requested but the model is not on an autodiff device \
             (create it on `device.autodiff()`)"
                .into(),
        ));
    }
    if alphas.len() != x.dims()[0] {
        return Err(ModelError::Input(format!(
            "{} alphas for a batch of {}",
            alphas.len(),
            x.dims()[0]
        )));
    }
    Ok((x * alpha_tensor::<D>(alphas, &dev))
        .detach()
        .require_grad())
}

/// Runs backward for the gradient request and fills `layers[l].grad`.
pub(crate) fn finish_trace(
    logits: Tensor<2>,
    probes: Vec<Option<Tensor<4>>>,
    mut layers: Vec<LayerTrace>,
    opts: &TraceOptions,
) -> Result<ForwardTrace> {
    if let Some(g) = &opts.grad {
        let y = explained_score(&logits, &g.targets, g.objective)?;
        let grads = y.backward();
        for (l, p) in probes.iter().enumerate() {
            if let Some(p) = p {
                layers[l].grad = p.grad(&grads);
            }
        }
    }
    Ok(ForwardTrace {
        logits: logits.inner(),
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The composed GELU the non-flex devices use: its values are x·Φ(x) and its gradient is
    /// the erf form's derivative Φ(x) + x·φ(x), hand-computed in f64 — not the derivative of
    /// the tanh approximation that burn's default `gelu_backward` takes on wgpu (at x = −2:
    /// −0.08610 against the exact −0.08523).
    #[test]
    fn wgpu_gelu_backward_is_the_erf_derivative() {
        let xs = [-3.0f64, -2.0, -0.5, 0.0, 0.7, 1.0, 3.0];
        let dev = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(
            TensorData::new(xs.iter().map(|&v| v as f32).collect::<Vec<_>>(), [xs.len()]),
            &dev,
        )
        .require_grad();
        let y = gelu_composed(x.clone());
        let values = y
            .clone()
            .inner()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let grads = y.sum().backward();
        let g = x
            .grad(&grads)
            .expect("grad")
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let phi = |x: f64| 0.5 * libm::erfc(-x / core::f64::consts::SQRT_2);
        let density = |x: f64| (-0.5 * x * x).exp() / (2.0 * core::f64::consts::PI).sqrt();
        // The tanh approximation's derivative, which burn's default backward computes.
        let tanh_derivative = |x: f64| {
            let c = (2.0 / core::f64::consts::PI).sqrt();
            let u = c * (x + 0.044715 * x * x * x);
            let t = u.tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x)
        };
        for (i, &x) in xs.iter().enumerate() {
            let want = phi(x) + x * density(x);
            assert!(
                (values[i] as f64 - x * phi(x)).abs() < 1e-6,
                "gelu({x}) = {} instead of {}",
                values[i],
                x * phi(x)
            );
            assert!(
                (g[i] as f64 - want).abs() < 1e-6,
                "gelu'({x}) = {} instead of {want}",
                g[i]
            );
        }
        // The two derivatives differ by more than the tolerance, so the test tells them apart.
        assert!((tanh_derivative(-2.0) - (phi(-2.0) - 2.0 * density(-2.0))).abs() > 1e-4);
    }
}
