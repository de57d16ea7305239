//! [`LlmPlanner`]: asks a model for the next step, with native tool calling or JSON-in-text.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use super::json_stream::{parse_complete, parse_partial};
use super::{
    DecisionDelta, DecisionMetrics, DecisionStream, PlanType, PlannedAction, Planner,
    PlannerDecision, PlannerInput,
};
use crate::error::{Error, Result};
use crate::llm::{
    ChatEvent, ChatMessage, ChatRequest, LlmClient, ResponseFormat, ToolCall, ToolChoice, ToolSpec,
    Usage,
};
use crate::prompts;

/// How the model states its decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionProtocol {
    /// Native tool calling when the model supports it, JSON-in-text otherwise.
    #[default]
    Auto,
    /// The provider's tool-calling API.
    NativeTools,
    /// One JSON decision object in the text (for models without tool calling).
    JsonText,
    /// Fixed steps, no model call in the planner: `create_data` writes the SQL from the
    /// question, the meaning checks send a wrong result back to it, `answer_question` answers
    /// (for small models: see [`super::sql_first`]).
    SqlFirst,
}

/// The default [`Planner`]: one model call per decision, malformed output re-asked (bounded).
#[derive(Debug, Clone)]
pub struct LlmPlanner {
    llm: Arc<dyn LlmClient>,
    protocol: DecisionProtocol,
    max_repairs: u32,
    temperature: Option<f32>,
}

impl LlmPlanner {
    /// A planner over `llm`, protocol chosen from the model's capabilities.
    pub fn new(llm: Arc<dyn LlmClient>) -> Self {
        Self {
            llm,
            protocol: DecisionProtocol::Auto,
            max_repairs: 2,
            temperature: Some(0.0),
        }
    }

    /// Overrides the decision protocol.
    pub fn with_protocol(mut self, protocol: DecisionProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// How many times malformed output is re-asked before the decision fails.
    pub fn with_max_repairs(mut self, n: u32) -> Self {
        self.max_repairs = n;
        self
    }

    /// The protocol in effect for this model.
    pub fn protocol(&self) -> DecisionProtocol {
        match self.protocol {
            DecisionProtocol::Auto if self.llm.model_info().supports_tools => {
                DecisionProtocol::NativeTools
            }
            DecisionProtocol::Auto => DecisionProtocol::JsonText,
            p => p,
        }
    }
}

/// Renders tools for a JSON-in-text prompt from their JSON Schemas.
pub fn render_tools(tools: &[ToolSpec]) -> String {
    let mut out = String::new();
    for t in tools {
        out.push_str(&format!("- {}: {}\n", t.name, t.description));
        let required: Vec<&str> = t
            .parameters
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = t.parameters.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let ty = p
                    .get("type")
                    .map(|t| match t {
                        Value::Array(a) => a
                            .iter()
                            .filter_map(Value::as_str)
                            .filter(|s| *s != "null")
                            .collect::<Vec<_>>()
                            .join("|"),
                        other => other.as_str().unwrap_or("any").to_string(),
                    })
                    .unwrap_or_else(|| "object".into());
                let desc = p
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let req = if required.contains(&name.as_str()) {
                    "required"
                } else {
                    "optional"
                };
                out.push_str(&format!("    {name} ({ty}, {req}): {desc}\n"));
            }
        }
    }
    out
}

