//! Reader for ImageNet-Segmentation `gtsegs_ijcv.mat` (Guillaumin et al. IJCV 2014; protocols §5.2).
//!
//! The file is MATLAB v7.3, i.e. HDF5 behind a 512-byte MATLAB user block; it is read with the
//! pure-Rust `hdf5-reader` crate (no libhdf5). Layout:
//! * `/value/img`: object references, shape `(N, 1)`; element `i` points to a `uint8` dataset of
//!   shape `(3, W, H)` (MATLAB's column-major `H × W × 3` seen from C) → transposed to `H × W` RGB;
//! * `/value/gt`: object references, shape `(N, 1)`; element `i` points to a `(1, 1)` reference cell
//!   whose single element points to a `uint8` mask of shape `(W, H)` → transposed to `H × W`,
//!   values in `{0, 1}` (anything else is an error naming the image index).
//!
//! This mirrors Chefer et al.'s loader
//! (`f[f['/value/img'][i,0]]` → `.transpose(2,1,0)`, `f[f[f['/value/gt'][i,0]][0,0]]` → `.T`).
//! The object index (`/#refs#`) is scanned once at [`ImageNetSeg::open`]; images are read and
//! decompressed lazily in [`ImageNetSeg::get`].
//!
//! Sample ids are the zero-padded position in the file (`"00000"`, `"00001"`, …).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hdf5_reader::reference::read_object_references;
use hdf5_reader::{Dataset, Datatype, Hdf5File};
use image::RgbImage;

/// Errors of the ImageNet-Segmentation reader; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SegDataError {
    /// The file does not exist or cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// No HDF5 signature (not a MATLAB v7.3 file).
    #[error("{path}: not an HDF5 / MATLAB v7.3 file ({reason})")]
    NotHdf5 {
        /// File path.
        path: PathBuf,
        /// Decoder message.
        reason: String,
    },
    /// The HDF5 structures are damaged or the file is truncated.
    #[error("{path}: corrupt or truncated HDF5 data while reading {context}: {reason}")]
    Corrupt {
        /// File path.
        path: PathBuf,
        /// What was being read.
        context: String,
        /// Decoder message.
        reason: String,
    },
    /// A required group or dataset is missing.
    #[error("{path}: missing {object} (expected the gtsegs_ijcv.mat layout: /value/img, /value/gt, /#refs#)")]
    Missing {
        /// File path.
        path: PathBuf,
        /// The missing object.
        object: String,
    },
    /// A dataset has an unexpected shape.
    #[error("{path}: {object} has shape {got:?}, expected {expected}")]
    BadShape {
        /// File path.
        path: PathBuf,
        /// Which object.
        object: String,
        /// Expected shape description.
        expected: String,
        /// Actual shape.
        got: Vec<u64>,
    },
    /// A dataset has an unexpected element type.
    #[error("{path}: {object} has element type {found}, expected {expected}")]
    BadDtype {
        /// File path.
        path: PathBuf,
        /// Which object.
        object: String,
        /// Expected type.
        expected: String,
        /// Actual type (debug form).
        found: String,
    },
    /// A reference points to an object that is not in `/#refs#`.
    #[error("{path}: {object} references address {address:#x}, which is not a dataset in /#refs#")]
    DanglingReference {
        /// File path.
        path: PathBuf,
        /// Which reference.
        object: String,
        /// Referenced address.
        address: u64,
    },
    /// `/value/img` and `/value/gt` have different lengths.
    #[error("{path}: {images} images but {masks} masks")]
    CountMismatch {
        /// File path.
        path: PathBuf,
        /// Number of image references.
        images: usize,
        /// Number of mask references.
        masks: usize,
    },
    /// Mask and image sizes differ.
    #[error("{path}: image {index} is {img_w}x{img_h} (WxH) but its mask is {mask_w}x{mask_h}")]
    SizeMismatch {
        /// File path.
        path: PathBuf,
        /// Image index.
        index: usize,
        /// Image width.
        img_w: usize,
        /// Image height.
        img_h: usize,
        /// Mask width.
        mask_w: usize,
        /// Mask height.
        mask_h: usize,
    },
    /// A mask value other than 0 or 1.
    #[error("{path}: mask of image {index} has value {value} at (row {row}, col {col}); expected 0 or 1")]
    MaskValue {
        /// File path.
        path: PathBuf,
        /// Image index.
        index: usize,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: u8,
    },
    /// `get(i)` with `i >= len()`.
    #[error("{path}: image {index} requested but the file has {len}")]
    OutOfBounds {
        /// File path.
        path: PathBuf,
        /// Requested index.
        index: usize,
        /// Number of images.
        len: usize,
    },
}

