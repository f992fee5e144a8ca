//! Reading checkpoints: safetensors and PyTorch `.pth`/`.pt` files, as the users of timm,
//! Hugging Face and the MAE release have them.
//!
//! TorchScript archives (`torch.jit.save`, the format of OpenAI's CLIP downloads) are not read:
//! their `data.pkl` pickles `__torch__.*` module objects, which burn's PyTorch reader rejects.
//! They are recognised (a `constants.pkl` and a `code/` folder in the zip) and the error gives
//! the one-line conversion to a state dict:
//! `python -c "import torch; m = torch.jit.load('ViT-B-32.pt', map_location='cpu'); torch.save(m.state_dict(), 'ViT-B-32.state_dict.pt')"`.
//!
//! [`WeightFile`] reads every tensor of a file into f32 (f16/bf16/f64 are converted); the format
//! is detected from the file's first bytes, not its extension. [`Loader`] hands tensors to the
//! model constructors by their checkpoint name, checks their shapes, and at the end reports any
//! tensor the model did not use. Every error names the file and the tensor.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;

use crate::error::{ModelError, Result};

/// One tensor of a checkpoint, converted to f32, row-major.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// Shape as stored in the file.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub data: Vec<f32>,
}

/// All tensors of one checkpoint file, by name.
#[derive(Debug, Clone)]
pub struct WeightFile {
    /// Where the tensors came from (used in every error message).
    pub path: PathBuf,
    tensors: BTreeMap<String, RawTensor>,
}

/// The checkpoint container formats faithbench reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// Hugging Face safetensors.
    Safetensors,
    /// PyTorch `torch.save` (zip archive, or the legacy pickle format).
    Pytorch,
}

/// Detects the container format from the first bytes of the file.
pub fn detect_format(path: &Path) -> Result<CheckpointFormat> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = [0u8; 9];
    let n = f.read(&mut head).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if n >= 4 && &head[..4] == b"PK\x03\x04" {
        return Ok(CheckpointFormat::Pytorch);
    }
    if n >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return Ok(CheckpointFormat::Pytorch);
    }
    if n == 9 && head[8] == b'{' {
        return Ok(CheckpointFormat::Safetensors);
    }
    Err(ModelError::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!(
            "the file starts with {:02x?}, which is neither safetensors (8-byte header length then `{{`) \
             nor a PyTorch zip/pickle",
            &head[..n]
        ),
    })
}

impl WeightFile {
    /// Reads a checkpoint. For PyTorch files whose state dict sits under one top-level key
    /// (`model`, as in the MAE release, or `state_dict`), that prefix is removed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        match detect_format(path)? {
            CheckpointFormat::Safetensors => Self::open_safetensors(path),
            CheckpointFormat::Pytorch => Self::open_pytorch(path),
        }
    }

    /// Builds a weight file from tensors already in memory (tests, converters).
    pub fn from_tensors(path: impl Into<PathBuf>, tensors: BTreeMap<String, RawTensor>) -> Self {
        Self {
            path: path.into(),
            tensors,
        }
    }

    fn open_safetensors(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let st =
            safetensors::SafeTensors::deserialize(&bytes).map_err(|e| ModelError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("safetensors: {e}"),
            })?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let data = convert_safetensors(path, &name, view.dtype(), view.data())?;
            tensors.insert(
                name,
                RawTensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    fn open_pytorch(path: &Path) -> Result<Self> {
        use burn::store::pytorch_reader::{DType, PytorchReader};
        if is_torchscript_archive(path) {
            return Err(torchscript_error(path));
        }
        let reader = PytorchReader::new(path).map_err(|e| ModelError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("PyTorch file: {e}"),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, t) in reader.tensors() {
            let bytes = t.read().map_err(|e| ModelError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("tensor `{name}`: {e}"),
            })?;
            let data = match t.dtype() {
                DType::F32 => le_f32(&bytes),
                DType::F64 => bytes
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
                DType::F16 => bytes
                    .chunks_exact(2)
                    .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                DType::BF16 => bytes
                    .chunks_exact(2)
                    .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                    .collect(),
                // Integer buffers (e.g. position_ids) are kept as floats so that they can be
                // recognised and ignored; no model parameter is an integer.
                DType::I64 => bytes
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
                other => {
                    return Err(ModelError::UnsupportedDtype {
                        path: path.to_path_buf(),
                        name: name.clone(),
                        dtype: format!("{other:?}"),
                    })
                }
            };
            if data.len() != t.num_elements() {
                return Err(ModelError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!(
                        "tensor `{name}` has {} values, its shape {:?} needs {}",
                        data.len(),
                        t.shape(),
                        t.num_elements()
                    ),
                });
            }
            tensors.insert(
                name.clone(),
                RawTensor {
                    shape: t.shape().to_vec(),
                    data,
                },
            );
        }
        // Unwrap a single top-level container key such as `model` (MAE) or `state_dict`.
        for prefix in ["model.", "state_dict.", "module."] {
            if !tensors.is_empty() && tensors.keys().all(|k| k.starts_with(prefix)) {
                tensors = tensors
                    .into_iter()
                    .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                    .collect();
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// Tensor names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(|s| s.as_str())
    }

    /// Whether the file holds a tensor of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor of this name, if present.
    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.tensors.get(name)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}

