//! Datasets of a run, opened once, read by plan position.

use std::path::Path;

use anyhow::{bail, Context, Result};
use faithbench_data::newsgroups::{Newsgroups, NewsgroupsDoc};
use faithbench_data::{Annotation, Eraser, ImageNetSeg, ImageNetVal, Split};
use faithbench_models::preprocess::{prepare, resize_mask_nearest, ResizeMode};
use image::RgbImage;

/// An opened dataset restricted to the plan's samples.
pub enum OpenDataset {
    /// ImageNet val (after subset), first `len` samples.
    Val {
        /// Reader.
        data: ImageNetVal,
        /// Samples in the plan.
        len: usize,
    },
    /// ImageNet-Segmentation, first `len` images.
    Seg {
        /// Reader.
        data: ImageNetSeg,
        /// Samples in the plan.
        len: usize,
    },
    /// An ERASER folder: the annotations of the plan in order (splits concatenated, limited).
    Eraser {
        /// Reader (documents).
        data: Eraser,
        /// The plan's annotations.
        annotations: Vec<Annotation>,
        /// Class names in label order.
        classes: Vec<String>,
    },
    /// 20 Newsgroups: the plan's documents in order.
    Newsgroups {
        /// The plan's documents.
        docs: Vec<NewsgroupsDoc>,
        /// Class names by label, from the whole export (`?` for labels never seen).
        names: Vec<String>,
    },
}

/// One text sample.
pub struct TextItem {
    /// Sample id (ERASER: the annotation id; 20 Newsgroups: the zero-padded export position).
    pub id: String,
    /// The classifier's input text (ERASER: the flattened document, tokens joined by single
    /// spaces, so that its whitespace words are the document's tokens).
    pub text: String,
    /// Ground-truth class.
    pub label: usize,
    /// ERASER only: document id, number of document tokens and the evidence token spans
    /// `[start, end)`.
    pub eraser: Option<EraserDoc>,
}

/// The ERASER side of a [`TextItem`].
pub struct EraserDoc {
    /// Document id.
    pub docid: String,
    /// Tokens of the flattened document.
    pub num_tokens: usize,
    /// Evidence spans `[start_token, end_token)`.
    pub evidence: Vec<(usize, usize)>,
}

/// Sample id of a 20 Newsgroups document.
pub fn newsgroups_id(doc: &NewsgroupsDoc) -> String {
    format!("{:04}", doc.id)
}

/// One sample, resized for the model.
pub struct Item {
    /// Sample id (ImageNet: relative path; segmentation: zero-padded index).
    pub id: String,
    /// Ground-truth class (ImageNet val only).
    pub label: Option<usize>,
    /// Image resized to `S × S`.
    pub image: RgbImage,
    /// Mask resized to `S × S` with PIL NEAREST (segmentation only).
    pub mask: Option<Vec<u8>>,
}

impl OpenDataset {
    /// Opens ImageNet val with an optional subset file and limit.
    pub fn open_val(root: &Path, subset: Option<&Path>, limit: Option<usize>) -> Result<Self> {
        let mut data = ImageNetVal::open(root)?;
        if let Some(s) = subset {
            data = data.with_subset_file(s)?;
        }
        let len = limit.map_or(data.len(), |l| l.min(data.len()));
        Ok(OpenDataset::Val { data, len })
    }

    /// Opens a `gtsegs_ijcv.mat` with an optional limit.
    pub fn open_seg(path: &Path, limit: Option<usize>) -> Result<Self> {
        let data = ImageNetSeg::open(path)?;
        let len = limit.map_or(data.len(), |l| l.min(data.len()));
        Ok(OpenDataset::Seg { data, len })
    }