fn str_field(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k))
        .and_then(|x| match x {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .filter(|s| !s.is_empty())
}

/// Interprets a decision object leniently (small models vary the key names).
pub fn decision_from_json(v: &Value) -> std::result::Result<PlannerDecision, String> {
    if !v.is_object() {
        return Err("the decision must be a JSON object".into());
    }
    let reasoning = str_field(
        v,
        &["reasoning", "reasoning_message", "thought", "thinking"],
    );
    let assistant = str_field(v, &["assistant_message", "message"]);
    let final_answer = str_field(v, &["final_answer", "answer"]);
    let complete = v
        .get("analysis_complete")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let action_obj = v.get("action").filter(|a| a.is_object());
    let (tool, arguments) = match action_obj {
        Some(a) => (
            str_field(a, &["tool", "name", "tool_name"]),
            ["arguments", "args", "parameters", "input"]
                .iter()
                .find_map(|k| a.get(*k))
                .cloned(),
        ),
        None => (
            v.get("action")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| str_field(v, &["tool", "tool_name"])),
            ["arguments", "args", "action_input", "parameters"]
                .iter()
                .find_map(|k| v.get(*k))
                .cloned(),
        ),
    };
    // A string holding JSON arguments is common.
    let arguments = match arguments {
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Some(a) => a,
        None => Value::Object(Default::default()),
    };
    if complete || (final_answer.is_some() && tool.is_none()) {
        let Some(answer) = final_answer.or_else(|| assistant.clone()) else {
            return Err("`analysis_complete` is true but `final_answer` is missing".into());
        };
        return Ok(PlannerDecision {
            analysis_complete: true,
            plan_type: PlanType::Action,
            reasoning_message: reasoning,
            assistant_message: assistant,
            final_answer: Some(answer),
            ..Default::default()
        });
    }
    let Some(tool) = tool else {
        return Err(
            "the decision names no action: give `action` with `tool` and `arguments`, or set \
             `analysis_complete` with `final_answer`"
                .into(),
        );
    };
    let plan_type = if matches!(
        tool.as_str(),
        "describe_tables" | "inspect_data" | "search_knowledge"
    ) {
        PlanType::Research
    } else {
        PlanType::Action
    };
    Ok(PlannerDecision {
        analysis_complete: false,
        plan_type,
        reasoning_message: reasoning,
        assistant_message: assistant,
        action: Some(PlannedAction {
            tool,
            arguments,
            call_id: None,
        }),
        ..Default::default()
    })
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Sends deltas; `false` when the consumer went away.
fn send(tx: &mpsc::Sender<Result<DecisionDelta>>, d: Result<DecisionDelta>) -> bool {
    tx.try_send(d).is_ok() || !tx.is_closed()
}

struct Attempt {
    text: String,
    calls: Vec<ToolCall>,
    usage: Usage,
}

impl LlmPlanner {
    async fn stream_attempt(
        &self,
        req: ChatRequest,
        tx: &mpsc::Sender<Result<DecisionDelta>>,
        started: Instant,
        first_token: &mut Option<u64>,
        json: bool,
    ) -> Result<Attempt> {
        let mut stream = self.llm.stream(req.clone()).await?;
        let mut acc = crate::llm::ChatAccumulator::default();
        let mut last_partial: Option<(Option<String>, Option<String>, Option<String>)> = None;
        while let Some(ev) = stream.next().await {
            let ev = ev?;
            if first_token.is_none()
                && matches!(
                    ev,
                    ChatEvent::TextDelta { .. } | ChatEvent::ToolCallDelta { .. }
                )
            {
                *first_token = Some(ms_since(started));
            }
            let is_text = matches!(ev, ChatEvent::TextDelta { .. });
            acc.push(&ev);
            if !is_text {
                continue;
            }
            let partial = if json {
                parse_partial(acc.text()).map(|v| {
                    (
                        str_field(
                            &v,
                            &["reasoning", "reasoning_message", "thought", "thinking"],
                        ),
                        str_field(&v, &["assistant_message", "message"]),
                        str_field(&v, &["final_answer", "answer"]),
                    )
                })
            } else {
                Some((Some(acc.text().trim().to_string()), None, None))
            };
            if let Some(p) = partial
                && (p.0.is_some() || p.1.is_some() || p.2.is_some())
                && last_partial.as_ref() != Some(&p)
            {
                last_partial = Some(p.clone());
                if !send(
                    tx,
                    Ok(DecisionDelta::Partial {
                        reasoning_message: p.0,
                        assistant_message: p.1,
                        final_answer: p.2,
                    }),
                ) {
                    return Err(Error::Cancelled);
                }
            }
        }
        let resp = acc.finish();
        let usage = resp.usage_or_estimate(&req);
        Ok(Attempt {
            text: resp.text,
            calls: resp.tool_calls,
            usage,
        })
    }

    async fn run(&self, input: PlannerInput, tx: mpsc::Sender<Result<DecisionDelta>>) {
        let started = Instant::now();
        let protocol = self.protocol();
        if protocol == DecisionProtocol::SqlFirst {
            let mut d = super::sql_first::decide(&input);
            d.metrics.total_ms = ms_since(started);
            let _ = tx.send(Ok(DecisionDelta::Final(Box::new(d)))).await;
            return;
        }
        let native = protocol == DecisionProtocol::NativeTools;
        let mut system = input.system_prompt.clone();
        if !native {
            system.push_str("\n\nTools:\n");
            system.push_str(&render_tools(&input.tools));
            system.push('\n');
            system.push_str(prompts::JSON_FORMAT);
        }
        let mut messages = vec![ChatMessage::system(system)];
        messages.extend(input.messages.iter().cloned());
        let mut usage = Usage::default();
        let mut first_token = None;
        let mut repair_note: Option<String> = None;
        for attempt in 0..=self.max_repairs {
            let req = ChatRequest {
                messages: messages.clone(),
                tools: if native {
                    input.tools.clone()
                } else {
                    Vec::new()
                },
                tool_choice: ToolChoice::Auto,
                response_format: if !native && self.llm.model_info().supports_json_mode {
                    ResponseFormat::JsonObject
                } else {
                    ResponseFormat::Text
                },
                temperature: self.temperature,
                max_tokens: Some(1_500),
                purpose: Some("planner".into()),
            };
            let out = match self
                .stream_attempt(req, &tx, started, &mut first_token, !native)
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            usage.add(&out.usage);
            let parsed = if native {
                native_decision(&out.text, &out.calls)
            } else {
                parse_complete(&out.text).and_then(|v| decision_from_json(&v))
            };
            match parsed {
                Ok(mut d) => {
                    d.metrics = DecisionMetrics {
                        first_token_ms: first_token,
                        total_ms: ms_since(started),
                        usage,
                    };
                    d.error = repair_note.take();
                    d.raw_assistant = Some(ChatMessage {
                        tool_calls: out.calls.clone(),
                        ..ChatMessage::assistant(out.text.clone())
                    });
                    if let Some(a) = d.action.as_mut()
                        && a.call_id.is_none()
                    {
                        a.call_id = out.calls.first().map(|c| c.id.clone());
                    }
                    let _ = tx.send(Ok(DecisionDelta::Final(Box::new(d)))).await;
                    return;
                }
                Err(problem) => {
                    tracing::debug!(attempt, %problem, "planner output unusable; asking again");
                    if attempt == self.max_repairs {
                        let raw: String = out.text.chars().take(2_000).collect();
                        let _ = tx
                            .send(Err(Error::ModelOutput {
                                message: format!(
                                    "{problem} (after {} attempts)",
                                    self.max_repairs + 1
                                ),
                                raw,
                            }))
                            .await;
                        return;
                    }
                    let _ = tx
                        .send(Ok(DecisionDelta::Retry {
                            attempt: attempt + 1,
                            error: problem.clone(),
                        }))
                        .await;
                    repair_note = Some(format!("repaired after: {problem}"));
                    messages.push(ChatMessage::assistant(out.text.clone()));
                    messages.push(ChatMessage::user(if native {
                        prompts::repair_native(&problem)
                    } else {
                        prompts::repair_json_text(
                            &problem,
                            &input
                                .tools
                                .iter()
                                .map(|t| t.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        )
                    }));
                }
            }
        }
    }
}

/// A decision from a native tool-calling turn: the first tool call is the action; text with no
/// call is the final answer.
fn native_decision(text: &str, calls: &[ToolCall]) -> std::result::Result<PlannerDecision, String> {
    let text = text.trim();
    match calls.first() {
        Some(call) => {
            let arguments = if call.arguments.trim().is_empty() {
                Value::Object(Default::default())
            } else {
                serde_json::from_str(&call.arguments).map_err(|e| {
                    format!(
                        "the arguments of your `{}` call are not valid JSON ({e})",
                        call.name
                    )
                })?
            };
            let mut d = decision_from_json(&serde_json::json!({
                "reasoning": if text.is_empty() { Value::Null } else { Value::String(text.to_string()) },
                "action": {"tool": call.name, "arguments": arguments},
            }))?;
            if let Some(a) = d.action.as_mut() {
                a.call_id = Some(call.id.clone());
            }
            Ok(d)
        }
        None if !text.is_empty() => Ok(PlannerDecision {
            analysis_complete: true,
            plan_type: PlanType::Action,
            final_answer: Some(text.to_string()),
            ..Default::default()
        }),
        None => Err("the reply was empty".into()),
    }
}

/// Aborts the planner task when the decision stream is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl Planner for LlmPlanner {
    async fn decide(&self, input: PlannerInput) -> Result<DecisionStream> {
        let (tx, mut rx) = mpsc::channel(256);
        let me = self.clone();
        let handle = tokio::spawn(async move { me.run(input, tx).await });
        let guard = AbortOnDrop(handle.abort_handle());
        Ok(futures::stream::poll_fn(move |cx| {
            let _keep = &guard;
            rx.poll_recv(cx)
        })
        .boxed())
    }

    fn step_messages(&self, decision: &PlannerDecision, observation: &str) -> Vec<ChatMessage> {
        match (self.protocol(), &decision.action) {
            (DecisionProtocol::NativeTools, Some(action)) => {
                let call_id = action
                    .call_id
                    .clone()
                    .unwrap_or_else(|| format!("call_{}", action.tool));
                let assistant = ChatMessage {
                    tool_calls: vec![ToolCall {
                        id: call_id.clone(),
                        name: action.tool.clone(),
                        arguments: action.arguments.to_string(),
                    }],
                    ..ChatMessage::assistant(decision.reasoning_message.clone().unwrap_or_default())
                };
                vec![assistant, ChatMessage::tool(call_id, observation)]
            }
            _ => super::json_text_step_messages(decision, observation),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lenient_decisions() {
        let d = decision_from_json(&serde_json::json!({
            "thought": "look", "tool": "describe_tables", "args": "{\"tables\": [\"flights\"]}"
        }))
        .unwrap_or_default();
        let a = d.action.unwrap_or_else(|| PlannedAction {
            tool: String::new(),
            arguments: Value::Null,
            call_id: None,
        });
        assert_eq!(a.tool, "describe_tables");
        assert_eq!(a.arguments["tables"][0], "flights");
        assert_eq!(d.plan_type, PlanType::Research);
        let d = decision_from_json(&serde_json::json!({"answer": "42"})).unwrap_or_default();
        assert!(d.analysis_complete);
        assert_eq!(d.final_answer.as_deref(), Some("42"));
        assert!(decision_from_json(&serde_json::json!({"reasoning": "hmm"})).is_err());
        assert!(decision_from_json(&serde_json::json!({"analysis_complete": true})).is_err());
    }

    #[test]
    fn native_text_without_calls_is_the_answer() {
        let d = native_decision("The answer is 42.", &[]).unwrap_or_default();
        assert!(d.analysis_complete);
        assert!(native_decision("", &[]).is_err());
        let bad = ToolCall {
            id: "c".into(),
            name: "create_data".into(),
            arguments: "{not json".into(),
        };
        assert!(
            native_decision("", &[bad])
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
