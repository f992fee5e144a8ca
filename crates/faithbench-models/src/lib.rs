//! faithbench-models: the transformer models of faithbench (ViT-B/16, ViT-L/16, ViT-MAE,
//! BERT classifiers, CLIP) built on burn, with one self-attention block that records what
//! attribution methods need (attention probabilities, their gradients, block inputs and
//! value projections), loaders for the checkpoints users have (timm, Hugging Face, MAE `.pth`,
//! OpenAI CLIP state dicts), PIL-compatible preprocessing, BERT tokenisation and CLIP's BPE
//! tokenizer. CLIP is explained through two views ([`clip::ClipImageClassifier`],
//! [`clip::ClipTextView`]).
//!
//! Devices: models run on burn's pure-Rust `flex` CPU backend by default ([`default_device`]);
//! explainers need the autodiff decorator ([`autodiff_device`]). GPU backends are the cargo
//! features `wgpu` and `cuda`.

pub mod attention;
pub mod bert;
pub mod clip;
pub mod clip_tokenize;
pub mod error;
pub mod fast;
pub mod load;
pub mod lrp;
pub mod precision;
pub mod preprocess;
pub mod randomize;
pub mod rules;
pub mod save;
pub mod source;
pub mod tokenize;
pub mod trace;
pub mod vit;
pub mod weights;

pub use error::{ModelError, Result};
pub use load::{
    load_clip_dir, load_clip_model, load_model, load_model_dir, AnyModel, Layout, ModelSpec,
};
pub use rules::{ActivationRule, AttentionRule, GradRules, InputGradRequest, NormRule};
pub use source::{
    find_tokenizer, model_preset, ModelFacts, ModelPreset, ModelSource, MODEL_PRESETS,
};
pub use trace::{
    Explainable, Family, ForwardTrace, GradRequest, LayerTrace, ModelInput, Objective, Readout,
    TextBatch, TraceOptions, VprojSource,
};

use burn::prelude::Device;

/// The plain CPU device (burn flex).
pub fn default_device() -> Device {
    Device::flex()
}

/// The CPU device with autodiff, on which explainers run models.
pub fn autodiff_device() -> Device {
    Device::flex().autodiff()
}

/// The device names [`device_by_name`] accepts in this build.
pub fn device_names() -> &'static str {
    match (cfg!(feature = "wgpu"), cfg!(feature = "cuda")) {
        (false, false) => "cpu",
        (true, false) => "cpu, wgpu, wgpu-cpu",
        (false, true) => "cpu, cuda",
        (true, true) => "cpu, wgpu, wgpu-cpu, cuda",
    }
}

/// A device by name (without autodiff):
///
/// * `cpu` / `flex`: burn's flex CPU backend (every build);
/// * `wgpu` (feature `wgpu`): the adapter wgpu ranks first — a discrete GPU, then an
///   integrated one, a virtual one, and a CPU (software) adapter such as Mesa lavapipe last, so
///   a machine without a GPU runs on its software adapter;
/// * `wgpu-cpu` (feature `wgpu`): the CPU (software) adapter only, also on a machine with a GPU;
/// * `cuda` (feature `cuda`): CUDA GPU 0.
///
/// A wgpu device is brought up here (once per process and name), so a machine without a
/// suitable adapter is an error naming the problem rather than a panic at the first tensor
/// operation. A name this build has no backend for is an error naming the feature it needs.
pub fn device_by_name(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" | "wgpu-cpu" => wgpu_device::get(name).map(|(device, _)| device),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        other => Err(ModelError::Input(match feature_of(other) {
            Some(feature) => format!(
                "device `{other}` needs a build with the `{feature}` feature (`cargo build \
                 --release -p faithbench-cli --features {feature}`, docs/gpu.md); this build \
                 supports: {}",
                device_names()
            ),
            None => format!(
                "unknown device `{other}` (this build supports: {})",
                device_names()
            ),
        })),
    }
}

/// The cargo feature a device name needs.
fn feature_of(name: &str) -> Option<&'static str> {
    match name {
        "wgpu" | "wgpu-cpu" => Some("wgpu"),
        "cuda" => Some("cuda"),
        _ => None,
    }
}

