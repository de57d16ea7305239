//! The Gemini models this client knows: context windows and list prices.

use super::DEFAULT_CONTEXT_WINDOW;
use crate::llm::Pricing;

/// One row of the table.
pub(super) struct KnownModel {
    pub(super) id: &'static str,
    pub(super) context_window: u32,
    pub(super) pricing: Pricing,
}

const fn model(id: &'static str, input_per_mtok: f64, output_per_mtok: f64) -> KnownModel {
    KnownModel {
        id,
        context_window: DEFAULT_CONTEXT_WINDOW,
        pricing: Pricing {
            input_per_mtok,
            output_per_mtok,
        },
    }
}

/// Public list prices in USD per million tokens (standard tier, prompts up to 200k tokens).
const KNOWN_MODELS: &[KnownModel] = &[
    model("gemini-3-pro-preview", 2.0, 12.0),
    model("gemini-2.5-pro", 1.25, 10.0),
    model("gemini-2.5-flash-lite", 0.10, 0.40),
    model("gemini-2.5-flash", 0.30, 2.50),
    model("gemini-2.0-flash", 0.10, 0.40),
];

/// The table entry for `model`: the exact id, or a version of it (`gemini-2.5-flash-001`,
/// `-latest`, `-preview-09-2025`), optionally behind `models/` or a router prefix.
pub(super) fn known_model(model: &str) -> Option<&'static KnownModel> {
    let model = model.rsplit('/').next().unwrap_or(model);
    KNOWN_MODELS.iter().find(|k| {
        model == k.id
            || model
                .strip_prefix(k.id)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|r| {
                    r == "latest"
                        || r.starts_with("preview")
                        || r.starts_with(|c: char| c.is_ascii_digit())
                })
    })
}
