//! Modified-gradient rules: LRP as Gradient × Input (lxt's "efficient" AttnLRP / CP-LRP,
//! Achtibat et al. ICML 2024, Ali et al. ICML 2022), and the one request type through which the
//! gradient baselines (input × gradient, integrated gradients) and the LRP methods ask a model
//! for `input ⊙ ∂y/∂input` ([`crate::Explainable::input_relevance`]).
//!
//! Every rule keeps the forward value exact and changes only what flows backward, written with
//! `detach()`:
//! * LayerNorm, identity rule: `(x − mean(x)) / detach(std(x)) · γ + β`;
//! * element-wise activation `f` (GELU, QuickGELU, BERT's pooler tanh), identity rule: forward
//!   `f(x)`, gradient `f(x) / (x + 1e-10)`, i.e.
//!   `detach(f(x)) + (x − detach(x)) · detach(f(x) / (x + 1e-10))`;
//! * attention, uniform rule: `q`, `k` pass a quarter and `v` half of their gradient
//!   (`x ↦ detach(x) + (x − detach(x)) / k`, lxt's `divide_gradient`), the softmax's gradient
//!   unchanged; constant rule (CP-LRP): `q`, `k` detached, no gradient through the softmax.
//!
//! With every rule at `Gradient` the forward code runs its plain path (the same operations as
//! without rules) and the result is the ordinary gradient.

use burn::nn::LayerNorm;
use burn::prelude::*;

use crate::trace::Objective;

/// How gradient flows through the attention of every block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionRule {
    /// The ordinary gradient (no rule).
    #[default]
    Gradient,
    /// AttnLRP's uniform rule on both matrix products: `q`, `k` get ¼ of their gradient, `v` ½
    /// (lxt `divide_gradient`); the softmax gradient is unchanged (its Gradient × Input is
    /// AttnLRP's softmax rule).
    Uniform,
    /// CP-LRP: the attention probabilities are a constant (`q`, `k` detached, lxt
    /// `stop_gradient`); relevance flows through `v` only.
    Constant,
}

/// How gradient flows through every LayerNorm (also the embedding / `ln_pre` / `ln_post` /
/// final / `fc_norm` ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormRule {
    /// The ordinary gradient.
    #[default]
    Gradient,
    /// The identity rule: the standard deviation is a constant (`detach(std)`).
    Identity,
}

/// How gradient flows through the element-wise activations (GELU, QuickGELU, BERT's pooler
/// tanh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationRule {
    /// The ordinary gradient.
    #[default]
    Gradient,
    /// The identity rule: gradient `f(x) / (x + 1e-10)` (lxt `identity_rule_implicit`).
    Identity,
}

/// The rule set of one modified backward pass. `GradRules::default()` is the plain gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct GradRules {
    /// Attention.
    pub attention: AttentionRule,
    /// LayerNorm.
    pub layer_norm: NormRule,
    /// Element-wise activations.
    pub activation: ActivationRule,
}

impl GradRules {
    /// Whether every rule is the ordinary gradient.
    pub fn is_plain(&self) -> bool {
        *self == GradRules::default()
    }
}

/// A request for `input ⊙ ∂y/∂input` ([`crate::Explainable::input_relevance`]), with
/// `y = Σ_b objective(logits[b])[targets[b]]` computed under `rules`.
#[derive(Debug, Clone)]
pub struct InputGradRequest {
    /// Explained class per batch row.
    pub targets: Vec<usize>,
    /// Logit or probability.
    pub objective: Objective,
    /// The gradient rules.
    pub rules: GradRules,
}

/// lxt's `divide_gradient`: the value of `x`, `1/k` of the gradient.
pub fn divide_gradient<const D: usize>(x: Tensor<D>, k: f64) -> Tensor<D> {
    let fixed = x.clone().detach();
    fixed.clone() + (x - fixed).div_scalar(k)
}

/// LayerNorm under `rule` (`eps` is the model's LayerNorm epsilon; burn keeps its own private).
pub fn layer_norm<const D: usize>(
    ln: &LayerNorm,
    x: Tensor<D>,
    rule: NormRule,
    eps: f64,
) -> Tensor<D> {
    match rule {
        NormRule::Gradient => ln.forward(x),
        NormRule::Identity => {
            let mean = x.clone().mean_dim(D - 1);
            let centred = x - mean;
            let var = centred.clone().powi_scalar(2).mean_dim(D - 1);
            let std = var.add_scalar(eps).sqrt().detach();
            let y = (centred / std) * ln.gamma.val().unsqueeze::<D>();
            match &ln.beta {
                Some(b) => y + b.val().unsqueeze::<D>(),
                None => y,
            }
        }
    }
}