/// What a device name runs on, in words: for `wgpu` / `wgpu-cpu` the adapter that was brought
/// up (name, type, graphics API, driver), e.g. `llvmpipe (LLVM 15.0.6, 256 bits), Cpu, Vulkan,
/// Mesa 22.3.6 (LLVM 15.0.6)`. Errors as [`device_by_name`].
pub fn describe_device(name: &str) -> Result<String> {
    match name {
        #[cfg(feature = "wgpu")]
        "wgpu" | "wgpu-cpu" => wgpu_device::get(name).map(|(_, about)| about),
        _ => device_by_name(name).map(|_| match name {
            "cpu" | "flex" => "flex (pure-Rust CPU backend)".to_string(),
            other => other.to_string(),
        }),
    }
}

/// The environment variable that moves the parity tests to another device (see
/// [`test_device`]).
pub const TEST_DEVICE_ENV: &str = "FAITHBENCH_TEST_DEVICE";

/// The device (without autodiff) the parity tests run the models on: [`default_device`]
/// (flex) unless [`TEST_DEVICE_ENV`] names another one of [`device_by_name`], e.g.
/// `FAITHBENCH_TEST_DEVICE=wgpu` in a `--features wgpu` build (`scripts/gpu_check.sh`).
///
/// For tests: panics with a message naming the problem when the variable names a device this
/// build lacks or the machine cannot bring up, so a test never passes on another device than
/// the one asked for.
pub fn test_device() -> Device {
    match std::env::var(TEST_DEVICE_ENV) {
        Err(std::env::VarError::NotPresent) => default_device(),
        Err(e) => panic!("{TEST_DEVICE_ENV}: {e}"),
        Ok(name) if name.is_empty() => default_device(),
        Ok(name) => {
            device_by_name(&name).unwrap_or_else(|e| panic!("{TEST_DEVICE_ENV}={name}: {e}"))
        }
    }
}

/// [`test_device`] with autodiff, on which the parity tests run explainers.
pub fn test_autodiff_device() -> Device {
    test_device().autodiff()
}

/// Brings wgpu devices up once per process: `Device::wgpu_options().init()` returns an error
/// (no adapter, no graphics API) instead of the panic a lazily created device gives at its
/// first operation, and it may only run once per adapter selector, so its outcome is kept.
#[cfg(feature = "wgpu")]
mod wgpu_device {
    use std::sync::Mutex;

    use burn::prelude::Device;
    use burn::tensor::DeviceKind;

    use crate::{ModelError, Result};

    /// (name, device and its description, or the error message) of every name brought up.
    type Cache = Vec<(String, std::result::Result<(Device, String), String>)>;
    static DEVICES: Mutex<Cache> = Mutex::new(Vec::new());

    pub fn get(name: &str) -> Result<(Device, String)> {
        let mut cache = DEVICES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, r)) = cache.iter().find(|(n, _)| n == name) {
            return r.clone().map_err(ModelError::Input);
        }
        let r = init(name);
        cache.push((name.to_string(), r.clone()));
        r.map_err(ModelError::Input)
    }

    fn init(name: &str) -> std::result::Result<(Device, String), String> {
        let kind = if name == "wgpu-cpu" {
            DeviceKind::Cpu
        } else {
            DeviceKind::DefaultDevice
        };
        let (device, setup) = Device::wgpu_options()
            .device_kind(kind)
            .init_with_setup()
            .map_err(|e| {
                format!(
                    "device `{name}`: no wgpu adapter could be brought up ({e}); a GPU needs \
                     its Vulkan driver, a machine without one Mesa's software driver \
                     (Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1; \
                     docs/gpu.md)"
                )
            })?;
        let info = setup.adapter.get_info();
        let about = format!(
            "{}, {:?}, {:?}, {}",
            info.name, info.device_type, info.backend, info.driver_info
        );
        Ok((device, about))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_checked_with_errors_naming_the_problem() {
        assert!(device_by_name("cpu").is_ok());
        assert_eq!(
            describe_device("flex").unwrap(),
            "flex (pure-Rust CPU backend)"
        );
        let e = device_by_name("tpu").unwrap_err().to_string();
        assert!(
            e.contains("unknown device `tpu`") && e.contains(device_names()),
            "{e}"
        );
        #[cfg(not(feature = "wgpu"))]
        for name in ["wgpu", "wgpu-cpu"] {
            let e = device_by_name(name).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{name}` needs a build with the `wgpu` feature")),
                "{e}"
            );
        }
        #[cfg(not(feature = "cuda"))]
        {
            let e = device_by_name("cuda").unwrap_err().to_string();
            assert!(
                e.contains("`cuda` needs a build with the `cuda` feature"),
                "{e}"
            );
        }
    }
}
