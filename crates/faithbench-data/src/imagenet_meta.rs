//! torchvision's ImageNet `meta.bin`: the WordNet synonyms of every class.
//!
//! torchvision's `ImageNet` parses the devkit once and stores
//! `torch.save((wnid_to_classes, val_wnids), root/"meta.bin")`, where `wnid_to_classes` maps each
//! WNID to a tuple of synonyms (`tuple(words.split(", "))` of the devkit's `words` field) and
//! `val_wnids` lists the WNID of every val image. `ImageNet(root, split).classes` is then
//! `[wnid_to_classes[wnid] for wnid in sorted class folders]`.
//!
//! Both containers `torch.save` writes are read:
//! * **zip** (the default since torch 1.6): a zip archive whose records live under one top-level
//!   folder (`meta/data.pkl`, `meta/version`, `meta/byteorder`, …); the object is the pickle in
//!   `<folder>/data.pkl`, the folder being that of the first record (as `torch.load` finds it).
//!   Only stored (uncompressed) records are read, which is how torch writes them.
//! * **legacy** (`_use_new_zipfile_serialization=False`, and torch < 1.6): five pickles back to
//!   back — the magic number `0x1950a86a20f9469cfc6c`, the protocol version 1001, a sys-info
//!   dict, the object, and the list of storage keys, which must be empty (`meta.bin` holds no
//!   tensors); nothing may follow.
//!
//! The pickles are read by [`crate::pickle`], which accepts only the opcodes dicts, tuples,
//! lists and strings produce. Every error names the file.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use crate::imagenet::ImageNetError;
use crate::pickle::{read_pickle, PyValue};

/// torch's legacy magic number `0x1950a86a20f9469cfc6c` as `LONG1` pickles it (little endian).
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/// torch's legacy protocol version.
const LEGACY_PROTOCOL: i64 = 1001;
/// Largest `data.pkl` read from a zip `meta.bin` (torchvision's is about 0.3 MB).
const MAX_PICKLE_BYTES: u64 = 256 << 20;

/// The contents of a torchvision `meta.bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageNetMeta {
    /// WNID → synonyms, in the file's order.
    pub wnid_to_classes: Vec<(String, Vec<String>)>,
    /// The WNID of every val image, in val order.
    pub val_wnids: Vec<String>,
}

impl ImageNetMeta {
    /// The synonyms of `wnid`, if the file has it.
    pub fn synonyms(&self, wnid: &str) -> Option<&[String]> {
        self.wnid_to_classes
            .iter()
            .find(|(w, _)| w == wnid)
            .map(|(_, c)| c.as_slice())
    }
}

/// Which `torch.save` container a `meta.bin` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorchSaveFormat {
    /// The zip archive of torch ≥ 1.6.
    Zip,
    /// The legacy sequence of pickles.
    Legacy,
}

/// Reads a torchvision `meta.bin` (zip or legacy `torch.save` format).
pub fn read_meta_bin(path: impl AsRef<Path>) -> Result<ImageNetMeta, ImageNetError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| meta_error(path, format!("cannot read: {e}")))?;
    parse_meta_bin(&bytes)
        .map(|(meta, _)| meta)
        .map_err(|message| meta_error(path, message))
}

fn meta_error(path: &Path, message: String) -> ImageNetError {
    ImageNetError::MetaBin {
        path: PathBuf::from(path),
        message,
    }
}

/// Parses the bytes of a `meta.bin`; the error is a message without the path.
pub fn parse_meta_bin(bytes: &[u8]) -> Result<(ImageNetMeta, TorchSaveFormat), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let object = zip_object(bytes).map_err(|e| format!("torch.save zip format: {e}"))?;
        let meta = interpret(object).map_err(|e| format!("torch.save zip format: {e}"))?;
        Ok((meta, TorchSaveFormat::Zip))
    } else {
        let object = legacy_object(bytes).map_err(|e| format!("legacy torch.save format: {e}"))?;
        let meta = interpret(object).map_err(|e| format!("legacy torch.save format: {e}"))?;
        Ok((meta, TorchSaveFormat::Legacy))
    }
}

