//! The conversation's window: a run's messages fitted into the model's context, observations
//! cut to a head with a marker. The loop owns this budget; the hub's static sections take at
//! most half the window (see
//! [`ContextConfig::effective`](crate::context::ContextConfig::effective)).

use crate::context::tokens::TokenCounter;
use crate::llm::{ChatMessage, Role};
use crate::text::one_line;

/// Cuts a long observation to `max_chars`, leaving a marker that says how much was cut.
pub(crate) fn truncate_observation(text: &str, max_chars: usize) -> String {
    let n = text.chars().count();
    if n <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars).collect();
    format!("{kept}… [truncated {} of {n} characters]", n - max_chars)
}

/// Fits a conversation into `budget` tokens: the first message (the system prompt) and the
/// last `keep_last` messages are kept; older tool observations are cut to a short head with a
/// marker, and if that is not enough the oldest middle messages are replaced by one summary
/// message that lists what they were. Returns how many messages were changed or dropped.
pub(crate) fn fit_messages(
    messages: &mut Vec<ChatMessage>,
    budget: usize,
    keep_last: usize,
    counter: &dyn TokenCounter,
) -> usize {
    let cost = |m: &ChatMessage| {
        counter.count(&m.content)
            + m.tool_calls
                .iter()
                .map(|c| counter.count(&c.arguments.to_string()) + 8)
                .sum::<usize>()
            + 4
    };
    let total = |ms: &[ChatMessage]| ms.iter().map(cost).sum::<usize>();
    if total(messages) <= budget || messages.len() <= keep_last + 1 {
        return 0;
    }
    let protected_from = messages.len().saturating_sub(keep_last);
    let mut changed = 0;
    // 1. Cut old observations.
    for m in messages.iter_mut().take(protected_from).skip(1) {
        if m.role == Role::Tool && m.content.chars().count() > 300 {
            m.content = truncate_observation(&m.content, 300);
            changed += 1;
        }
    }
    if total(messages) <= budget {
        return changed;
    }
    // 2. Replace the oldest middle messages with one summary until it fits. A tool call and
    //    its results go together, so a cut ends before a user or assistant message.
    const SUMMARY: &str = "[Earlier conversation, summarised to fit the context: ";
    loop {
        if total(messages) <= budget {
            break;
        }
        let has_summary = messages
            .get(1)
            .is_some_and(|m| m.role == Role::User && m.content.starts_with(SUMMARY));
        let start = if has_summary { 2 } else { 1 };
        let protected_from = messages.len().saturating_sub(keep_last);
        if start >= protected_from {
            break;
        }
        let end = (start + 1..=protected_from)
            .find(|&i| i == protected_from || messages[i].role != Role::Tool)
            .unwrap_or(protected_from);
        let removed: Vec<ChatMessage> = messages.drain(start..end).collect();
        changed += removed.len();
        let items: Vec<String> = removed
            .iter()
            .filter(|m| m.role != Role::Tool)
            .map(|m| {
                let who = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::System => "system",
                    Role::Tool => "tool",
                };
                format!("{who}: {}", one_line(&m.content, 120))
            })
            .collect();
        let previous = if has_summary {
            let prev = messages.remove(1);
            prev.content
                .trim_start_matches(SUMMARY)
                .trim_end_matches(']')
                .to_string()
        } else {
            String::new()
        };
        let mut body = previous;
        for it in items {
            if !body.is_empty() {
                body.push_str(" | ");
            }
            body.push_str(&it);
        }
        let body = truncate_observation(&body, 1_500);
        messages.insert(1, ChatMessage::user(format!("{SUMMARY}{body}]")));
    }
    changed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::context::tokens::BpeCounter;

    #[test]
    fn truncation_marks_what_was_cut() {
        let t = truncate_observation(&"x".repeat(100), 10);
        assert!(t.starts_with("xxxxxxxxxx…"));
        assert!(t.contains("truncated 90 of 100"));
        assert_eq!(truncate_observation("short", 10), "short");
    }

    #[test]
    fn a_long_conversation_is_fitted_into_the_window() {
        let counter = BpeCounter::cl100k();
        let mut messages = vec![ChatMessage::user("first question about revenue")];
        for i in 0..30 {
            messages.push(ChatMessage::assistant(format!(
                "step {i}: looking at the data"
            )));
            messages.push(ChatMessage::user(format!(
                "observation {i}: {}",
                "row,".repeat(400)
            )));
        }
        messages.push(ChatMessage::user("the latest question"));
        let total = |m: &[ChatMessage]| {
            m.iter()
                .map(|m| counter.count(&m.content) + 4)
                .sum::<usize>()
        };
        assert!(total(&messages) > 3_000);
        let changed = fit_messages(&mut messages, 3_000, 4, &counter);
        assert!(changed > 0);
        assert!(total(&messages) <= 3_000, "{}", total(&messages));
        assert_eq!(messages[0].content, "first question about revenue");
        assert_eq!(messages.last().unwrap().content, "the latest question");
        assert!(
            messages[1]
                .content
                .starts_with("[Earlier conversation, summarised")
        );
    }
}
