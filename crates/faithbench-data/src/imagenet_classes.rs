//! Class names for zero-shot prompts (placeholder until the ImageNet class table lands).

/// How a class's synonyms become the `{}` of a prompt template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassNameRule {
    /// The first synonym (`tench`).
    #[default]
    FirstSynonym,
    /// Python's `str()` of the synonym tuple (`('tench', 'Tinca tinca')`).
    ReferenceTuple,
}

/// The prompt of one class.
pub fn prompt(template: &str, synonyms: &[String], rule: ClassNameRule) -> String {
    let name = match rule {
        ClassNameRule::FirstSynonym => synonyms.first().cloned().unwrap_or_default(),
        ClassNameRule::ReferenceTuple => {
            let items: Vec<String> = synonyms.iter().map(|s| format!("'{s}'")).collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
    };
    template.replacen("{}", &name, 1)
}
