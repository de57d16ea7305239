//! Token counting for prompt budgets.
//!
//! OpenAI models are counted exactly with their own BPE (tiktoken's `o200k_base` or
//! `cl100k_base`, through `tiktoken-rs`). No other provider publishes an offline tokenizer, so
//! for Anthropic, Gemini, Ollama and other models the count is **cl100k_base plus 15%**: BPE
//! vocabularies of that era tokenise English and SQL within a few percent of each other, and
//! the margin keeps the estimate on the safe side (a budget is never exceeded because of it).

use std::fmt;
use std::sync::Arc;

use tiktoken_rs::CoreBPE;

/// Counts the tokens of a text for one model family.
pub trait TokenCounter: Send + Sync + fmt::Debug {
    /// Tokens of `text`.
    fn count(&self, text: &str) -> usize;
    /// What is counted with (`o200k_base`, `cl100k_base+15%`, `chars/4`).
    fn name(&self) -> &str;
}

/// Approximate token count (4 characters a token); [`CharEstimate`] counts with it.
pub(crate) fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// A shared counter.
pub type TokenCounterRef = Arc<dyn TokenCounter>;

/// The character-based estimate (one token per 4 characters, rounded up) — no tables to load;
/// for tests and when nothing is known about the model.
#[derive(Debug, Clone, Copy, Default)]
pub struct CharEstimate;

impl TokenCounter for CharEstimate {
    fn count(&self, text: &str) -> usize {
        estimate_tokens(text)
    }

    fn name(&self) -> &str {
        "chars/4"
    }
}

/// A tiktoken BPE, optionally with a safety margin (in percent) for other model families.
///
/// Counts of longer texts are remembered (by a hash of the text and its length, up to
/// 4,096 of them): a run counts the same system prompt, tool specifications and
/// earlier messages at every iteration, and BPE encoding was the largest part of the loop's
/// own time (issue 18's bench).
pub struct BpeCounter {
    bpe: &'static CoreBPE,
    name: String,
    margin_percent: usize,
    memo: std::sync::Mutex<std::collections::HashMap<(u64, usize), usize>>,
}

/// Texts shorter than this are encoded every time (cheaper than remembering them).
const MEMO_MIN_BYTES: usize = 128;
/// Remembered counts per counter; the memo starts over when it is full.
const MEMO_ENTRIES: usize = 4096;

impl fmt::Debug for BpeCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BpeCounter")
            .field("name", &self.name)
            .finish()
    }
}

impl BpeCounter {
    /// OpenAI's `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series).
    pub fn o200k() -> Self {
        Self {
            bpe: tiktoken_rs::o200k_base_singleton(),
            name: "o200k_base".into(),
            margin_percent: 0,
            memo: std::sync::Mutex::default(),
        }
    }

    /// OpenAI's `cl100k_base` (GPT-4, GPT-3.5).
    pub fn cl100k() -> Self {
        Self {
            bpe: tiktoken_rs::cl100k_base_singleton(),
            name: "cl100k_base".into(),
            margin_percent: 0,
            memo: std::sync::Mutex::default(),
        }
    }

    /// `cl100k_base` plus `margin_percent`: the documented approximation for model families
    /// without a public offline tokenizer.
    pub fn approximate(margin_percent: usize) -> Self {
        Self {
            bpe: tiktoken_rs::cl100k_base_singleton(),
            name: format!("cl100k_base+{margin_percent}%"),
            margin_percent,
            memo: std::sync::Mutex::default(),
        }
    }
}

impl TokenCounter for BpeCounter {
    fn count(&self, text: &str) -> usize {
        let encode = || {
            let n = self.bpe.encode_ordinary(text).len();
            n + (n * self.margin_percent).div_ceil(100)
        };
        if text.len() < MEMO_MIN_BYTES {
            return encode();
        }
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut h);
            (h.finish(), text.len())
        };
        if let Some(n) = self.memo.lock().ok().and_then(|m| m.get(&key).copied()) {
            return n;
        }
        let n = encode();
        if let Ok(mut m) = self.memo.lock() {
            if m.len() >= MEMO_ENTRIES {
                m.clear();
            }
            m.insert(key, n);
        }
        n
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The counter for a provider's model: exact BPE for OpenAI models (also behind Azure), the
/// documented approximation for everyone else.
pub fn counter_for(provider: &str, model: &str) -> TokenCounterRef {
    let openai = matches!(provider, "openai" | "azure" | "azure_openai");
    if openai || model.starts_with("gpt-") {
        match tiktoken_rs::tokenizer::get_tokenizer(model) {
            Some(tiktoken_rs::tokenizer::Tokenizer::Cl100kBase) => {
                return Arc::new(BpeCounter::cl100k());
            }
            Some(_) => return Arc::new(BpeCounter::o200k()),
            // Unknown OpenAI model ids are new models: o200k is their vocabulary.
            None if openai => return Arc::new(BpeCounter::o200k()),
            None => {}
        }
    }
    Arc::new(BpeCounter::approximate(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_models_count_exactly() {
        let long = "SELECT carrier, AVG(dep_delay) FROM flights GROUP BY carrier; ".repeat(8);
        let c = counter_for("openai", "gpt-4o-mini");
        // A remembered count is the count.
        assert_eq!(c.count(&long), c.count(&long));
        assert_eq!(
            c.count(&long),
            tiktoken_rs::o200k_base_singleton()
                .encode_ordinary(&long)
                .len()
        );
        assert_eq!(c.name(), "o200k_base");
        // "hello world" is two tokens in both OpenAI vocabularies.
        assert_eq!(c.count("hello world"), 2);
        assert_eq!(counter_for("openai", "gpt-4").name(), "cl100k_base");
        assert_eq!(counter_for("openai", "gpt-9-preview").name(), "o200k_base");
    }

    #[test]
    fn other_models_get_the_margin() {
        let c = counter_for("anthropic", "claude-sonnet-4-5");
        assert_eq!(c.name(), "cl100k_base+15%");
        let text = "SELECT carrier, avg(dep_delay) FROM flights GROUP BY carrier";
        let exact = BpeCounter::cl100k().count(text);
        assert_eq!(c.count(text), exact + (exact * 15).div_ceil(100));
    }
}
