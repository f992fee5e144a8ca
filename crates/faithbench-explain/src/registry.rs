//! The explainer registry: every method by name, with its description, how its parameters are
//! parsed (typed, unknown keys rejected) and how it is built. `faithbench list`, config
//! validation, plans and the docs' method table read from [`METHODS`]; adding a method is its
//! file (with a `pub const METHOD: MethodInfo`) plus one line in [`METHODS`].
//!
//! A run config's `[[explainers]]` table (minus `label` and `model`) is a [`MethodConfig`]:
//! `method = "..."` and the method's parameters.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use faithbench_models::Family;

use crate::{defaults, ExplainError, Explainer, Result};

/// One registered method.
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    /// The config name (`method = "..."`).
    pub name: &'static str,
    /// One line on what it computes.
    pub summary: &'static str,
    /// The paper or code it follows.
    pub reference: &'static str,
    /// Parameters that hold paths (expanded like every config path: `${VAR}`, `${CONFIG_DIR}`).
    pub path_params: &'static [&'static str],
    /// The smallest valid parameter object, as JSON (`{}` unless a parameter is required), for
    /// listings.
    pub example: &'static str,
    /// Parses the parameters (without `method`) into their canonical form: every parameter
    /// present, serde defaults applied, unset model-dependent ones `null`. Unknown keys and
    /// wrong types are errors naming the key.
    pub parse: fn(&Map<String, Value>) -> Result<Map<String, Value>>,
    /// Builds the explainer from canonical parameters.
    pub build: fn(&Map<String, Value>) -> Result<Box<dyn Explainer>>,
}

/// Every method, in listing order.
pub const METHODS: &[MethodInfo] = &[
    crate::beyond::OURS_H,
    crate::beyond::OURS_T,
    crate::raw_attention::METHOD,
    crate::rollout::METHOD,
    crate::attn_gradcam::METHOD,
    crate::generic_attention::METHOD,
    crate::partial_lrp::METHOD,
    crate::transformer_attribution::METHOD,
    crate::attnlrp::METHOD,
    crate::cp_lrp::METHOD,
    crate::input_x_gradient::METHOD,
    crate::integrated_gradients::METHOD,
    crate::random::METHOD,
    crate::precomputed::METHOD,
];

/// The method of this name.
pub fn method(name: &str) -> Option<&'static MethodInfo> {
    METHODS.iter().find(|m| m.name == name)
}

/// The registered names, comma-separated.
pub fn method_names() -> String {
    METHODS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// [`MethodInfo::parse`] for a typed parameter struct.
pub fn parse_as<T: DeserializeOwned + Serialize>(
    params: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    let typed: T = typed(params)?;
    match serde_json::to_value(typed) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ExplainError::Internal(format!(
            "parameters serialised to {other}, not an object"
        ))),
        Err(e) => Err(ExplainError::Internal(e.to_string())),
    }
}

/// The typed parameter struct of canonical parameters.
pub fn typed<T: DeserializeOwned>(params: &Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(params.clone()))
        .map_err(|e| ExplainError::Config(e.to_string()))
}

/// A method with its parameters, as a run config writes it (`method = "..."` plus the method's
/// keys). Always valid: constructing one parses the parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodConfig {
    method: &'static str,
    params: Map<String, Value>,
}

impl MethodConfig {
    /// A method and its parameters (validated; defaults filled).
    pub fn new(method: &str, params: &Map<String, Value>) -> Result<Self> {
        let info = self::method(method).ok_or_else(|| {
            ExplainError::Config(format!(
                "unknown method `{method}` (known: {})",
                method_names()
            ))
        })?;
        let params = (info.parse)(params)
            .map_err(|e| ExplainError::Config(format!("{method}: {}", strip_prefix(e))))?;
        Ok(MethodConfig {
            method: info.name,
            params,
        })
    }

    /// From a typed parameter struct, e.g. `MethodConfig::typed("ours_h", &BeyondConfig {..})`.
    pub fn from_typed<T: Serialize>(method: &str, params: &T) -> Result<Self> {
        match serde_json::to_value(params) {
            Ok(Value::Object(m)) => Self::new(method, &m),
            Ok(_) | Err(_) => Err(ExplainError::Config(format!(
                "{method}: parameters must serialise to an object"
            ))),
        }
    }

