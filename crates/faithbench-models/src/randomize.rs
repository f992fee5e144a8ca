//! Model-parameter randomisation for the sanity check of Adebayo et al. (2018), the
//! `model_randomization` evaluator (docs/protocols.md, "Model-parameter randomisation").
//!
//! A model is cut into **steps**, listed from the output down: the read-out (classifier head and
//! the norms before it), then each block from the last to the first, then the embeddings. A
//! randomised copy re-initialises the parameters of a chosen set of steps and keeps every other
//! parameter. The re-initialisation follows what PyTorch's `reset_parameters` does, which is what
//! Quantus' MPRT calls on every module it randomises:
//!
//! * a Linear layer (and the patch embedding, a Linear over flattened patches): weight and bias
//!   uniform in `±1/√fan_in` (Kaiming-uniform with a = √5);
//! * a LayerNorm: γ = 1, β = 0;
//! * a bare parameter tensor (embedding tables, class and position embeddings, CLIP's
//!   projections): standard normal, as `nn.Embedding.reset_parameters` does.
//!
//! The values come from SplitMix64 seeded by (seed, step), so a step gets the same values in the
//! cascading and the independent variant and on every platform. Quantus steps per parameterised
//! module; faithbench steps per block (a block's attention, MLP and norms together), which is
//! the granularity of Adebayo et al.'s figures for transformers and keeps the number of
//! re-explanations at L + 2.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use faithbench_data::rng::SplitMix64;

use crate::error::{ModelError, Result};

/// Re-initialises every float parameter of the modules it maps (rules in the module docs).
pub struct Reinit {
    rng: SplitMix64,
    /// (field name, container type) of the modules entered.
    path: Vec<(String, String)>,
    /// fan-in of the last Linear weight seen (for its bias).
    fan_in: usize,
}

impl Reinit {
    /// A re-initialiser for step `step` of a randomisation seeded with `seed`.
    pub fn new(seed: u64, step: usize) -> Self {
        // one stream per (seed, step): the golden-ratio multiple keeps streams apart
        let mut rng = SplitMix64::new(seed ^ (step as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        Reinit {
            rng,
            path: Vec::new(),
            fan_in: 1,
        }
    }

    fn uniform(&mut self, n: usize, bound: f64) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.rng.unit() * 2.0 - 1.0) * bound) as f32)
            .collect()
    }

    fn normal(&mut self, n: usize) -> Vec<f32> {
        // Box–Muller, one value per pair of uniforms (simple; speed is irrelevant here)
        (0..n)
            .map(|_| {
                let u1 = 1.0 - self.rng.unit(); // (0, 1]
                let u2 = self.rng.unit();
                ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
            })
            .collect()
    }

    /// New values for a parameter of `dims`, by the rule of where it sits.
    fn values(&mut self, dims: &[usize]) -> Vec<f32> {
        let n: usize = dims.iter().product();
        let (field, container) = self
            .path
            .last()
            .map(|(f, c)| (f.as_str(), c.as_str()))
            .unwrap_or(("", ""));
        match (container, field) {
            ("Struct:Linear", "weight") => {
                // burn stores Linear weights as [in, out]
                self.fan_in = dims.first().copied().unwrap_or(1).max(1);
                let bound = 1.0 / (self.fan_in as f64).sqrt();
                self.uniform(n, bound)
            }
            ("Struct:Linear", "bias") => {
                let bound = 1.0 / (self.fan_in as f64).sqrt();
                self.uniform(n, bound)
            }
            ("Struct:LayerNorm", "gamma") => vec![1.0; n],
            ("Struct:LayerNorm", "beta") => vec![0.0; n],
            _ => self.normal(n),
        }
    }

    /// A bare parameter re-initialised (standard normal).
    pub fn param<const D: usize>(&mut self, p: &Param<Tensor<D>>) -> Param<Tensor<D>> {
        self.path.push((String::new(), String::new()));
        let out = self.map_float(p.clone());
        self.path.pop();
        out
    }

    /// A Linear re-initialised.
    pub fn linear(&mut self, l: &Linear) -> Linear {
        l.clone().map(self)
    }

    /// A LayerNorm reset (γ = 1, β = 0).
    pub fn layer_norm(&mut self, l: &LayerNorm) -> LayerNorm {
        l.clone().map(self)
    }

    /// Any module re-initialised.
    pub fn module<M: Module>(&mut self, m: &M) -> M {
        m.clone().map(self)
    }
}

