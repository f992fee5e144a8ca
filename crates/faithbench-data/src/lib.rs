//! # faithbench-data
//!
//! Dataset readers for the faithbench benchmark (protocols §5). No deep-learning framework is involved:
//! readers return plain Rust data (`image::RgbImage`, `Vec<u8>` masks, token vectors), and models
//! apply their own preprocessing.
//!
//! Modules:
//! * [`npy`] — NumPy `.npy` reader (v1/v2/v3; `<i8 <i4 <f4 <f8 |u1`, C order) and `f32` writer
//!   (saliency maps are stored as `.npy`); `read_index_file` for `pert_index.npy`.
//! * [`imagenet`] — ImageNet-1k val in torchvision `ImageFolder` order, optional index subset,
//!   lazy decoding to RGB; class names from `meta.bin`, the shipped table or the folder names.
//! * [`imagenet_meta`] — torchvision's `meta.bin` (`torch.save` zip and legacy formats), read with
//!   the strict pickle-subset reader [`pickle`].
//! * [`imagenet_classes`] — the 1000 ImageNet-1k classes with their WordNet synonyms, Python's
//!   `repr` of them and zero-shot prompts ([`ClassNameRule`], [`prompt`]).
//! * [`imagenet_seg`] — ImageNet-Segmentation `gtsegs_ijcv.mat` (MATLAB v7.3 / HDF5) via the pure-Rust
//!   `hdf5-reader`.
//! * [`eraser`] — ERASER Movie Reviews documents and annotations, with span validation.
//! * [`planted`] — faithbench-planted, a generated ERASER-format text dataset with known rationales.
//! * [`reader`] — the [`DatasetReader`] trait every dataset kind implements and the registry of
//!   kinds ([`DATASETS`]) that run configs name.
//! * [`rng`] — SplitMix64, the one pseudo-random generator of faithbench.
//!
//! Every error type names the file (and line/index) it concerns; nothing is skipped silently except
//! what the reference tooling itself ignores (non-image files in ImageNet class folders, empty
//! lines/tokens in ERASER documents), and those rules are documented per module.

pub mod eraser;
pub mod files;
pub mod imagenet;
pub mod imagenet_classes;
pub mod imagenet_meta;
pub mod imagenet_seg;
pub mod newsgroups;
pub mod npy;
pub mod pickle;
pub mod planted;
pub mod reader;
pub mod rng;
pub mod synthetic;

pub use eraser::{Annotation, Document, Eraser, EraserError, Evidence, Split};
pub use imagenet::{ClassNameSource, ImageNetError, ImageNetVal, Sample};
pub use imagenet_classes::{
    imagenet_class_table, imagenet_synonyms, prompt, python_str_repr, python_tuple_repr,
    ClassNameRule, ImageNetClass, PromptError,
};
pub use imagenet_meta::{read_meta_bin, ImageNetMeta, TorchSaveFormat};
pub use imagenet_seg::{ImageNetSeg, SegDataError, SegSample};
pub use npy::{read_index_file, read_npy, write_npy_f32, NpyArray, NpyData, NpyError};
pub use reader::{
    dataset_kind, Capability, DataError, DatasetInfo, DatasetReader, EraserDoc, ImageItem,
    Modality, Opened, TextItem, DATASETS,
};