/// The id of image `i`: its zero-padded position in the file (`"00042"`).
pub fn sample_id(i: usize) -> String {
    format!("{i:05}")
}

/// One image with its ground-truth mask.
#[derive(Debug, Clone)]
pub struct SegSample {
    /// Zero-padded position in the file, e.g. `"00042"`.
    pub id: String,
    /// RGB image, `height × width`.
    pub image: RgbImage,
    /// Mask, row-major `height × width`, values in `{0 = background, 1 = foreground}`.
    pub mask: Vec<u8>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// An open `gtsegs_ijcv.mat`.
pub struct ImageNetSeg {
    path: PathBuf,
    offset_size: u8,
    img_refs: Vec<u64>,
    gt_refs: Vec<u64>,
    objects: HashMap<u64, Dataset>,
    // Keeps the file (and its memory map) alive for the datasets above.
    _file: Hdf5File,
}

impl std::fmt::Debug for ImageNetSeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageNetSeg")
            .field("path", &self.path)
            .field("len", &self.img_refs.len())
            .finish()
    }
}

fn is_u8(dtype: &Datatype) -> bool {
    matches!(dtype, Datatype::FixedPoint { size: 1, .. })
}

fn is_reference(dtype: &Datatype) -> bool {
    matches!(dtype, Datatype::Reference { .. })
}

impl ImageNetSeg {
    /// Opens the file, checks the layout and indexes `/#refs#`. No image data is read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SegDataError> {
        let path = path.as_ref().to_path_buf();
        // Surface plain I/O problems (missing file, permissions) as such.
        std::fs::metadata(&path).map_err(|source| SegDataError::Io {
            path: path.clone(),
            source,
        })?;
        let file = Hdf5File::open(&path).map_err(|e| match e {
            hdf5_reader::error::Error::InvalidMagic => SegDataError::NotHdf5 {
                path: path.clone(),
                reason: "no HDF5 signature at offset 0, 512, 1024, ...".into(),
            },
            hdf5_reader::error::Error::Io(source) => SegDataError::Io {
                path: path.clone(),
                source,
            },
            other => SegDataError::Corrupt {
                path: path.clone(),
                context: "the superblock".into(),
                reason: other.to_string(),
            },
        })?;
        let offset_size = file.superblock().offset_size;
        let corrupt = |context: &str, e: hdf5_reader::error::Error| SegDataError::Corrupt {
            path: path.clone(),
            context: context.into(),
            reason: e.to_string(),
        };
        let missing = |object: &str| SegDataError::Missing {
            path: path.clone(),
            object: object.into(),
        };