    /// From the JSON object form `{"method": "...", ...}`.
    pub fn from_value(v: Value) -> Result<Self> {
        let Value::Object(mut m) = v else {
            return Err(ExplainError::Config(
                "an explainer must be a table with a `method` key".into(),
            ));
        };
        let name = match m.remove("method") {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(ExplainError::Config(format!(
                    "`method` must be a string, got {other}"
                )))
            }
            None => {
                return Err(ExplainError::Config(format!(
                    "missing `method` (one of {})",
                    method_names()
                )))
            }
        };
        Self::new(&name, &m)
    }

    /// The method name (e.g. `ours_h`).
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The registry entry.
    pub fn info(&self) -> &'static MethodInfo {
        // `new` only accepts registered names.
        self::method(self.method).unwrap_or(&METHODS[0])
    }

    /// The canonical parameters (without `method`).
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// A parameter.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.params.get(key)
    }

    /// Mutable access to the string parameters that hold paths (for config expansion).
    pub fn path_params_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut String)> {
        let keys = self.info().path_params;
        self.params.iter_mut().filter_map(move |(k, v)| {
            let key = keys.iter().find(|p| **p == k.as_str())?;
            match v {
                Value::String(s) => Some((*key, s)),
                _ => None,
            }
        })
    }

    /// The same config with every model-dependent default made explicit for a model of
    /// `family` with `num_layers` layers ([`defaults::FAMILY_DEFAULTS`]). An explainer built from
    /// the result computes exactly what one built from `self` computes on that model; plans and
    /// cache keys use it so that they name the values actually used.
    pub fn resolved(&self, family: Family, num_layers: usize) -> MethodConfig {
        let mut c = self.clone();
        defaults::fill(self.method, &mut c.params, family, num_layers);
        c
    }

    /// Builds the explainer.
    pub fn build(&self) -> Result<Box<dyn Explainer>> {
        (self.info().build)(&self.params)
    }

    /// The JSON object form `{"method": "...", ...}`.
    pub fn to_value(&self) -> Value {
        let mut m = self.params.clone();
        m.insert("method".into(), Value::String(self.method.to_string()));
        Value::Object(m)
    }
}

fn strip_prefix(e: ExplainError) -> String {
    match e {
        ExplainError::Config(s) => s,
        other => other.to_string(),
    }
}

impl Serialize for MethodConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for MethodConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        MethodConfig::from_value(v).map_err(|e| serde::de::Error::custom(strip_prefix(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> MethodConfig {
        serde_json::from_str(s).expect("config")
    }

    #[test]
    fn names_are_unique_and_examples_parse() {
        let names: std::collections::BTreeSet<_> = METHODS.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), METHODS.len());
        for m in METHODS {
            let ex: Value = serde_json::from_str(m.example).expect("example JSON");
            let c = MethodConfig::new(m.name, ex.as_object().expect("object")).expect(m.name);
            c.build().unwrap_or_else(|e| {
                // precomputed needs its files; everything else builds from the example
                assert_eq!(m.name, "precomputed", "{e}");
                Box::new(crate::random::RandomMap(Default::default()))
            });
        }
    }

    #[test]
    fn unknown_method_and_key_are_errors_naming_them() {
        let e = serde_json::from_str::<MethodConfig>(r#"{"method":"nope"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown method `nope`") && e.contains("ours_h"),
            "{e}"
        );
        let e = serde_json::from_str::<MethodConfig>(r#"{"method":"rollout","start_layr":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`start_layr`"), "{e}");
    }

    #[test]
    fn serialises_as_the_config_table_with_defaults_filled() {
        let c = parse(r#"{"method": "ours_h", "start_layer": 2}"#);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"method": "ours_h", "start_layer": 2, "steps": 20,
                "objective": "logit", "max_internal_batch": 16, "perception_only": false})
        );
        let back: MethodConfig = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn resolved_fills_model_dependent_defaults() {
        let c = parse(r#"{"method": "ours_t"}"#).resolved(Family::Vit, 12);
        assert_eq!(c.get("start_layer"), Some(&Value::from(6)));
        let c = parse(r#"{"method": "ours_h"}"#).resolved(Family::Vit, 4);
        assert_eq!(c.get("start_layer"), Some(&Value::from(3)));
        let c = parse(r#"{"method": "ours_t"}"#).resolved(Family::Vit, 4);
        assert_eq!(c.get("start_layer"), Some(&Value::from(3)));
        let c = parse(r#"{"method": "transformer_attribution"}"#).resolved(Family::Bert, 12);
        assert_eq!(c.get("start_layer"), Some(&Value::from(11)));
        assert_eq!(c.get("row_normalise"), Some(&Value::from(true)));
        assert_eq!(c.get("rules"), Some(&Value::from("layers_lrp")));
        // explicit values are kept
        let c = parse(r#"{"method": "rollout", "start_layer": 0}"#).resolved(Family::Vit, 12);
        assert_eq!(c.get("start_layer"), Some(&Value::from(0)));
        assert_eq!(c.method(), "rollout");
    }
}
