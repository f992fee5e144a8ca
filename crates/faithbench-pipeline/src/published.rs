//! Published numbers as data: the tables of a published-numbers file
//! (`configs/paper/published.toml`) and the cells a config wires to them.
//!
//! A table holds, per method column, the published value of each metric, the scale from the
//! printed unit to faithbench's (`faithbench = published × scale`) and the evaluator settings
//! the numbers were produced under (`requires`). A config names a table on an evaluator
//! (`published = "ID"`) and a column on an explainer (`published = "COLUMN"`); every
//! (evaluator, explainer, metric) cell that the table has a value for becomes a
//! [`PublishedCell`], which the summary shows beside faithbench's value and
//! `faithbench check --against-published` holds it to.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Errors of a published-numbers file or of a config's wiring to it (the message names the
/// file, table, evaluator or explainer).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PublishedError(pub String);

/// Results of this module.
pub type Result<T> = std::result::Result<T, PublishedError>;

/// A published-numbers file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedFile {
    /// Sources by key (citation and notes).
    #[serde(default)]
    pub sources: BTreeMap<String, Source>,
    /// Tables by id.
    #[serde(default)]
    pub tables: BTreeMap<String, PublishedTable>,
}

/// Where published numbers come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The publication.
    pub citation: String,
    /// How the numbers were obtained (second-hand, from a reproduction report, …).
    #[serde(default)]
    pub note: Option<String>,
}

/// One published table (or row group) for one evaluator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedTable {
    /// A key of [`PublishedFile::sources`].
    pub source: String,
    /// Where in the source the numbers are printed.
    #[serde(rename = "where")]
    pub location: String,
    /// faithbench's value = published × scale.
    pub scale: f64,
    /// Evaluator settings the numbers were produced under, by dotted path into the evaluator's
    /// resolved settings (`"config.mode" = "positive"`).
    #[serde(default)]
    pub requires: BTreeMap<String, toml::Value>,
    /// The rest of the protocol, in words.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Column → metric → published value (as printed).
    pub values: BTreeMap<String, BTreeMap<String, f64>>,
}

/// One wired cell: the published value of `metric` for (`evaluator`, `explainer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedCell {
    /// Evaluator name (as in the summary).
    pub evaluator: String,
    /// Explainer label (as in the summary).
    pub explainer: String,
    /// faithbench metric name.
    pub metric: String,
    /// The published value in faithbench's unit (printed value × scale).
    pub value: f64,
    /// The value as printed.
    pub printed: f64,
    /// `table id: column` it comes from.
    pub from: String,
}

