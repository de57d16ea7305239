//! The SQL-first protocol ([`DecisionProtocol::SqlFirst`](super::DecisionProtocol::SqlFirst)):
//! for small models that write good SQL from a short prompt but lose their way in a long
//! tool-choosing conversation.
//!
//! The steps are fixed, so the planner itself asks the model nothing: `create_data` writes the
//! SQL from the question with the context hub's schema (its own short prompt), the agent's
//! meaning checks read the result, a failed check or a failed query goes back to `create_data`
//! with what to fix (at most [`MAX_DATA_STEPS`] datasets), and `answer_question` writes the
//! answer from the data. Two model calls answer a plain question instead of four or more, and
//! every prompt is a fraction of the tool-choosing one.

use serde_json::Value;

use super::{PlanType, PlannedAction, PlannerDecision, PlannerInput};
use crate::llm::Role;

/// Datasets a run may try before it answers with what it has.
pub const MAX_DATA_STEPS: usize = 3;

/// Prefix of the observation messages the JSON-text step messages write.
const OBSERVATION: &str = "Observation from ";

/// One step of this run read back from the conversation.
#[derive(Debug)]
struct Step<'a> {
    tool: &'a str,
    observation: &'a str,
}

/// The question and this run's steps, oldest first: the observation messages after it.
fn steps(input: &PlannerInput) -> (&str, Vec<Step<'_>>) {
    let mut out = Vec::new();
    let mut question = "";
    for m in input.messages.iter().rev() {
        if m.role != Role::User {
            continue;
        }
        let Some(rest) = m.content.strip_prefix(OBSERVATION) else {
            // The loop's budget reminder comes after the steps; anything else is the question.
            if m.content.starts_with("Only ") && m.content.contains("step(s) left") {
                continue;
            }
            question = &m.content;
            break;
        };
        let (tool, observation) = rest.split_once(":\n").unwrap_or((rest, ""));
        out.push(Step { tool, observation });
    }
    out.reverse();
    (question, out)
}

/// The JSON part of an observation and the check notes the agent appended to it.
fn split_observation(text: &str) -> (Option<Value>, Option<&str>) {
    let (json, note) = match text.find("\nCheck: ") {
        Some(at) => (&text[..at], Some(text[at + 1..].trim())),
        None => (text, None),
    };
    let note = note.or_else(|| {
        ["Check before answering:", "Check failed:"]
            .iter()
            .any(|p| text.starts_with(p))
            .then_some(text.trim())
    });
    (serde_json::from_str(json.trim()).ok(), note)
}

fn action(tool: &str, arguments: Value, reasoning: String) -> PlannerDecision {
    PlannerDecision {
        plan_type: PlanType::Action,
        reasoning_message: Some(reasoning),
        action: Some(PlannedAction {
            tool: tool.to_string(),
            arguments,
            call_id: None,
        }),
        ..Default::default()
    }
}

