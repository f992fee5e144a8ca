//! AttnLRP (Achtibat et al., ICML 2024) as lxt computes it efficiently: Gradient × Input with
//! the identity rule on LayerNorms and activations and the uniform rule in attention (q, k ¼,
//! v ½ of their gradient); the relevance of the normalised pixels summed per patch (images) or
//! of the word embeddings summed over the hidden size (text). Rules and read-out:
//! [`crate::lrp_rules`].

use crate::lrp_rules::{LrpGxi, LrpGxiConfig};
use crate::registry::{parse_as, typed, MethodInfo};

/// Parameters (attention default `uniform`).
pub type AttnLrpConfig = LrpGxiConfig<false>;

/// Registry entry.
pub const METHOD: MethodInfo = MethodInfo {
    name: "attnlrp",
    summary: "AttnLRP: LRP as gradient × input at the input (identity rule on LayerNorm and activations, uniform rule in attention)",
    reference: "Achtibat et al. 2024 (ICML), lxt 2.1's efficient implementation",
    path_params: &[],
    example: "{}",
    parse: parse_as::<AttnLrpConfig>,
    build: |p| {
        Ok(Box::new(LrpGxi {
            method: METHOD.name,
            config: typed::<AttnLrpConfig>(p)?,
        }))
    },
};