/// Whether a zip checkpoint is a TorchScript archive (`torch.jit.save`): its entries include
/// `<root>/constants.pkl` and `<root>/code/…`, which a `torch.save` zip never has. Only the
/// tail of the file (where the zip's central directory lists the entry names) is read.
fn is_torchscript_archive(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 4];
    if f.read_exact(&mut head).is_err() || &head != b"PK\x03\x04" {
        return false;
    }
    let Ok(len) = f.seek(SeekFrom::End(0)) else {
        return false;
    };
    let tail = len.min(4 << 20);
    if f.seek(SeekFrom::Start(len - tail)).is_err() {
        return false;
    }
    let mut buf = Vec::with_capacity(tail as usize);
    if f.read_to_end(&mut buf).is_err() {
        return false;
    }
    let has = |needle: &[u8]| buf.windows(needle.len()).any(|w| w == needle);
    has(b"/constants.pkl") && has(b"/code/")
}

/// The error for a TorchScript archive, with the command that converts it to a state dict.
fn torchscript_error(path: &Path) -> ModelError {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.pt".into());
    let stem = name
        .strip_suffix(".pt")
        .or_else(|| name.strip_suffix(".pth"))
        .unwrap_or(&name);
    ModelError::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!(
            "this is a TorchScript archive (`torch.jit.save`, the format of OpenAI's released CLIP \
             checkpoints), which holds a scripted module rather than a state dict. Convert it once \
             with: python -c \"import torch; m = torch.jit.load('{name}', map_location='cpu'); \
             torch.save(m.state_dict(), '{stem}.state_dict.pt')\" and load `{stem}.state_dict.pt`"
        ),
    }
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// IEEE half to f32 (exact).
pub(crate) fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // subnormal: normalise
            let mut e: i32 = -1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            let m = m & 0x3ff;
            sign | (((127 - 15 + 1 + e) as u32) << 23) | (m << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

fn convert_safetensors(
    path: &Path,
    name: &str,
    dtype: safetensors::Dtype,
    bytes: &[u8],
) -> Result<Vec<f32>> {
    use safetensors::Dtype as D;
    Ok(match dtype {
        D::F32 => le_f32(bytes),
        D::F16 => bytes
            .chunks_exact(2)
            .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        D::BF16 => bytes
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
        D::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        D::I64 => bytes
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        D::I32 => bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        D::U8 => bytes.iter().map(|&b| b as f32).collect(),
        other => {
            return Err(ModelError::UnsupportedDtype {
                path: path.to_path_buf(),
                name: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    })
}

/// Hands out checkpoint tensors to model constructors and keeps track of what was used.
pub struct Loader<'a> {
    file: &'a WeightFile,
    device: Device,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> Loader<'a> {
    /// A loader over `file` that creates tensors on `device`.
    pub fn new(file: &'a WeightFile, device: &Device) -> Self {
        Self {
            file,
            device: device.clone(),
            used: RefCell::new(BTreeSet::new()),
        }
    }

    /// The checkpoint path, for error messages.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The device tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the checkpoint has this tensor (does not mark it used).
    pub fn has(&self, name: &str) -> bool {
        self.file.contains(name)
    }

    /// The stored shape of `name`, if present (does not mark it used).
    pub fn shape_of(&self, name: &str) -> Option<&[usize]> {
        self.file.get(name).map(|t| t.shape.as_slice())
    }

    /// The raw values of `name`, checked against `shape`; marks the tensor as used.
    pub fn raw(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self
            .file
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.file.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                hint: self.hint(name),
            })?;
        if t.shape != shape {
            return Err(ModelError::ShapeMismatch {
                path: self.file.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape.clone(),
            });
        }
        if let Some(bad) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::Corrupt {
                path: self.file.path.clone(),
                reason: format!("tensor `{name}` holds a non-finite value at flat index {bad}"),
            });
        }
        self.used.borrow_mut().insert(name.to_string());
        Ok(t.data.clone())
    }

    fn hint(&self, name: &str) -> String {
        // Suggest a close name: same suffix, different prefix.
        let suffix = name.rsplit('.').take(2).collect::<Vec<_>>();
        let tail = suffix.iter().rev().cloned().collect::<Vec<_>>().join(".");
        let near: Vec<&str> = self
            .file
            .names()
            .filter(|n| n.ends_with(&tail))
            .take(3)
            .collect();
        if near.is_empty() {
            String::new()
        } else {
            format!("; the file has similar names: {near:?} (wrong checkpoint layout?)")
        }
    }

    /// A tensor of rank `D` with the given shape.
    pub fn tensor<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Tensor<D>> {
        let data = self.raw(name, &shape)?;
        Ok(Tensor::from_data(
            TensorData::new(data, shape),
            &self.device,
        ))
    }

    /// A parameter of rank `D`.
    pub fn param<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Param<Tensor<D>>> {
        Ok(Param::from_tensor(self.tensor(name, shape)?))
    }

    /// A PyTorch `nn.Linear` stored as `{prefix}.weight` [out, in] (+ `{prefix}.bias` [out]).
    pub fn linear(&self, prefix: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear> {
        let w = self.tensor(&format!("{prefix}.weight"), [d_out, d_in])?;
        let b = if bias {
            Some(self.param(&format!("{prefix}.bias"), [d_out])?)
        } else {
            None
        };
        Ok(linear_from(w, b))
    }

    /// A PyTorch `nn.LayerNorm` stored as `{prefix}.weight`/`.bias` (or the old BERT
    /// `{prefix}.gamma`/`.beta`).
    pub fn layer_norm(&self, prefix: &str, d: usize, eps: f64) -> Result<LayerNorm> {
        let (wn, bn) =
            if !self.has(&format!("{prefix}.weight")) && self.has(&format!("{prefix}.gamma")) {
                ("gamma", "beta")
            } else {
                ("weight", "bias")
            };
        let mut ln = LayerNormConfig::new(d).with_epsilon(eps).init(&self.device);
        ln.gamma = self.param(&format!("{prefix}.{wn}"), [d])?;
        ln.beta = Some(self.param(&format!("{prefix}.{bn}"), [d])?);
        Ok(ln)
    }

    /// Fails with [`ModelError::UnexpectedTensors`] if the file holds tensors that were neither
    /// used nor matched by `ignorable` (exact names, or prefixes ending in `.`).
    pub fn finish(self, ignorable: &[&str]) -> Result<()> {
        let used = self.used.into_inner();
        let unused: Vec<String> = self
            .file
            .names()
            .filter(|n| !used.contains(*n))
            .filter(|n| {
                !ignorable
                    .iter()
                    .any(|ig| *n == *ig || (ig.ends_with('.') && n.starts_with(ig)))
            })
            .map(|s| s.to_string())
            .collect();
        if unused.is_empty() {
            Ok(())
        } else {
            Err(ModelError::UnexpectedTensors {
                path: self.file.path.clone(),
                names: unused,
            })
        }
    }
}

/// Builds a burn `Linear` (weight stored [in, out]) from a PyTorch weight [out, in].
pub fn linear_from(weight_out_in: Tensor<2>, bias: Option<Param<Tensor<1>>>) -> Linear {
    Linear {
        weight: Param::from_tensor(weight_out_in.transpose()),
        bias,
    }
}
