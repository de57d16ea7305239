//! `answer_question`: the final prose answer, grounded in this run's results, streamed.

use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolPolicy};
use crate::events::EventKind;
use crate::llm::{ChatEvent, ChatMessage, ChatRequest};

/// Writes the final answer from the results gathered so far and ends the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerQuestion;

/// Arguments of [`AnswerQuestion`].
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AnswerQuestionArgs {
    /// What the answer should focus on, if anything beyond the question.
    #[serde(default)]
    pub focus: Option<String>,
}

/// Output of [`AnswerQuestion`].
#[derive(Debug, Serialize)]
pub struct AnswerQuestionOutput {
    /// The answer.
    pub answer: String,
}

impl Tool for AnswerQuestion {
    const NAME: &'static str = "answer_question";
    type Args = AnswerQuestionArgs;
    type Output = AnswerQuestionOutput;

    fn description(&self) -> String {
        crate::prompts::ANSWER_QUESTION.into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::default()
            .with_attempts(1)
            .with_idle_timeout(std::time::Duration::from_secs(120))
            .with_hard_timeout(std::time::Duration::from_secs(600))
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: AnswerQuestionArgs,
    ) -> Result<AnswerQuestionOutput, ToolError> {
        let digest = ctx.results_digest(20);
        let exposure = ctx.exposure();
        let system = if exposure.is_full() {
            crate::prompts::ANSWER_WRITER.to_string()
        } else {
            crate::prompts::answer_writer_template(exposure)
        };
        let mut user = crate::prompts::answer_user(ctx.question(), &digest);
        if let Some(f) = args.focus.filter(|f| !f.trim().is_empty()) {
            user.push_str(&format!("\nFocus: {f}"));
        }
        let req = ChatRequest {
            temperature: Some(0.2),
            ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(user)])
        }
        .with_purpose("answer");
        let started = std::time::Instant::now();
        // Waiting for the model (a long prompt on a CPU can take minutes before the first
        // token) is working, not idling: beat while waiting; the model client's own
        // first-byte and idle timeouts bound the call.
        let mut beat = tokio::time::interval(std::time::Duration::from_secs(5));
        let open = ctx.llm().stream(req.clone());
        tokio::pin!(open);
        let mut stream = loop {
            tokio::select! {
                s = &mut open => break s?,
                () = ctx.cancellation().cancelled() => return Err(crate::error::Error::Cancelled.into()),
                _ = beat.tick() => ctx.heartbeat(),
            }
        };
        let mut reported = false;
        let block_id = Uuid::now_v7();
        let mut text = String::new();
        loop {
            let next = tokio::select! {
                n = stream.next() => n,
                () = ctx.cancellation().cancelled() => return Err(crate::error::Error::Cancelled.into()),
                _ = beat.tick() => { ctx.heartbeat(); continue; }
            };
            let Some(ev) = next else { break };
            match ev? {
                ChatEvent::TextDelta { text: t } => {
                    text.push_str(&t);
                    ctx.heartbeat();
                    // The host sees the values: placeholders are filled as they complete.
                    ctx.emit(EventKind::BlockUpsert {
                        block_id,
                        text: if exposure.is_full() {
                            text.clone()
                        } else {
                            crate::run::exposure::fill(&text, &ctx.datasets()).0
                        },
                        done: false,
                    });
                }
                ChatEvent::Usage { usage } => {
                    reported = usage.total() > 0;
                    ctx.record_usage(&usage);
                }
                _ => {}
            }
        }
        ctx.record_llm_time(started.elapsed());
        if !reported {
            ctx.record_usage(&crate::llm::estimate_usage(&req, &text, &[]));
        }
        let answer = text.trim().to_string();
        if answer.is_empty() {
            return Err(ToolError::retryable("the model wrote an empty answer"));
        }
        // The model's own text (a template unless the exposure is full) is what it may read
        // back; the host gets it filled.
        let filled = ctx.render_answer(&answer);
        ctx.emit(EventKind::BlockUpsert {
            block_id,
            text: filled.clone(),
            done: true,
        });
        ctx.finish_with_answer_streamed(&filled);
        Ok(AnswerQuestionOutput { answer })
    }
}