        let read_refs = |name: &str| -> Result<Vec<u64>, SegDataError> {
            let ds = file.dataset(name).map_err(|e| match e {
                hdf5_reader::error::Error::DatasetNotFound(_)
                | hdf5_reader::error::Error::GroupNotFound(_) => missing(name),
                hdf5_reader::error::Error::Context { source, .. }
                    if matches!(
                        *source,
                        hdf5_reader::error::Error::DatasetNotFound(_)
                            | hdf5_reader::error::Error::GroupNotFound(_)
                    ) =>
                {
                    missing(name)
                }
                other => corrupt(name, other),
            })?;
            if !is_reference(ds.dtype()) {
                return Err(SegDataError::BadDtype {
                    path: path.clone(),
                    object: name.into(),
                    expected: "object references".into(),
                    found: format!("{:?}", ds.dtype()),
                });
            }
            let shape = ds.shape().to_vec();
            if shape.len() != 2 || shape[1] != 1 {
                return Err(SegDataError::BadShape {
                    path: path.clone(),
                    object: name.into(),
                    expected: "(N, 1)".into(),
                    got: shape,
                });
            }
            let raw = ds.read_raw_bytes().map_err(|e| corrupt(name, e))?;
            let refs = read_object_references(&raw, offset_size).map_err(|e| corrupt(name, e))?;
            if refs.len() as u64 != shape[0] {
                return Err(corrupt(
                    name,
                    hdf5_reader::error::Error::InvalidData(format!(
                        "{} references for shape {:?}",
                        refs.len(),
                        shape
                    )),
                ));
            }
            Ok(refs)
        };
        let img_refs = read_refs("/value/img")?;
        let gt_refs = read_refs("/value/gt")?;
        if img_refs.len() != gt_refs.len() {
            return Err(SegDataError::CountMismatch {
                path: path.clone(),
                images: img_refs.len(),
                masks: gt_refs.len(),
            });
        }
        let refs_group = file.group("/#refs#").map_err(|e| match e {
            hdf5_reader::error::Error::GroupNotFound(_) => missing("/#refs#"),
            other => corrupt("/#refs#", other),
        })?;
        let objects: HashMap<u64, Dataset> = refs_group
            .datasets()
            .map_err(|e| corrupt("/#refs#", e))?
            .into_iter()
            .map(|d| (d.address(), d))
            .collect();
        Ok(ImageNetSeg {
            path,
            offset_size,
            img_refs,
            gt_refs,
            objects,
            _file: file,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.img_refs.len()
    }

    /// True when the file lists no images.
    pub fn is_empty(&self) -> bool {
        self.img_refs.is_empty()
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn deref(&self, address: u64, object: &str) -> Result<&Dataset, SegDataError> {
        self.objects
            .get(&address)
            .ok_or_else(|| SegDataError::DanglingReference {
                path: self.path.clone(),
                object: object.into(),
                address,
            })
    }

    fn read_u8(&self, ds: &Dataset, object: &str) -> Result<Vec<u8>, SegDataError> {
        if !is_u8(ds.dtype()) {
            return Err(SegDataError::BadDtype {
                path: self.path.clone(),
                object: object.into(),
                expected: "uint8".into(),
                found: format!("{:?}", ds.dtype()),
            });
        }
        let n: u64 = ds.shape().iter().product();
        let mut buf = vec![0u8; n as usize];
        ds.read_into(&mut buf).map_err(|e| SegDataError::Corrupt {
            path: self.path.clone(),
            context: object.into(),
            reason: e.to_string(),
        })?;
        Ok(buf)
    }

    /// Reads image `i` and its mask.
    pub fn get(&self, i: usize) -> Result<SegSample, SegDataError> {
        let len = self.len();
        if i >= len {
            return Err(SegDataError::OutOfBounds {
                path: self.path.clone(),
                index: i,
                len,
            });
        }
        // image: (3, W, H) uint8
        let img_name = format!("/value/img[{i}] -> image");
        let img_ds = self.deref(self.img_refs[i], &img_name)?;
        let shape = img_ds.shape().to_vec();
        if shape.len() != 3 || shape[0] != 3 || shape[1] == 0 || shape[2] == 0 {
            return Err(SegDataError::BadShape {
                path: self.path.clone(),
                object: img_name,
                expected: "(3, W, H) with W, H > 0".into(),
                got: shape,
            });
        }
        let (w, h) = (shape[1] as usize, shape[2] as usize);
        let data = self.read_u8(img_ds, &img_name)?;
        let plane = w * h;
        let mut image = RgbImage::new(w as u32, h as u32);
        for (x, y, px) in image.enumerate_pixels_mut() {
            let at = x as usize * h + y as usize;
            px.0 = [data[at], data[plane + at], data[2 * plane + at]];
        }

        // mask: (1, 1) reference cell -> (W, H) uint8
        let cell_name = format!("/value/gt[{i}] -> cell");
        let cell_ds = self.deref(self.gt_refs[i], &cell_name)?;
        if !is_reference(cell_ds.dtype()) {
            return Err(SegDataError::BadDtype {
                path: self.path.clone(),
                object: cell_name,
                expected: "object references (a 1x1 cell)".into(),
                found: format!("{:?}", cell_ds.dtype()),
            });
        }
        if cell_ds.shape() != [1, 1] {
            return Err(SegDataError::BadShape {
                path: self.path.clone(),
                object: cell_name,
                expected: "(1, 1)".into(),
                got: cell_ds.shape().to_vec(),
            });
        }
        let corrupt = |e: hdf5_reader::error::Error| SegDataError::Corrupt {
            path: self.path.clone(),
            context: cell_name.clone(),
            reason: e.to_string(),
        };
        let raw = cell_ds.read_raw_bytes().map_err(corrupt)?;
        let inner = *read_object_references(&raw, self.offset_size)
            .map_err(corrupt)?
            .first()
            .ok_or_else(|| {
                corrupt(hdf5_reader::error::Error::InvalidData(
                    "empty reference cell".into(),
                ))
            })?;
        let mask_name = format!("/value/gt[{i}] -> mask");
        let mask_ds = self.deref(inner, &mask_name)?;
        let mshape = mask_ds.shape().to_vec();
        if mshape.len() != 2 {
            return Err(SegDataError::BadShape {
                path: self.path.clone(),
                object: mask_name,
                expected: "(W, H)".into(),
                got: mshape,
            });
        }
        let (mw, mh) = (mshape[0] as usize, mshape[1] as usize);
        if (mw, mh) != (w, h) {
            return Err(SegDataError::SizeMismatch {
                path: self.path.clone(),
                index: i,
                img_w: w,
                img_h: h,
                mask_w: mw,
                mask_h: mh,
            });
        }
        let mdata = self.read_u8(mask_ds, &mask_name)?;
        let mut mask = vec![0u8; w * h];
        for x in 0..w {
            for y in 0..h {
                let v = mdata[x * h + y];
                if v > 1 {
                    return Err(SegDataError::MaskValue {
                        path: self.path.clone(),
                        index: i,
                        row: y,
                        col: x,
                        value: v,
                    });
                }
                mask[y * w + x] = v;
            }
        }
        Ok(SegSample {
            id: sample_id(i),
            image,
            mask,
            width: w,
            height: h,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The `imagenet_seg` dataset kind.

use crate::reader::{
    settings, Capability, DataResult, DatasetInfo, DatasetReader, ImageItem, Modality, Opened,
};

/// `[datasets.NAME] kind = "imagenet_seg"`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SegSettings {
    /// The `.mat` file.
    path: PathBuf,
}

/// Registry entry.
pub const DATASET: DatasetInfo = DatasetInfo {
    kind: "imagenet_seg",
    summary: "ImageNet-Segmentation gtsegs_ijcv.mat (MATLAB v7.3 / HDF5): images with foreground masks (protocols §5.2)",
    modality: Modality::Image,
    capabilities: &[Capability::Masks],
    keys: &[("path", "the gtsegs_ijcv.mat file")],
    path_keys: &["path"],
    open: |keys| {
        let s: SegSettings = settings("imagenet_seg", keys)?;
        Ok(Opened {
            reader: Box::new(ImageNetSeg::open(&s.path)?),
            fingerprint: serde_json::json!({}),
            locations: vec![s.path],
        })
    },
};

impl DatasetReader for ImageNetSeg {
    fn kind(&self) -> &'static str {
        DATASET.kind
    }
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn capabilities(&self) -> &'static [Capability] {
        DATASET.capabilities
    }
    fn len(&self) -> usize {
        ImageNetSeg::len(self)
    }
    fn id(&self, i: usize) -> DataResult<String> {
        Ok(sample_id(i))
    }
    fn image(&self, i: usize) -> DataResult<ImageItem> {
        let s = self.get(i)?;
        Ok(ImageItem {
            id: s.id,
            label: None,
            image: s.image,
            mask: Some(s.mask),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const MAT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/data/gtsegs_small.mat"
    );
    const JSON: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/data/gtsegs_small.json"
    );

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faithbench-seg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn reads_fixture_exactly() {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(JSON).unwrap()).unwrap();
        let images = truth["images"].as_array().unwrap();
        let ds = ImageNetSeg::open(MAT).unwrap();
        assert_eq!(ds.len(), 4);
        for (i, t) in images.iter().enumerate() {
            let s = ds.get(i).unwrap();
            assert_eq!(s.id, format!("{i:05}"));
            assert_eq!(s.height as u64, t["height"].as_u64().unwrap());
            assert_eq!(s.width as u64, t["width"].as_u64().unwrap());
            assert_eq!(
                (s.image.width() as usize, s.image.height() as usize),
                (s.width, s.height)
            );
            let sum: u64 = s.image.as_raw().iter().map(|&v| v as u64).sum();
            assert_eq!(sum, t["img_sum"].as_u64().unwrap(), "image {i}");
            for c in 0..3 {
                let cs: u64 = s.image.pixels().map(|p| p[c] as u64).sum();
                assert_eq!(
                    cs,
                    t["img_channel_sums"][c].as_u64().unwrap(),
                    "image {i} channel {c}"
                );
            }
            let msum: u64 = s.mask.iter().map(|&v| v as u64).sum();
            assert_eq!(msum, t["mask_sum"].as_u64().unwrap(), "mask {i}");
            for p in t["probes"].as_array().unwrap() {
                let (y, x) = (
                    p["y"].as_u64().unwrap() as usize,
                    p["x"].as_u64().unwrap() as usize,
                );
                let rgb: Vec<u8> = p["rgb"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u8)
                    .collect();
                assert_eq!(
                    s.image.get_pixel(x as u32, y as u32).0.to_vec(),
                    rgb,
                    "image {i} at ({y},{x})"
                );
                assert_eq!(s.mask[y * s.width + x] as u64, p["mask"].as_u64().unwrap());
            }
        }
        assert!(matches!(
            ds.get(4),
            Err(SegDataError::OutOfBounds {
                index: 4,
                len: 4,
                ..
            })
        ));
    }

    #[test]
    fn non_hdf5_and_missing_files() {
        let p = tmp("not.mat");
        std::fs::write(&p, vec![b'x'; 4096]).unwrap();
        let e = ImageNetSeg::open(&p).unwrap_err();
        assert!(matches!(e, SegDataError::NotHdf5 { .. }), "{e}");
        assert!(e.to_string().contains("not.mat"));
        assert!(matches!(
            ImageNetSeg::open(tmp("absent.mat")),
            Err(SegDataError::Io { .. })
        ));
    }

    #[test]
    fn other_hdf5_layout_reports_missing_dataset() {
        // The 512-byte user block + superblock + root group survive; drop the MATLAB layout by
        // opening a valid HDF5 file that lacks /value: the hdf5-reader test data is not available,
        // so reuse the fixture and ask for the reader's behaviour on a file whose /value/img was
        // renamed in-place ("img" -> "imx" in the symbol table's local heap).
        let bytes = std::fs::read(MAT).unwrap();
        let pos = bytes
            .windows(4)
            .position(|w| w == b"img\0")
            .expect("name in local heap");
        let mut renamed = bytes.clone();
        renamed[pos + 2] = b'x';
        let p = tmp("renamed.mat");
        std::fs::write(&p, &renamed).unwrap();
        let e = ImageNetSeg::open(&p).unwrap_err();
        assert!(
            matches!(&e, SegDataError::Missing { object, .. } if object == "/value/img"),
            "{e}"
        );
    }

    #[test]
    fn truncated_copies_error_instead_of_panicking() {
        let bytes = std::fs::read(MAT).unwrap();
        let mut errors = 0;
        for (k, cut) in [
            600usize,
            1024,
            2048,
            4096,
            bytes.len() / 2,
            bytes.len() - 700,
            bytes.len() - 1,
        ]
        .iter()
        .enumerate()
        {
            let p = tmp(&format!("trunc{k}.mat"));
            std::fs::write(&p, &bytes[..*cut]).unwrap();
            let result = ImageNetSeg::open(&p).and_then(|ds| {
                (0..ds.len())
                    .map(|i| ds.get(i).map(|_| ()))
                    .collect::<Result<Vec<_>, _>>()
            });
            match result {
                Err(e) => {
                    errors += 1;
                    assert!(e.to_string().contains(&format!("trunc{k}.mat")), "{e}");
                }
                Ok(_) => panic!("truncated copy at {cut} bytes read without error"),
            }
        }
        assert_eq!(errors, 7);
    }
}
