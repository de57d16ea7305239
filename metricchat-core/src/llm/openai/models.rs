//! The OpenAI models this client knows: context windows, vision, list prices.

use crate::llm::Pricing;

/// Context window assumed for models not in the table (OpenAI-compatible servers vary).
pub(super) const UNKNOWN_CONTEXT_WINDOW: u32 = 32_768;

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub(super) struct KnownModel {
    pub(super) id: &'static str,
    pub(super) context_window: u32,
    pub(super) vision: bool,
    pub(super) pricing: Option<Pricing>,
}

const fn price(input_per_mtok: f64, output_per_mtok: f64) -> Option<Pricing> {
    Some(Pricing {
        input_per_mtok,
        output_per_mtok,
    })
}

/// Public list prices in USD per million tokens (standard tier); `None` where unsure.
const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        id: "gpt-4.1",
        context_window: 1_047_576,
        vision: true,
        pricing: price(2.0, 8.0),
    },
    KnownModel {
        id: "gpt-4.1-mini",
        context_window: 1_047_576,
        vision: true,
        pricing: price(0.4, 1.6),
    },
    KnownModel {
        id: "gpt-4.1-nano",
        context_window: 1_047_576,
        vision: true,
        pricing: price(0.1, 0.4),
    },
    KnownModel {
        id: "gpt-4o",
        context_window: 128_000,
        vision: true,
        pricing: price(2.5, 10.0),
    },
    KnownModel {
        id: "gpt-4o-mini",
        context_window: 128_000,
        vision: true,
        pricing: price(0.15, 0.6),
    },
    KnownModel {
        id: "gpt-4-turbo",
        context_window: 128_000,
        vision: true,
        pricing: price(10.0, 30.0),
    },
    KnownModel {
        id: "gpt-3.5-turbo",
        context_window: 16_385,
        vision: false,
        pricing: price(0.5, 1.5),
    },
    KnownModel {
        id: "o1",
        context_window: 200_000,
        vision: true,
        pricing: price(15.0, 60.0),
    },
    KnownModel {
        id: "o3",
        context_window: 200_000,
        vision: true,
        pricing: None,
    },
    KnownModel {
        id: "o3-mini",
        context_window: 200_000,
        vision: false,
        pricing: price(1.1, 4.4),
    },
    KnownModel {
        id: "o4-mini",
        context_window: 200_000,
        vision: true,
        pricing: price(1.1, 4.4),
    },
    KnownModel {
        id: "gpt-5",
        context_window: 400_000,
        vision: true,
        pricing: price(1.25, 10.0),
    },
    KnownModel {
        id: "gpt-5-mini",
        context_window: 400_000,
        vision: true,
        pricing: price(0.25, 2.0),
    },
    KnownModel {
        id: "gpt-5-nano",
        context_window: 400_000,
        vision: true,
        pricing: price(0.05, 0.4),
    },
];

/// The table entry for `model`: exact id, or a dated snapshot of it (`gpt-4o-2024-08-06`),
/// optionally behind a router prefix (`openai/gpt-4o`).
pub(super) fn known_model(model: &str) -> Option<&'static KnownModel> {
    let model = model.rsplit('/').next().unwrap_or(model);
    KNOWN_MODELS.iter().find(|k| {
        model == k.id
            || model
                .strip_prefix(k.id)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}