impl PublishedFile {
    /// Reads and checks a published-numbers file: every table names a known source, has a
    /// positive finite scale and finite values.
    pub fn read(path: &Path) -> Result<PublishedFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PublishedError(format!(
                "{}: cannot read the published numbers: {e}",
                path.display()
            ))
        })?;
        let f: PublishedFile = toml::from_str(&text).map_err(|e| {
            PublishedError(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        for (id, t) in &f.tables {
            let bad = |m: String| PublishedError(format!("{}: table `{id}`: {m}", path.display()));
            if !f.sources.contains_key(&t.source) {
                return Err(bad(format!(
                    "unknown source `{}` (known: {})",
                    t.source,
                    f.sources.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            if !(t.scale.is_finite() && t.scale > 0.0) {
                return Err(bad(format!("scale {} must be a positive number", t.scale)));
            }
            for (col, metrics) in &t.values {
                if let Some((m, v)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(bad(format!("{col}.{m} = {v} is not a finite number")));
                }
            }
        }
        Ok(f)
    }

    /// The cells of one evaluator × explainer pair: the evaluator's `tables` are searched in
    /// order and the first that has the explainer's `column` gives its cells (none of them
    /// having it gives no cells). Every table must exist and its `requires` must hold for the
    /// evaluator's resolved `settings`; a column that no table of the file has is an error (a
    /// typo would otherwise silently drop the cells).
    pub fn cells(
        &self,
        path: &Path,
        tables: &[String],
        column: &str,
        evaluator: &str,
        settings: &Value,
        explainer: &str,
    ) -> Result<Vec<PublishedCell>> {
        let mut found = None;
        for table in tables {
            let t = self.tables.get(table).ok_or_else(|| {
                PublishedError(format!(
                    "evaluator `{evaluator}`: {} has no published table `{table}` (known: {})",
                    path.display(),
                    self.tables.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            check_requires(t, table, evaluator, settings)?;
            if found.is_none() {
                found = t.values.get(column).map(|m| (table, t, m));
            }
        }
        if !self.tables.values().any(|t| t.values.contains_key(column)) {
            let mut known: Vec<&String> =
                self.tables.values().flat_map(|t| t.values.keys()).collect();
            known.sort();
            known.dedup();
            return Err(PublishedError(format!(
                "explainer `{explainer}`: no published table of {} has a column `{column}` (known: {})",
                path.display(),
                known.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let Some((table, t, metrics)) = found else {
            return Ok(Vec::new());
        };
        Ok(metrics
            .iter()
            .map(|(m, &v)| PublishedCell {
                evaluator: evaluator.to_string(),
                explainer: explainer.to_string(),
                metric: m.clone(),
                value: v * t.scale,
                printed: v,
                from: format!("{table}: {column}"),
            })
            .collect())
    }
}

/// Checks a table's `requires` against an evaluator's resolved settings.
fn check_requires(
    t: &PublishedTable,
    table: &str,
    evaluator: &str,
    settings: &Value,
) -> Result<()> {
    for (key, want) in &t.requires {
        let want = toml_to_json(want);
        let have = key.split('.').try_fold(settings, |v, part| v.get(part));
        match have {
            Some(have) if *have == want => {}
            Some(have) => {
                return Err(PublishedError(format!(
                    "evaluator `{evaluator}`: published table `{table}` was measured with {key} = {want}, this evaluator uses {key} = {have}; the numbers are not comparable"
                )))
            }
            None => {
                return Err(PublishedError(format!(
                    "evaluator `{evaluator}`: published table `{table}` requires {key} = {want}, which this evaluator kind has no setting for"
                )))
            }
        }
    }
    Ok(())
}

fn toml_to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The value in `cells` of one summary row, if wired.
pub fn lookup<'a>(
    cells: &'a [PublishedCell],
    evaluator: &str,
    explainer: &str,
    metric: &str,
) -> Option<&'a PublishedCell> {
    cells
        .iter()
        .find(|c| c.evaluator == evaluator && c.explainer == explainer && c.metric == metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[sources.p]
citation = "A paper"

[tables."p/pos"]
source = "p"
where = "table 1"
scale = 0.01
requires = { "config.mode" = "positive", auc = "bi2023" }
values.rollout = { auc = 20.5 }
values.ours_t = { auc = 15.0, clean_accuracy = 80.0 }

[tables."q/pos"]
source = "p"
where = "table 2"
scale = 1.0
values.rollout = { auc = 21.0 }
values.ours_h = { auc = 16.0 }
"#;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("published.toml");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn cells_scale_printed_values_and_check_requirements() {
        let (_d, p) = file(FILE);
        let f = PublishedFile::read(&p).unwrap();
        let s =
            serde_json::json!({"config": {"mode": "positive", "levels": [0.5]}, "auc": "bi2023"});
        let t = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = f
            .cells(&p, &t(&["p/pos"]), "ours_t", "pert", &s, "Ours-T")
            .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].metric, "auc");
        assert!((c[0].value - 0.15).abs() < 1e-15);
        assert_eq!(c[0].printed, 15.0);
        assert_eq!(c[0].from, "p/pos: ours_t");
        assert!((c[1].value - 0.8).abs() < 1e-15);
        assert_eq!(
            lookup(&c, "pert", "Ours-T", "clean_accuracy").map(|x| x.printed),
            Some(80.0)
        );
        assert!(lookup(&c, "pert", "Ours-T", "miou").is_none());
        // tables are searched in order: the first with the column wins
        let both = t(&["p/pos", "q/pos"]);
        let c = f
            .cells(&p, &both, "rollout", "pert", &s, "Rollout")
            .unwrap();
        assert_eq!(
            (c.len(), c[0].printed, c[0].from.as_str()),
            (1, 20.5, "p/pos: rollout")
        );
        let c = f.cells(&p, &both, "ours_h", "pert", &s, "Ours-H").unwrap();
        assert_eq!((c[0].value, c[0].from.as_str()), (16.0, "q/pos: ours_h"));
        // a column of the file that these tables lack: no cells
        assert!(f
            .cells(&p, &t(&["q/pos"]), "ours_t", "pert", &s, "Ours-T")
            .unwrap()
            .is_empty());

        let msg = |r: Result<Vec<PublishedCell>>| r.unwrap_err().to_string();
        let neg = serde_json::json!({"config": {"mode": "negative"}, "auc": "bi2023"});
        let m = msg(f.cells(&p, &t(&["p/pos"]), "ours_t", "pert", &neg, "Ours-T"));
        assert!(
            m.contains("config.mode = \"positive\"") && m.contains("not comparable"),
            "{m}"
        );
        let m = msg(f.cells(
            &p,
            &t(&["p/pos"]),
            "ours_t",
            "seg",
            &serde_json::json!({}),
            "Ours-T",
        ));
        assert!(m.contains("no setting for"), "{m}");
        let m = msg(f.cells(&p, &t(&["p/neg"]), "ours_t", "pert", &s, "Ours-T"));
        assert!(
            m.contains("no published table `p/neg`") && m.contains("p/pos"),
            "{m}"
        );
        let m = msg(f.cells(&p, &t(&["p/pos"]), "ours_x", "pert", &s, "Ours-X"));
        assert!(
            m.contains("a column `ours_x`") && m.contains("ours_h, ours_t, rollout"),
            "{m}"
        );
    }

    #[test]
    fn bad_files_are_errors_naming_file_and_table() {
        for (text, want) in [
            (
                FILE.replace("source = \"p\"", "source = \"q\""),
                "unknown source `q`",
            ),
            (
                FILE.replace("scale = 0.01", "scale = 0.0"),
                "scale 0 must be",
            ),
            (FILE.replace("where = ", "wher = "), "unknown field `wher`"),
            (FILE.replace("auc = 20.5", "auc = nan"), "rollout.auc = NaN"),
        ] {
            let (_d, p) = file(&text);
            let m = PublishedFile::read(&p).unwrap_err().to_string();
            assert!(
                m.contains("published.toml") && m.contains(want),
                "{want}: {m}"
            );
        }
    }

    /// The shipped file parses, and every value is a plausible percentage.
    #[test]
    fn the_shipped_published_numbers_parse() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/paper/published.toml");
        let f = PublishedFile::read(&p).unwrap();
        assert_eq!(f.tables.len(), 17);
        let t = &f.tables["bi2023/vit_b16/perturbation_positive_predicted"];
        assert_eq!(t.values["ours_t"]["auc"], 15.89);
        assert_eq!(t.values.len(), 8);
        for (id, t) in &f.tables {
            for (col, ms) in &t.values {
                for (m, v) in ms {
                    assert!((0.0..=100.0).contains(v), "{id} {col} {m} {v}");
                }
            }
        }
    }
}
