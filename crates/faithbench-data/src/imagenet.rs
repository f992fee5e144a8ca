//! ImageNet-1k validation reader in torchvision `ImageFolder` order (protocols §5.1).
//!
//! Layout: `root/<wnid>/<files>`, where `root` is either the `val/` folder itself or a folder that
//! contains `val/` (checked in that order: if `root/val` is a directory it is used).
//!
//! Order, as torchvision's `ImageFolder`/`ImageNet(split='val')` builds it:
//! * classes = sub-directories of the split folder (symlinks followed), sorted by name; label =
//!   position in that sorted list;
//! * within a class, the folder is walked recursively (`os.walk(..., followlinks=True)`), directories
//!   visited in sorted path order and file names sorted; Python's `sorted()` on `str` is code-point
//!   order, which equals byte order of UTF-8 names;
//! * only files whose lower-cased name ends with one of torchvision's `IMG_EXTENSIONS`
//!   (`.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp`) are samples; **other files are ignored,
//!   exactly as torchvision ignores them** (e.g. `.txt`, `.xml`, hidden files without an image
//!   extension). Nothing else is skipped: a file with an image extension that fails to decode is an
//!   error on access, naming its path.
//! * A class folder without any image file is an error (torchvision raises
//!   `FileNotFoundError: Found no valid file for the classes ...`).
//!
//! An optional subset (e.g. `pert_index.npy`) selects and orders samples by index into the full
//! order. Images are decoded lazily in [`ImageNetVal::get`] and converted to 8-bit RGB (grey is
//! replicated, alpha is dropped, CMYK is converted by the JPEG decoder) — the equivalent of PIL's
//! `.convert('RGB')`. The format is detected from the file contents, not its extension.
//!
//! Class names ([`ImageNetVal::class_synonyms_with_source`], the reader's `class_synonyms`), for
//! zero-shot prompts (protocols §4.3), come from the first of:
//! 1. torchvision's `meta.bin` ([`crate::imagenet_meta`]), looked up as `root/meta.bin` and, when
//!    `root` is itself the split folder and is named `val`, as `meta.bin` in its parent (where
//!    torchvision keeps it, next to `val/`). Every class folder must have an entry (an error
//!    names the WNID and the file); entries without a folder are ignored, as torchvision ignores
//!    them. A `meta.bin` that cannot be read is an error, never a reason to fall back.
//! 2. faithbench's table of the 1000 ImageNet-1k classes ([`crate::imagenet_classes`]), when every
//!    class folder is a WNID (`n` and eight digits) found in it.
//! 3. the folder names themselves, one synonym each (e.g. faithbench-shapes' `0_disc`, `1_square`, …).

use std::fs;
use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::imagenet_classes::{imagenet_synonyms, is_wnid};
use crate::imagenet_meta::read_meta_bin;
use crate::npy::{read_index_file, NpyError};

/// The name of torchvision's meta file (`torchvision.datasets.imagenet.META_FILE`).
pub const META_FILE: &str = "meta.bin";

/// Where [`ImageNetVal::class_synonyms_with_source`] took the class names from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassNameSource {
    /// torchvision's `meta.bin` at this path.
    MetaBin(PathBuf),
    /// faithbench's table of the 1000 ImageNet-1k classes: every folder is a WNID in it.
    WnidTable,
    /// The class folder names, one synonym each.
    FolderNames,
}

/// torchvision's `IMG_EXTENSIONS`, matched case-insensitively against the end of the file name.
pub const IMG_EXTENSIONS: [&str; 9] = [
    ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp",
];