/// The next decision of a SQL-first run, read from its steps so far.
pub(crate) fn decide(input: &PlannerInput) -> PlannerDecision {
    let has = |name: &str| input.tools.iter().any(|t| t.name == name);
    let (question, steps) = steps(input);
    let title = crate::text::one_line(question, 80);
    let data_steps: Vec<&Step<'_>> = steps.iter().filter(|s| s.tool == "create_data").collect();
    let Some(last) = steps.last() else {
        return action(
            "create_data",
            serde_json::json!({
                "title": title,
                "description": format!("{question}\n{}", crate::prompts::SQL_FIRST_RULES),
            }),
            "Write one SQL query that answers the question.".into(),
        );
    };
    let (json, note) = split_observation(last.observation);
    let failed = json
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let problem = note.map(str::to_string).or(failed);
    if let Some(problem) = problem
        && data_steps.len() < MAX_DATA_STEPS
        && has("create_data")
    {
        // The SQL that was wrong: the last dataset's, when one was made.
        let previous = data_steps
            .iter()
            .rev()
            .find_map(|s| {
                split_observation(s.observation)
                    .0?
                    .get("sql")?
                    .as_str()
                    .map(str::to_string)
            })
            .map(|sql| format!("\nThe previous query was:\n{sql}\n"))
            .unwrap_or_default();
        let problem = crate::text::one_line(&problem, 1_200);
        // The attempt number keeps a retry after the same failure from being the same call
        // (the loop refuses an exact repeat of a failed call, which would waste a step).
        let attempt = data_steps.len() + 1;
        let how = if previous.is_empty() {
            "Write the query"
        } else {
            "Write the corrected query"
        };
        return action(
            "create_data",
            serde_json::json!({
                "title": title,
                "description": format!(
                    "{question}{previous}\nAttempt {attempt} of {MAX_DATA_STEPS}; it needs \
                     fixing: {problem}\n{how}, only the SQL, in a ```sql block.\n{}",
                    crate::prompts::SQL_FIRST_RULES
                ),
            }),
            format!("Fix the query: {problem}"),
        );
    }
    if has("answer_question") && last.tool != "answer_question" {
        return action(
            "answer_question",
            serde_json::json!({}),
            "Answer from the data.".into(),
        );
    }
    // No answer tool (or it already ran and a check still objects): answer with what there is.
    let answer = json
        .as_ref()
        .and_then(|v| v.get("answer").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "I could not compute a reliable answer from the data.".to_string());
    PlannerDecision {
        analysis_complete: true,
        plan_type: PlanType::Action,
        final_answer: Some(answer),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::llm::{ChatMessage, ToolSpec};

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: serde_json::json!({"type": "object"}),
        }
    }

    fn input(messages: Vec<ChatMessage>) -> PlannerInput {
        PlannerInput {
            iteration: 0,
            system_prompt: String::new(),
            messages,
            tools: vec![tool("create_data"), tool("answer_question")],
        }
    }

    fn obs(tool: &str, text: &str) -> [ChatMessage; 2] {
        [
            ChatMessage::assistant("{}"),
            ChatMessage::user(format!("{OBSERVATION}{tool}:\n{text}")),
        ]
    }

    const Q: &str = "Which carrier had the most flights?";

    #[test]
    fn data_first_then_the_answer() {
        let d = decide(&input(vec![ChatMessage::user(Q)]));
        assert_eq!(d.action.unwrap().tool, "create_data");
        let mut m = vec![ChatMessage::user(Q)];
        m.extend(obs("create_data", r#"{"sql": "SELECT 1", "rows": [[1]]}"#));
        let d = decide(&input(m));
        assert_eq!(d.action.unwrap().tool, "answer_question");
    }

    #[test]
    fn a_check_or_an_error_goes_back_to_create_data_with_the_sql_then_stops() {
        let mut m = vec![
            ChatMessage::user("an earlier question"),
            ChatMessage::user(Q),
        ];
        m.extend(obs(
            "create_data",
            "{\"sql\": \"SELECT carrier FROM f ORDER BY n ASC\"}\nCheck: the question asks for the highest value.",
        ));
        let d = decide(&input(m.clone()));
        let a = d.action.unwrap();
        assert_eq!(a.tool, "create_data");
        let need = a.arguments["description"].as_str().unwrap();
        assert!(
            need.contains("ORDER BY n ASC") && need.contains("highest value"),
            "{need}"
        );
        m.extend(obs("create_data", r#"{"error": "no such column: n"}"#));
        let d = decide(&input(m.clone()));
        assert!(
            d.action.unwrap().arguments["description"]
                .as_str()
                .unwrap()
                .contains("no such column")
        );
        m.extend(obs("create_data", r#"{"error": "still wrong"}"#));
        // Three datasets tried: answer with what there is.
        let d = decide(&input(m));
        assert_eq!(d.action.unwrap().tool, "answer_question");
    }

    #[test]
    fn the_same_failure_twice_is_never_the_same_call() {
        let mut m = vec![ChatMessage::user(Q)];
        m.extend(obs(
            "create_data",
            r#"{"error": "the model returned no SQL"}"#,
        ));
        let first = decide(&input(m.clone())).action.unwrap();
        m.extend(obs(
            "create_data",
            r#"{"error": "the model returned no SQL"}"#,
        ));
        let second = decide(&input(m)).action.unwrap();
        assert_eq!(first.tool, "create_data");
        assert_eq!(second.tool, "create_data");
        assert_ne!(first.arguments, second.arguments);
        let need = second.arguments["description"].as_str().unwrap();
        assert!(
            need.contains("Attempt 3 of 3") && need.contains("only the SQL"),
            "{need}"
        );
    }

    #[test]
    fn a_check_after_the_answer_reopens_the_data_and_a_second_answer_ends() {
        let mut m = vec![ChatMessage::user(Q)];
        m.extend(obs("create_data", r#"{"sql": "SELECT 1"}"#));
        m.extend(obs(
            "answer_question",
            "Check before answering: the top row is NULL.",
        ));
        let d = decide(&input(m.clone()));
        assert_eq!(d.action.unwrap().tool, "create_data");
        m.extend(obs("create_data", r#"{"sql": "SELECT 2"}"#));
        m.extend(obs(
            "answer_question",
            r#"{"answer": "UA, 58,665 flights."}"#,
        ));
        m.push(ChatMessage::user("Only 1 step(s) left: finish now."));
        let d = decide(&input(m));
        assert!(d.analysis_complete);
        assert_eq!(d.final_answer.as_deref(), Some("UA, 58,665 flights."));
    }
}