/// The element-wise activation `f` under `rule`.
pub fn activation<const D: usize>(
    x: Tensor<D>,
    f: impl Fn(Tensor<D>) -> Tensor<D>,
    rule: ActivationRule,
) -> Tensor<D> {
    match rule {
        ActivationRule::Gradient => f(x),
        ActivationRule::Identity => {
            let fixed = x.clone().detach();
            let y = f(fixed.clone());
            let slope = y.clone() / fixed.clone().add_scalar(1e-10);
            y + (x - fixed) * slope
        }
    }
}

/// Sums an image-shaped relevance (B, C, S, S) over channels and the pixels of each p×p patch:
/// (B, (S/p)²), patches in row-major order (the order of the patch tokens).
pub fn patch_sums(r: Tensor<4>, p: usize) -> Tensor<2> {
    let [b, c, h, w] = r.dims();
    let (gh, gw) = (h / p, w / p);
    r.reshape([b, c, gh, p, gw, p])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([b, gh * gw, c * p * p])
        .sum_dim(2)
        .reshape([b, gh * gw])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::gelu;

    fn dev() -> Device {
        Device::flex().autodiff()
    }

    fn vals(t: Tensor<1>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn divide_gradient_keeps_the_value_and_scales_the_gradient() {
        let x = Tensor::<1>::from_data([1.5f32, -2.0], &dev()).require_grad();
        let y = divide_gradient(x.clone(), 4.0);
        assert_eq!(vals(y.clone().inner()), vec![1.5, -2.0]);
        let g = (y * 3.0).sum().backward();
        assert_eq!(vals(x.grad(&g).unwrap()), vec![0.75, 0.75]);
    }

    #[test]
    fn identity_rule_on_gelu_passes_f_of_x_over_x() {
        // x ⊙ gradient = f(x): the relevance of the input equals that of the output
        let x = Tensor::<1>::from_data([0.5f32, -1.0, 2.0], &dev()).require_grad();
        let y = activation(x.clone(), gelu, ActivationRule::Identity);
        let f = vals(gelu(x.clone().inner()));
        assert_eq!(vals(y.clone().inner()), f);
        let g = x.grad(&y.sum().backward()).unwrap();
        let r = vals(x.clone().inner() * g);
        for (a, b) in r.iter().zip(&f) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn identity_rule_on_layer_norm_treats_std_as_constant() {
        // x = (1, 3): mean 2, std = sqrt(1 + eps); y = (x − mean)/std (γ = 1, β = 0);
        // ∂(y_1)/∂x = (e_1 − 1/2)/std = (−1/2, 1/2)/std with std held constant
        let ln = burn::nn::LayerNormConfig::new(2)
            .with_epsilon(0.0)
            .init(&dev());
        let x = Tensor::<2>::from_data([[1.0f32, 3.0]], &dev()).require_grad();
        let y = layer_norm(&ln, x.clone(), NormRule::Identity, 0.0);
        let plain = ln.forward(x.clone().inner());
        let (a, b) = (y.clone().inner().into_data(), plain.into_data());
        a.assert_approx_eq::<f32>(&b, burn::tensor::Tolerance::absolute(1e-6));
        let g = x.grad(&y.narrow(1, 1, 1).sum().backward()).unwrap();
        assert_eq!(vals(g.reshape([2])), vec![-0.5, 0.5]);
    }

    #[test]
    fn patch_sums_add_channels_and_pixels_of_each_patch() {
        let v: Vec<f32> = (0..2 * 4 * 4).map(|i| i as f32).collect();
        let r = Tensor::<4>::from_data(TensorData::new(v, [1, 2, 4, 4]), &Device::flex());
        let s = patch_sums(r, 2).into_data().try_into_vec::<f32>().unwrap();
        // patch (0,0): channel 0 pixels 0,1,4,5 and channel 1 pixels 16,17,20,21
        assert_eq!(s[0], (0 + 1 + 4 + 5 + 16 + 17 + 20 + 21) as f32);
        assert_eq!(s.iter().sum::<f32>(), (0..32).sum::<i32>() as f32);
    }
}
