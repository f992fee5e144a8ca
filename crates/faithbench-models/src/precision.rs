//! The float precision of a run: `f32` (default) or `f64`.
//!
//! burn fixes a device's float dtype once per process, before its first tensor; every tensor
//! created afterwards without an explicit dtype — weights as they are loaded, activations,
//! gradients, LRP relevance — has it. [`configure`] sets it. A float64 run is what LRP down to
//! the first layers needs (its relevance divides by near-cancelling sums; `docs/explainers.md`,
//! "LRP precision"); it costs about twice the time and memory of a float32 run.

use burn::prelude::*;
use burn::tensor::FloatDType;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The float precision of every tensor of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 32-bit floats (the default; what the checkpoints store).
    #[default]
    F32,
    /// 64-bit floats throughout (CPU device; about 2× the cost).
    F64,
}

impl Precision {
    /// The default (kept out of serialised plans, so their hashes do not move).
    pub fn is_default(&self) -> bool {
        *self == Precision::F32
    }

    /// `f32` / `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    fn dtype(self) -> FloatDType {
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::F64 => FloatDType::F64,
        }
    }
}

/// Makes `precision` the float dtype of `device` (call before any tensor exists on it). Asking
/// again for the dtype the device already has is fine; another one is an error, since burn
/// fixes it per process.
pub fn configure(device: &Device, precision: Precision) -> Result<()> {
    let want = precision.dtype();
    let have = device.settings().float_dtype;
    if have == want {
        // the backend's default or an earlier identical request (reading the settings does
        // not lock them)
        return Ok(());
    }
    device.clone().configure(want).map_err(|e| {
        ModelError::Input(format!(
            "cannot run in {}: the device's float type is fixed to {have:?} in this process ({e})",
            precision.name()
        ))
    })
}