/// Errors of the ImageNet reader; every variant names the path involved.
#[derive(Debug, thiserror::Error)]
pub enum ImageNetError {
    /// The root (or split) folder does not exist or is not a directory.
    #[error("ImageNet root {path} does not exist or is not a directory")]
    MissingRoot {
        /// The path given.
        path: PathBuf,
    },
    /// A directory could not be listed.
    #[error("cannot list {path}: {source}")]
    Io {
        /// Directory path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The split folder has no class sub-directories.
    #[error("{path} contains no class folders")]
    NoClasses {
        /// Split folder.
        path: PathBuf,
    },
    /// A class folder holds no file with an image extension.
    #[error("class folder {path} contains no image file (extensions: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp)")]
    EmptyClass {
        /// Class folder.
        path: PathBuf,
    },
    /// The subset index file could not be read.
    #[error(transparent)]
    IndexFile(#[from] NpyError),
    /// A subset index is outside the dataset.
    #[error("subset index {index} at position {position} of {source_name} is out of range (dataset has {len} images)")]
    IndexOutOfRange {
        /// Where the indices came from (index file path or "subset").
        source_name: String,
        /// Position in the index list.
        position: usize,
        /// The index.
        index: usize,
        /// Dataset size.
        len: usize,
    },
    /// `get(i)` with `i >= len()`.
    #[error("sample {index} requested but the dataset has {len} samples")]
    OutOfBounds {
        /// Requested position.
        index: usize,
        /// Dataset length.
        len: usize,
    },
    /// An image failed to open or decode.
    #[error("cannot decode image {path}: {reason}")]
    Decode {
        /// Image path.
        path: PathBuf,
        /// Decoder message.
        reason: String,
    },
    /// torchvision's `meta.bin` could not be read or does not hold `(wnid_to_classes, val_wnids)`.
    #[error("torchvision meta file {path}: {message}")]
    MetaBin {
        /// The `meta.bin`.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A class folder has no entry in `meta.bin`.
    #[error("class folder {wnid} has no entry in torchvision meta file {path}")]
    MissingInMeta {
        /// The class folder name.
        wnid: String,
        /// The `meta.bin`.
        path: PathBuf,
    },
}

/// One decoded sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Path relative to the split folder, `/`-separated (e.g. `n01440764/ILSVRC2012_val_00000293.JPEG`).
    pub id: String,
    /// Class index (position of the WNID folder in sorted order).
    pub label: usize,
    /// The image as 8-bit RGB.
    pub image: RgbImage,
}

#[derive(Debug, Clone)]
struct Entry {
    rel: String,
    label: usize,
}

/// The ImageNet validation set (or a subset of it) in torchvision order.
#[derive(Debug, Clone)]
pub struct ImageNetVal {
    root: PathBuf,
    split_dir: PathBuf,
    classes: Vec<String>,
    entries: Vec<Entry>,
    subset: Option<Vec<usize>>,
}

fn list_dir(path: &Path) -> Result<Vec<(String, PathBuf, bool)>, ImageNetError> {
    let io = |source| ImageNetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        // fs::metadata follows symlinks, like os.scandir's is_dir() / os.walk(followlinks=True)
        let is_dir = fs::metadata(&p).map(|m| m.is_dir()).unwrap_or(false);
        out.push((entry.file_name().to_string_lossy().into_owned(), p, is_dir));
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// True if `name` has one of torchvision's image extensions (case-insensitive).
pub fn has_image_extension(name: &str) -> bool {
    let lower = name.to_lowercase();
    IMG_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

/// Recursive walk of one class folder in `sorted(os.walk(...))` order; returns `/`-joined paths
/// relative to `base`.
fn walk_class(dir: &Path, rel: &str) -> Result<Vec<String>, ImageNetError> {
    // os.walk yields (root, dirs, files) for every directory; sorting those tuples orders the
    // directories by their full path string, then files are sorted within each directory.
    let mut dirs: Vec<(String, PathBuf)> = vec![(rel.to_string(), dir.to_path_buf())];
    let mut i = 0;
    while i < dirs.len() {
        let (r, p) = dirs[i].clone();
        for (name, child, is_dir) in list_dir(&p)? {
            if is_dir {
                dirs.push((format!("{r}/{name}"), child));
            }
        }
        i += 1;
    }
    dirs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut files = Vec::new();
    for (r, p) in dirs {
        for (name, _, is_dir) in list_dir(&p)? {
            if !is_dir && has_image_extension(&name) {
                files.push(format!("{r}/{name}"));
            }
        }
    }
    Ok(files)
}

impl ImageNetVal {
    /// Indexes `root` (the `val/` folder, or a folder containing `val/`). Lists files only; no
    /// image is decoded.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, ImageNetError> {
        let root = root.as_ref();
        if !root.is_dir() {
            return Err(ImageNetError::MissingRoot {
                path: root.to_path_buf(),
            });
        }
        let val = root.join("val");
        let split_dir = if val.is_dir() {
            val
        } else {
            root.to_path_buf()
        };
        let classes: Vec<(String, PathBuf)> = list_dir(&split_dir)?
            .into_iter()
            .filter(|(_, _, is_dir)| *is_dir)
            .map(|(name, path, _)| (name, path))
            .collect();
        if classes.is_empty() {
            return Err(ImageNetError::NoClasses { path: split_dir });
        }
        let mut entries = Vec::new();
        for (label, (name, path)) in classes.iter().enumerate() {
            let files = walk_class(path, name)?;
            if files.is_empty() {
                return Err(ImageNetError::EmptyClass { path: path.clone() });
            }
            entries.extend(files.into_iter().map(|rel| Entry { rel, label }));
        }
        Ok(ImageNetVal {
            root: root.to_path_buf(),
            split_dir,
            classes: classes.into_iter().map(|(n, _)| n).collect(),
            entries,
            subset: None,
        })
    }

    /// Restricts (and orders) the dataset to `indices` into the full torchvision order.
    /// `source_name` is used in error messages.
    pub fn with_subset(
        mut self,
        indices: Vec<usize>,
        source_name: &str,
    ) -> Result<Self, ImageNetError> {
        let len = self.entries.len();
        if let Some((position, &index)) = indices.iter().enumerate().find(|(_, &i)| i >= len) {
            return Err(ImageNetError::IndexOutOfRange {
                source_name: source_name.to_string(),
                position,
                index,
                len,
            });
        }
        self.subset = Some(indices);
        Ok(self)
    }

    /// Restricts the dataset to the indices stored in a 1-D integer `.npy` file (e.g. the paper's
    /// `pert_index.npy`, 5000 indices).
    pub fn with_subset_file(self, index_file: impl AsRef<Path>) -> Result<Self, ImageNetError> {
        let path = index_file.as_ref();
        let indices = read_index_file(path)?;
        self.with_subset(indices, &path.display().to_string())
    }

    /// The split folder actually used (`root` or `root/val`).
    pub fn split_dir(&self) -> &Path {
        &self.split_dir
    }

    /// Class folder names (WNIDs) in label order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// torchvision's `meta.bin` for this dataset, if there is one: `root/meta.bin`, or, when the
    /// root is itself a split folder named `val`, `meta.bin` next to it.
    pub fn meta_bin_path(&self) -> Option<PathBuf> {
        let mut candidates = vec![self.root.join(META_FILE)];
        if self.split_dir == self.root && self.root.file_name().is_some_and(|n| n == "val") {
            let parent = match self.root.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            candidates.push(parent.join(META_FILE));
        }
        candidates.into_iter().find(|p| p.is_file())
    }

    /// The synonyms of every class in label order, and where they came from (see the module
    /// documentation for the order of the sources).
    pub fn class_synonyms_with_source(
        &self,
    ) -> Result<(Vec<Vec<String>>, ClassNameSource), ImageNetError> {
        if let Some(path) = self.meta_bin_path() {
            let meta = read_meta_bin(&path)?;
            let mut out = Vec::with_capacity(self.classes.len());
            for wnid in &self.classes {
                match meta.synonyms(wnid) {
                    Some([]) => {
                        return Err(ImageNetError::MetaBin {
                            path,
                            message: format!("wnid_to_classes[{wnid:?}] is an empty tuple"),
                        })
                    }
                    Some(synonyms) => out.push(synonyms.to_vec()),
                    None => {
                        return Err(ImageNetError::MissingInMeta {
                            wnid: wnid.clone(),
                            path,
                        })
                    }
                }
            }
            return Ok((out, ClassNameSource::MetaBin(path)));
        }
        let table: Option<Vec<Vec<String>>> = self
            .classes
            .iter()
            .map(|c| {
                is_wnid(c)
                    .then(|| imagenet_synonyms(c))
                    .flatten()
                    .map(|s| s.iter().map(|x| x.to_string()).collect())
            })
            .collect();
        Ok(match table {
            Some(t) => (t, ClassNameSource::WnidTable),
            None => (
                self.classes.iter().map(|c| vec![c.clone()]).collect(),
                ClassNameSource::FolderNames,
            ),
        })
    }

    /// Number of samples (subset size when a subset is set).
    pub fn len(&self) -> usize {
        self.subset.as_ref().map_or(self.entries.len(), |s| s.len())
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the full (unsubsetted) dataset.
    pub fn full_len(&self) -> usize {
        self.entries.len()
    }

    fn entry(&self, i: usize) -> Result<&Entry, ImageNetError> {
        let len = self.len();
        let full = match &self.subset {
            Some(s) => *s
                .get(i)
                .ok_or(ImageNetError::OutOfBounds { index: i, len })?,
            None => i,
        };
        self.entries
            .get(full)
            .ok_or(ImageNetError::OutOfBounds { index: i, len })
    }

    /// Index of sample `i` in the full torchvision order.
    pub fn full_index(&self, i: usize) -> Result<usize, ImageNetError> {
        match &self.subset {
            Some(s) => s.get(i).copied().ok_or(ImageNetError::OutOfBounds {
                index: i,
                len: self.len(),
            }),
            None if i < self.entries.len() => Ok(i),
            None => Err(ImageNetError::OutOfBounds {
                index: i,
                len: self.len(),
            }),
        }
    }

    /// Id (relative path) and label of sample `i`, without decoding.
    pub fn id_and_label(&self, i: usize) -> Result<(&str, usize), ImageNetError> {
        let e = self.entry(i)?;
        Ok((&e.rel, e.label))
    }

    /// Absolute path of sample `i`.
    pub fn path(&self, i: usize) -> Result<PathBuf, ImageNetError> {
        Ok(self.split_dir.join(&self.entry(i)?.rel))
    }

    /// Decodes sample `i` to RGB.
    pub fn get(&self, i: usize) -> Result<Sample, ImageNetError> {
        let e = self.entry(i)?;
        let path = self.split_dir.join(&e.rel);
        let image = decode_rgb(&path)?;
        Ok(Sample {
            id: e.rel.clone(),
            label: e.label,
            image,
        })
    }
}

/// Decodes an image file (format detected from its contents) to 8-bit RGB, like PIL's
/// `Image.open(path).convert('RGB')`. Errors name the path.
pub fn decode_rgb(path: &Path) -> Result<RgbImage, ImageNetError> {
    let err = |reason: String| ImageNetError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|e| err(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?;
    let img = reader.decode().map_err(|e| err(e.to_string()))?;
    Ok(img.to_rgb8())
}

// ---------------------------------------------------------------------------------------------
// The `imagenet_val` dataset kind.

use crate::files::sha256_file;
use crate::reader::{
    settings, Capability, DataResult, DatasetInfo, DatasetReader, ImageItem, Modality, Opened,
};

/// `[datasets.NAME] kind = "imagenet_val"`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ValSettings {
    /// The `val/` folder or a folder containing it.
    root: PathBuf,
    /// Optional `.npy` index list into the full order (e.g. `pert_index.npy`).
    #[serde(default)]
    subset: Option<PathBuf>,
}

/// Registry entry.
pub const DATASET: DatasetInfo = DatasetInfo {
    kind: "imagenet_val",
    summary: "ImageNet-1k val in torchvision order (class = sorted WNID folder), optional index subset (protocols §5.1)",
    modality: Modality::Image,
    capabilities: &[Capability::Labels],
    keys: &[
        ("root", "the val/ folder or a folder containing it"),
        ("subset", "optional .npy index list into the full order, e.g. datasets/imagenet/pert_index.npy"),
    ],
    path_keys: &["root", "subset"],
    open: |keys| {
        let s: ValSettings = settings("imagenet_val", keys)?;
        let mut data = ImageNetVal::open(&s.root)?;
        let mut locations = vec![s.root.clone()];
        let subset_sha256 = match &s.subset {
            Some(p) => {
                data = data.with_subset_file(p)?;
                locations.push(p.clone());
                Some(sha256_file(p)?)
            }
            None => None,
        };
        let mut fingerprint = serde_json::json!({ "subset_sha256": subset_sha256 });
        // the class names (zero-shot prompts) depend on meta.bin when there is one
        if let Some(meta) = data.meta_bin_path() {
            fingerprint["meta_bin_sha256"] = sha256_file(&meta)?.into();
            locations.push(meta);
        }
        Ok(Opened {
            reader: Box::new(data),
            fingerprint,
            locations,
        })
    },
};

impl DatasetReader for ImageNetVal {
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
        ImageNetVal::len(self)
    }
    fn id(&self, i: usize) -> DataResult<String> {
        Ok(self.id_and_label(i)?.0.to_string())
    }
    fn image(&self, i: usize) -> DataResult<ImageItem> {
        let s = self.get(i)?;
        Ok(ImageItem {
            id: s.id,
            label: Some(s.label),
            image: s.image,
            mask: None,
        })
    }
    /// From `meta.bin`, else the shipped WNID table, else the folder names (see the module docs).
    fn class_synonyms(&self) -> DataResult<Option<Vec<Vec<String>>>> {
        Ok(Some(self.class_synonyms_with_source()?.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, Rgba, RgbaImage};

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir()
                .join(format!("faithbench-imagenet-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn rgb(path: &Path, color: [u8; 3]) {
        RgbImage::from_pixel(4, 3, Rgb(color)).save(path).unwrap();
    }

    /// val/
    ///   n02/  b.png  a.JPEG  notes.txt  sub/c.png   (walk order: a.JPEG, b.png, sub/c.png)
    ///   n01/  z.jpg (grey)  Y.PNG (rgba)  x.jpeg (corrupt)
    ///   README (file, not a class)
    fn layout(tag: &str) -> TempDir {
        let t = TempDir::new(tag);
        let val = t.0.join("val");
        fs::create_dir_all(val.join("n02/sub")).unwrap();
        fs::create_dir_all(val.join("n01")).unwrap();
        rgb(&val.join("n02/b.png"), [10, 20, 30]);
        image::DynamicImage::ImageRgb8(RgbImage::from_pixel(5, 2, Rgb([200, 100, 50])))
            .save_with_format(val.join("n02/a.JPEG"), image::ImageFormat::Jpeg)
            .unwrap();
        fs::write(val.join("n02/notes.txt"), b"not an image").unwrap();
        rgb(&val.join("n02/sub/c.png"), [1, 2, 3]);
        GrayImage::from_pixel(2, 2, Luma([77]))
            .save(val.join("n01/z.png"))
            .unwrap();
        fs::rename(val.join("n01/z.png"), val.join("n01/z.jpg")).unwrap(); // PNG bytes, .jpg name
        RgbaImage::from_pixel(3, 3, Rgba([9, 8, 7, 0]))
            .save_with_format(val.join("n01/Y.PNG"), image::ImageFormat::Png)
            .unwrap();
        fs::write(val.join("n01/x.jpeg"), b"\xff\xd8\xff\xe0 truncated jpeg").unwrap();
        fs::write(val.join("README"), b"readme").unwrap();
        t
    }

    #[test]
    fn order_labels_and_extension_filter() {
        let t = layout("order");
        for root in [t.0.clone(), t.0.join("val")] {
            let ds = ImageNetVal::open(&root).unwrap();
            assert_eq!(ds.classes(), &["n01".to_string(), "n02".to_string()]);
            let ids: Vec<(String, usize)> = (0..ds.len())
                .map(|i| {
                    let (id, l) = ds.id_and_label(i).unwrap();
                    (id.to_string(), l)
                })
                .collect();
            assert_eq!(
                ids,
                vec![
                    ("n01/Y.PNG".to_string(), 0), // 'Y' (0x59) < 'x' (0x78) < 'z': byte order
                    ("n01/x.jpeg".to_string(), 0),
                    ("n01/z.jpg".to_string(), 0),
                    ("n02/a.JPEG".to_string(), 1),
                    ("n02/b.png".to_string(), 1),
                    ("n02/sub/c.png".to_string(), 1),
                ]
            );
        }
    }

    #[test]
    fn decoding_converts_to_rgb_and_names_corrupt_files() {
        let t = layout("decode");
        let ds = ImageNetVal::open(&t.0).unwrap();
        let y = ds.get(0).unwrap();
        assert_eq!((y.image.width(), y.image.height()), (3, 3));
        assert_eq!(y.image.get_pixel(1, 1), &Rgb([9, 8, 7])); // alpha dropped, not composited
        let err = ds.get(1).unwrap_err();
        assert!(matches!(err, ImageNetError::Decode { .. }));
        assert!(err.to_string().contains("x.jpeg"), "{err}");
        let z = ds.get(2).unwrap(); // grey PNG with a .jpg name: detected by content
        assert_eq!(z.image.get_pixel(0, 0), &Rgb([77, 77, 77]));
        let a = ds.get(3).unwrap();
        assert_eq!((a.label, a.image.width(), a.image.height()), (1, 5, 2));
        let px = a.image.get_pixel(2, 1);
        assert!(
            (px[0] as i32 - 200).abs() <= 3
                && (px[1] as i32 - 100).abs() <= 3
                && (px[2] as i32 - 50).abs() <= 3
        );
        assert_eq!(ds.get(5).unwrap().image.get_pixel(3, 2), &Rgb([1, 2, 3]));
        assert!(matches!(
            ds.get(6),
            Err(ImageNetError::OutOfBounds { index: 6, len: 6 })
        ));
    }

    #[test]
    fn subset_selects_and_orders() {
        let t = layout("subset");
        let ds = ImageNetVal::open(&t.0)
            .unwrap()
            .with_subset(vec![4, 0], "test")
            .unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.full_len(), 6);
        assert_eq!(ds.id_and_label(0).unwrap(), ("n02/b.png", 1));
        assert_eq!(ds.full_index(1).unwrap(), 0);
        assert_eq!(ds.get(0).unwrap().image.get_pixel(0, 0), &Rgb([10, 20, 30]));
        let err = ImageNetVal::open(&t.0)
            .unwrap()
            .with_subset(vec![1, 6], "idx.npy")
            .unwrap_err();
        assert!(matches!(
            err,
            ImageNetError::IndexOutOfRange {
                position: 1,
                index: 6,
                len: 6,
                ..
            }
        ));
        assert!(err.to_string().contains("idx.npy"));
        // the real pert_index.npy has indices up to 49997: out of range for this toy set, naming the file
        let real = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../datasets/imagenet/pert_index.npy"
        );
        let err = ImageNetVal::open(&t.0)
            .unwrap()
            .with_subset_file(real)
            .unwrap_err();
        assert!(err.to_string().contains("pert_index.npy"), "{err}");
    }

    #[test]
    fn missing_root_empty_class_and_no_classes() {
        let t = TempDir::new("errors");
        assert!(matches!(
            ImageNetVal::open(t.0.join("nope")),
            Err(ImageNetError::MissingRoot { .. })
        ));
        assert!(matches!(
            ImageNetVal::open(&t.0),
            Err(ImageNetError::NoClasses { .. })
        ));
        fs::create_dir_all(t.0.join("n03")).unwrap();
        fs::write(t.0.join("n03/info.txt"), b"x").unwrap();
        let err = ImageNetVal::open(&t.0).unwrap_err();
        assert!(matches!(err, ImageNetError::EmptyClass { .. }));
        assert!(err.to_string().contains("n03"));
    }

    #[test]
    fn extension_rule() {
        for ok in [
            "a.JPEG", "b.jpg", "c.Png", "d.ppm", "e.bmp", "f.pgm", "g.TIF", "h.tiff", "i.webp",
            ".jpg",
        ] {
            assert!(has_image_extension(ok), "{ok}");
        }
        for no in ["a.gif", "b.txt", "jpeg", "c.jpg.bak", "README"] {
            assert!(!has_image_extension(no), "{no}");
        }
    }
}