impl ModuleMapper for Reinit {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dims = param.val().dims();
        let values = self.values(&dims);
        param.map(|t| {
            let device = t.device();
            let grad = t.is_require_grad();
            let fresh = Tensor::<D>::from_data(TensorData::new(values, dims), &device);
            if grad {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

/// The steps of a model with `blocks` blocks, from the output down: `head`, `block L-1` …
/// `block 0`, `embeddings`.
pub fn step_labels(blocks: usize) -> Vec<String> {
    std::iter::once("head".to_string())
        .chain((0..blocks).rev().map(|b| format!("block {b}")))
        .chain(std::iter::once("embeddings".to_string()))
        .collect()
}

/// What step `s` of a model with `blocks` blocks is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The read-out.
    Head,
    /// Block `b` (0-based from the input).
    Block(usize),
    /// The embeddings.
    Embeddings,
}

/// The steps to randomise, checked against the model's step count.
pub fn parse_steps(steps: &[usize], blocks: usize) -> Result<Vec<Step>> {
    steps
        .iter()
        .map(|&s| match s {
            0 => Ok(Step::Head),
            s if s <= blocks => Ok(Step::Block(blocks - s)),
            s if s == blocks + 1 => Ok(Step::Embeddings),
            s => Err(ModelError::Input(format!(
                "randomisation step {s} out of range: the model has {} steps (head, {blocks} blocks, embeddings)",
                blocks + 2
            ))),
        })
        .collect()
}

/// The index of a step in [`step_labels`] order.
pub fn step_index(step: Step, blocks: usize) -> usize {
    match step {
        Step::Head => 0,
        Step::Block(b) => blocks - b,
        Step::Embeddings => blocks + 1,
    }
}

/// Applies `f` to every step of `steps` with the re-initialiser of that step.
fn each_step(
    steps: &[usize],
    blocks: usize,
    seed: u64,
    mut f: impl FnMut(Step, &mut Reinit),
) -> Result<()> {
    for step in parse_steps(steps, blocks)? {
        let mut r = Reinit::new(seed, step_index(step, blocks));
        f(step, &mut r);
    }
    Ok(())
}

impl crate::vit::VisionTransformer {
    /// A copy with the parameters of `steps` ([`step_labels`] order) re-initialised: `head` is
    /// the classifier with the final norm (`norm` / `fc_norm`), `embeddings` the patch
    /// embedding with the class and position embeddings.
    pub fn randomized_copy(&self, steps: &[usize], seed: u64) -> Result<Self> {
        let mut m = self.clone();
        each_step(steps, self.blocks.len(), seed, |step, r| match step {
            Step::Head => {
                m.head = r.linear(&m.head);
                m.norm = m.norm.as_ref().map(|n| r.layer_norm(n));
                m.fc_norm = m.fc_norm.as_ref().map(|n| r.layer_norm(n));
            }
            Step::Block(b) => m.blocks[b] = r.module(&m.blocks[b]),
            Step::Embeddings => {
                m.patch_embed = r.module(&m.patch_embed);
                m.cls_token = r.param(&m.cls_token);
                m.pos_embed = r.param(&m.pos_embed);
            }
        })?;
        Ok(m)
    }
}

impl crate::bert::Bert {
    /// A copy with the parameters of `steps` re-initialised: `head` is the classifier with the
    /// pooler, `embeddings` the word, position and segment tables with their LayerNorm.
    pub fn randomized_copy(&self, steps: &[usize], seed: u64) -> Result<Self> {
        let mut m = self.clone();
        each_step(steps, self.layers.len(), seed, |step, r| match step {
            Step::Head => {
                m.classifier = m.classifier.as_ref().map(|l| r.linear(l));
                m.pooler = m.pooler.as_ref().map(|l| r.linear(l));
            }
            Step::Block(b) => m.layers[b] = r.module(&m.layers[b]),
            Step::Embeddings => m.embeddings = r.module(&m.embeddings),
        })?;
        Ok(m)
    }
}

impl crate::clip::Clip {
    /// A copy with the image tower's `steps` re-initialised: `head` is `ln_post` with `proj`,
    /// `embeddings` the patch embedding, class and position embeddings and `ln_pre`. The text
    /// tower is kept.
    pub fn randomized_image_tower(&self, steps: &[usize], seed: u64) -> Result<Self> {
        let mut m = self.clone();
        let v = &mut m.visual;
        each_step(
            steps,
            v.transformer.resblocks.len(),
            seed,
            |step, r| match step {
                Step::Head => {
                    v.ln_post = r.layer_norm(&v.ln_post);
                    v.proj = r.param(&v.proj);
                }
                Step::Block(b) => {
                    v.transformer.resblocks[b] = r.module(&v.transformer.resblocks[b])
                }
                Step::Embeddings => {
                    v.conv1 = r.module(&v.conv1);
                    v.class_embedding = r.param(&v.class_embedding);
                    v.positional_embedding = r.param(&v.positional_embedding);
                    v.ln_pre = r.layer_norm(&v.ln_pre);
                }
            },
        )?;
        Ok(m)
    }

    /// A copy with the text tower's `steps` re-initialised: `head` is `ln_final` with
    /// `text_projection`, `embeddings` the token and position embeddings. The image tower is
    /// kept.
    pub fn randomized_text_tower(&self, steps: &[usize], seed: u64) -> Result<Self> {
        let mut m = self.clone();
        each_step(
            steps,
            m.transformer.resblocks.len(),
            seed,
            |step, r| match step {
                Step::Head => {
                    m.ln_final = r.layer_norm(&m.ln_final);
                    m.text_projection = r.param(&m.text_projection);
                }
                Step::Block(b) => {
                    m.transformer.resblocks[b] = r.module(&m.transformer.resblocks[b])
                }
                Step::Embeddings => {
                    m.token_embedding = r.param(&m.token_embedding);
                    m.positional_embedding = r.param(&m.positional_embedding);
                }
            },
        )?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_from_the_output_down() {
        assert_eq!(
            step_labels(2),
            vec!["head", "block 1", "block 0", "embeddings"]
        );
        assert_eq!(
            parse_steps(&[0, 1, 2, 3], 2).unwrap(),
            vec![Step::Head, Step::Block(1), Step::Block(0), Step::Embeddings]
        );
        for s in [Step::Head, Step::Block(1), Step::Block(0), Step::Embeddings] {
            assert_eq!(parse_steps(&[step_index(s, 2)], 2).unwrap(), vec![s]);
        }
        let e = parse_steps(&[4], 2).unwrap_err().to_string();
        assert!(
            e.contains("step 4 out of range") && e.contains("4 steps"),
            "{e}"
        );
    }

    /// A Linear gets uniform values within ±1/√fan_in (fan-in = its input size), a LayerNorm
    /// γ = 1, β = 0, a bare parameter standard-normal values; the same (seed, step) gives the
    /// same values, another step others.
    #[test]
    fn reinit_follows_torch_reset_parameters_and_is_seeded() {
        use burn::nn::{LayerNormConfig, LinearConfig};
        let dev = crate::default_device();
        let lin = LinearConfig::new(16, 8).init(&dev);
        let flat = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let w = flat(Reinit::new(7, 1).linear(&lin).weight.val());
        assert_eq!(w.len(), 128);
        assert!(w.iter().all(|v| v.abs() <= 0.25), "bound 1/√16");
        let spread = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(spread > 0.2, "values use the whole range: {spread}");
        let b = Reinit::new(7, 1).linear(&lin).bias.unwrap().val();
        let b = b.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert!(b.iter().all(|v| v.abs() <= 0.25) && b.iter().any(|v| *v != 0.0));
        assert_eq!(w, flat(Reinit::new(7, 1).linear(&lin).weight.val()));
        assert_ne!(w, flat(Reinit::new(7, 2).linear(&lin).weight.val()));
        assert_ne!(w, flat(Reinit::new(8, 1).linear(&lin).weight.val()));

        let mut ln = LayerNormConfig::new(4).init(&dev);
        ln.gamma = Param::from_tensor(Tensor::from_data([3.0f32, 3.0, 3.0, 3.0], &dev));
        let r = Reinit::new(0, 0).layer_norm(&ln);
        let g = r
            .gamma
            .val()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(g, vec![1.0; 4]);
        let beta = r.beta.unwrap().val().into_data().convert::<f32>();
        assert_eq!(beta.try_to_vec::<f32>().unwrap(), vec![0.0; 4]);

        let p = Param::from_tensor(Tensor::<2>::zeros([100, 10], &dev));
        let v = flat(Reinit::new(0, 0).param(&p).val());
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / 1000.0;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / 1000.0;
        assert!(
            mean.abs() < 0.1 && (var - 1.0).abs() < 0.15,
            "N(0,1): {mean} {var}"
        );
    }
}
