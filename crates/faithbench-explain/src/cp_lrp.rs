//! CP-LRP (Ali et al., ICML 2022, "conservative propagation") as lxt computes it efficiently:
//! Gradient × Input with the identity rule on LayerNorms and activations and the attention
//! probabilities held constant (q and k detached, relevance through v only); read out as
//! AttnLRP ([`crate::lrp_rules`]).

use crate::lrp_rules::{LrpGxi, LrpGxiConfig};
use crate::registry::{parse_as, typed, MethodInfo};

/// Parameters (attention default `constant`).
pub type CpLrpConfig = LrpGxiConfig<true>;

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "cp_lrp",
    summary: "CP-LRP: LRP as gradient × input at the input (identity rule on LayerNorm and activations, attention held constant)",
    reference: "Ali et al. 2022 (ICML), lxt 2.1's efficient implementation",
    path_params: &[],
    example: "{}",
    parse: parse_as::<CpLrpConfig>,
    build: |p| {
        Ok(Box::new(LrpGxi {
            method: METHOD.name,
            config: typed::<CpLrpConfig>(p)?,
        }))
    },
};
