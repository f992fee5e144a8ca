//! `kind = "text_insertion_deletion"`: insertion and deletion curves on texts. The word pieces
//! of a document (`[CLS]`/`[SEP]` never change) ranked by relevance are deleted — `[PAD]` with
//! attention mask 0, as the text perturbation test removes them — or are the only ones inserted
//! into the document with every other piece removed; the probability of the explained class
//! per level. Keys, settings and metrics are those of [`super::insertion_deletion`], with the
//! one baseline `"pad"`.

use faithbench_data::Modality;

use crate::evaluator::{from_settings, Evaluator, EvaluatorInfo};
use crate::evaluators::insertion_deletion::{resolve_for, InsertionDeletion, Settings};
use crate::insertion_deletion::CurveMode;

/// The registry entry.
pub const EVALUATOR: EvaluatorInfo = EvaluatorInfo {
    kind: "text_insertion_deletion",
    summary: "insertion / deletion curves on texts: probability of the explained class as the most relevant word pieces are deleted ([PAD], mask 0) or are the only ones inserted",
    protocol: "protocols §4.9",
    modality: Modality::Text,
    needs: &[],
    metrics: "auc, prob@<p>",
    example: r#"{"mode": "deletion"}"#,
    tolerances: &[("auc", 0.005), ("prob@*", 0.005)],
    resolve: |t, c| resolve_for(t, c, true),
    default_name: |s| match serde_json::from_value::<Settings>(s.clone()) {
        Ok(s) => match s.mode {
            CurveMode::Deletion => "text_deletion".into(),
            CurveMode::Insertion => "text_insertion".into(),
        },
        Err(_) => "text_insertion_deletion".into(),
    },
    build: |r| {
        Ok(Box::new(InsertionDeletion(from_settings(
            "text_insertion_deletion",
            &r.settings,
        )?)) as Box<dyn Evaluator>)
    },
};
