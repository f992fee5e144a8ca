//! The tiny OpenAI-layout CLIP of `fixtures/clip/openai` with its two images and three texts.

use burn::prelude::*;
use faithbench_models::clip::{Clip, ClipImageClassifier, ClipTextView};
use faithbench_models::clip_tokenize::clip_batch_from_ids;
use faithbench_models::weights::WeightFile;
use faithbench_models::*;

use super::root;

/// The fixture CLIP, its two images and its three texts (re-padded by the crate's helper).
pub struct Fixture {
    pub model: Clip,
    pub images: Tensor<4>,
    pub texts: Vec<Vec<u32>>,
    pub dev: Device,
}

pub fn fixture() -> Fixture {
    let dev = test_autodiff_device();
    let dir = root().join("fixtures/clip/openai");
    let model = load_clip_dir(&dir, &dev).expect("load CLIP");
    let r = WeightFile::open(dir.join("reference.safetensors")).expect("reference");
    let t = r.get("image").expect("image");
    let s: [usize; 4] = t.shape.clone().try_into().expect("rank 4");
    let images = Tensor::from_data(TensorData::new(t.data.clone(), s), &dev);
    let t = r.get("text").expect("text");
    let n = t.shape[1];
    let texts = t
        .data
        .chunks(n)
        .map(|row| {
            let ids: Vec<u32> = row.iter().map(|&v| v as u32).collect();
            // up to the end-of-text token (the largest id, its first occurrence)
            let eot = (0..ids.len()).fold(0, |b, j| if ids[j] > ids[b] { j } else { b });
            ids[..=eot].to_vec()
        })
        .collect();
    Fixture {
        model,
        images,
        texts,
        dev,
    }
}

impl Fixture {
    pub fn text_batch(&self, rows: &[usize]) -> TextBatch {
        let ids: Vec<Vec<u32>> = rows.iter().map(|&r| self.texts[r].clone()).collect();
        clip_batch_from_ids(&ids, self.model.config.context_length, &self.dev).expect("batch")
    }

    pub fn image_view(&self) -> ClipImageClassifier {
        ClipImageClassifier::from_prompts(self.model.clone(), &self.text_batch(&[0, 1, 2]))
            .expect("image view")
    }

    pub fn text_view(&self) -> ClipTextView {
        ClipTextView::from_images(self.model.clone(), &self.images).expect("text view")
    }
}