fn zip_object(bytes: &[u8]) -> Result<PyValue, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip archive ({e})"))?;
    let first = match archive.name_for_index(0) {
        Some(Ok(name)) => name.into_owned(),
        Some(Err(e)) => return Err(format!("unreadable record name ({e})")),
        None => return Err("the archive has no records".into()),
    };
    let Some((folder, _)) = first.split_once('/') else {
        return Err(format!(
            "the first record {first:?} is not inside a folder (torch.save writes `<name>/data.pkl`, …)"
        ));
    };
    let name = format!("{folder}/data.pkl");
    let mut record = archive
        .by_name(&name)
        .map_err(|e| format!("no record {name} ({e})"))?;
    if record.size() > MAX_PICKLE_BYTES {
        return Err(format!(
            "{name} is {} bytes, more than the {MAX_PICKLE_BYTES} read",
            record.size()
        ));
    }
    let mut pkl = Vec::with_capacity(record.size() as usize);
    (&mut record)
        .take(MAX_PICKLE_BYTES + 1)
        .read_to_end(&mut pkl)
        .map_err(|e| format!("cannot read {name} ({e})"))?;
    drop(record);
    let (object, end) = read_pickle(&pkl, 0).map_err(|e| format!("{name}: {e}"))?;
    if end != pkl.len() {
        return Err(format!(
            "{name}: {} bytes follow the pickle's STOP at byte {}",
            pkl.len() - end,
            end - 1
        ));
    }
    Ok(object)
}

fn legacy_object(bytes: &[u8]) -> Result<PyValue, String> {
    let (magic, pos) = read_pickle(bytes, 0).map_err(|e| {
        format!("neither a zip archive nor a legacy torch.save file (its magic-number pickle: {e})")
    })?;
    if magic != PyValue::Long(LEGACY_MAGIC.to_vec()) {
        return Err(format!(
            "the first pickle is a {} other than torch's magic number 0x1950a86a20f9469cfc6c",
            magic.type_name()
        ));
    }
    let (version, pos) =
        read_pickle(bytes, pos).map_err(|e| format!("protocol-version pickle: {e}"))?;
    if version != PyValue::Int(LEGACY_PROTOCOL) {
        return Err(format!(
            "protocol version {version:?} instead of {LEGACY_PROTOCOL}"
        ));
    }
    let (sys_info, pos) = read_pickle(bytes, pos).map_err(|e| format!("sys-info pickle: {e}"))?;
    if !matches!(sys_info, PyValue::Dict(_)) {
        return Err(format!(
            "the sys-info pickle is a {}, not a dict",
            sys_info.type_name()
        ));
    }
    let (object, pos) = read_pickle(bytes, pos).map_err(|e| format!("object pickle: {e}"))?;
    let (keys, pos) = read_pickle(bytes, pos).map_err(|e| format!("storage-key pickle: {e}"))?;
    match keys {
        PyValue::List(k) if k.is_empty() => {}
        PyValue::List(k) => {
            return Err(format!(
                "the file holds {} tensor storages; meta.bin holds none",
                k.len()
            ))
        }
        other => {
            return Err(format!(
                "the storage-key pickle is a {}, not a list",
                other.type_name()
            ))
        }
    }
    if pos != bytes.len() {
        return Err(format!(
            "{} bytes follow the storage-key pickle at byte {pos}",
            bytes.len() - pos
        ));
    }
    Ok(object)
}

fn interpret(object: PyValue) -> Result<ImageNetMeta, String> {
    let PyValue::Tuple(mut parts) = object else {
        return Err(format!(
            "the object is a {}, not the tuple (wnid_to_classes, val_wnids)",
            object.type_name()
        ));
    };
    if parts.len() != 2 {
        return Err(format!(
            "the object is a tuple of {} items, not (wnid_to_classes, val_wnids)",
            parts.len()
        ));
    }
    let val = parts.pop().unwrap_or(PyValue::List(Vec::new()));
    let dict = parts.pop().unwrap_or(PyValue::Dict(Vec::new()));
    let PyValue::Dict(entries) = dict else {
        return Err(format!(
            "wnid_to_classes is a {}, not a dict",
            dict.type_name()
        ));
    };
    let mut wnid_to_classes = Vec::with_capacity(entries.len());
    for (wnid, classes) in entries {
        let PyValue::Tuple(items) = classes else {
            return Err(format!(
                "wnid_to_classes[{wnid:?}] is a {}, not a tuple of str",
                classes.type_name()
            ));
        };
        let mut synonyms = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                PyValue::Str(s) => synonyms.push(s),
                other => {
                    return Err(format!(
                        "wnid_to_classes[{wnid:?}][{i}] is a {}, not a str",
                        other.type_name()
                    ))
                }
            }
        }
        wnid_to_classes.push((wnid, synonyms));
    }
    let PyValue::List(items) = val else {
        return Err(format!("val_wnids is a {}, not a list", val.type_name()));
    };
    let mut val_wnids = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            PyValue::Str(s) => val_wnids.push(s),
            other => {
                return Err(format!(
                    "val_wnids[{i}] is a {}, not a str",
                    other.type_name()
                ))
            }
        }
    }
    Ok(ImageNetMeta {
        wnid_to_classes,
        val_wnids,
    })
}