    /// Opens an ERASER folder: the annotations of `splits` concatenated in order, then limited.
    /// Annotation ids must be distinct, each annotation must be about one document, and its
    /// class must be one of `classes`.
    pub fn open_eraser(
        root: &Path,
        splits: &[Split],
        limit: Option<usize>,
        classes: Vec<String>,
    ) -> Result<Self> {
        let data = Eraser::open(root)?;
        let mut annotations = Vec::new();
        for &s in splits {
            annotations.extend(data.split(s)?);
        }
        if let Some(l) = limit {
            annotations.truncate(l);
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &annotations {
            if !seen.insert(a.annotation_id.as_str()) {
                bail!(
                    "{}: annotation id `{}` occurs twice in the selected splits",
                    root.display(),
                    a.annotation_id
                );
            }
            let docs = a.doc_ids();
            if docs.len() != 1 {
                bail!(
                    "{}: annotation `{}` is about {} documents; the text evaluators handle one document per annotation (Movie Reviews)",
                    root.display(),
                    a.annotation_id,
                    docs.len()
                );
            }
            if data.document(&docs[0]).is_none() {
                bail!(
                    "{}: annotation `{}` refers to the missing document `{}`",
                    root.display(),
                    a.annotation_id,
                    docs[0]
                );
            }
            if !classes.contains(&a.classification) {
                bail!(
                    "{}: annotation `{}` has class `{}`, not one of the dataset's classes {:?}",
                    root.display(),
                    a.annotation_id,
                    a.classification,
                    classes
                );
            }
        }
        Ok(OpenDataset::Eraser {
            data,
            annotations,
            classes,
        })
    }

    /// Opens a 20 Newsgroups export: the 3000-document sample (in sampling order) or every
    /// document, then limited.
    pub fn open_newsgroups(root: &Path, sample3000: bool, limit: Option<usize>) -> Result<Self> {
        let ng = Newsgroups::open(root)?;
        let mut docs: Vec<NewsgroupsDoc> = if sample3000 {
            ng.sampled().cloned().collect()
        } else {
            ng.documents.clone()
        };
        if let Some(l) = limit {
            docs.truncate(l);
        }
        let by_label = ng.label_names();
        let n = by_label.keys().next_back().map_or(0, |l| l + 1);
        let names = (0..n)
            .map(|l| by_label.get(&l).map_or("?".to_string(), |s| s.to_string()))
            .collect();
        Ok(OpenDataset::Newsgroups { docs, names })
    }

    /// Class names of a text dataset (ERASER: the configured names; 20 Newsgroups: the label
    /// names of the export by label).
    pub fn class_names(&self) -> Vec<String> {
        match self {
            OpenDataset::Eraser { classes, .. } => classes.clone(),
            OpenDataset::Newsgroups { names, .. } => names.clone(),
            _ => Vec::new(),
        }
    }

    /// Text sample `i` (text datasets only).
    pub fn load_text(&self, i: usize) -> Result<TextItem> {
        match self {
            OpenDataset::Eraser {
                data,
                annotations,
                classes,
            } => {
                let a = &annotations[i];
                let docid = a.doc_ids().remove(0);
                let doc = data
                    .document(&docid)
                    .with_context(|| format!("document `{docid}` is missing"))?;
                let label = classes
                    .iter()
                    .position(|c| c == &a.classification)
                    .with_context(|| format!("unknown class `{}`", a.classification))?;
                let evidence = a
                    .all_evidences()
                    .filter(|e| e.docid == docid)
                    .map(|e| (e.start_token.max(0) as usize, e.end_token.max(0) as usize))
                    .collect();
                Ok(TextItem {
                    id: a.annotation_id.clone(),
                    text: doc.tokens().join(" "),
                    label,
                    eraser: Some(EraserDoc {
                        docid,
                        num_tokens: doc.num_tokens(),
                        evidence,
                    }),
                })
            }
            OpenDataset::Newsgroups { docs, .. } => {
                let d = &docs[i];
                Ok(TextItem {
                    id: newsgroups_id(d),
                    text: d.text.clone(),
                    label: d.label,
                    eraser: None,
                })
            }
            _ => bail!("not a text dataset"),
        }
    }

    /// Sample ids in plan order (no decoding).
    pub fn ids(&self) -> Result<Vec<String>> {
        match self {
            OpenDataset::Val { data, len } => (0..*len)
                .map(|i| Ok(data.id_and_label(i)?.0.to_string()))
                .collect(),
            OpenDataset::Seg { len, .. } => Ok((0..*len)
                .map(faithbench_data::imagenet_seg::sample_id)
                .collect()),
            OpenDataset::Eraser { annotations, .. } => Ok(annotations
                .iter()
                .map(|a| a.annotation_id.clone())
                .collect()),
            OpenDataset::Newsgroups { docs, .. } => Ok(docs.iter().map(newsgroups_id).collect()),
        }
    }

    /// Decodes and resizes sample `i` for a model of input side `size`.
    pub fn load(&self, i: usize, size: usize, resize: ResizeMode) -> Result<Item> {
        match self {
            OpenDataset::Val { data, .. } => {
                let s = data.get(i)?;
                Ok(Item {
                    id: s.id,
                    label: Some(s.label),
                    image: prepare(&s.image, size, resize),
                    mask: None,
                })
            }
            OpenDataset::Seg { data, .. } => {
                let s = data
                    .get(i)
                    .with_context(|| format!("{}: image {i}", data.path().display()))?;
                let mask = resize_mask_nearest(&s.mask, s.width, s.height, size, size);
                Ok(Item {
                    id: s.id,
                    label: None,
                    image: prepare(&s.image, size, resize),
                    mask: Some(mask),
                })
            }
            _ => bail!("not an image dataset"),
        }
    }
}
