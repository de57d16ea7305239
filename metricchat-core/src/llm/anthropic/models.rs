//! Anthropic list prices.

use crate::llm::Pricing;

/// Public list prices in USD per million tokens (base input, output) by model family; `None`
/// for models not listed. Matches exact ids, dated snapshots and `-latest` aliases.
pub(super) fn known_pricing(model: &str) -> Option<Pricing> {
    const TABLE: &[(&str, f64, f64)] = &[
        ("claude-sonnet-4-5", 3.0, 15.0),
        ("claude-sonnet-4", 3.0, 15.0),
        ("claude-3-7-sonnet", 3.0, 15.0),
        ("claude-3-5-sonnet", 3.0, 15.0),
        ("claude-haiku-4-5", 1.0, 5.0),
        ("claude-3-5-haiku", 0.8, 4.0),
        ("claude-3-haiku", 0.25, 1.25),
        ("claude-opus-4-1", 15.0, 75.0),
        ("claude-opus-4", 15.0, 75.0),
    ];
    let model = model.rsplit('/').next().unwrap_or(model);
    TABLE
        .iter()
        .find(|(id, _, _)| {
            model == *id
                || model
                    .strip_prefix(id)
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|r| {
                        r == "latest" || (r.len() == 8 && r.chars().all(|c| c.is_ascii_digit()))
                    })
        })
        .map(|&(_, input_per_mtok, output_per_mtok)| Pricing {
            input_per_mtok,
            output_per_mtok,
        })
}
