//! Tool parameter schemas reduced to the OpenAPI subset Gemini's `Schema` accepts.

use serde_json::{Map, Value, json};

/// The declaration's `parameters`, or none for a tool without parameters (an object schema with
/// no properties).
pub(super) fn parameters_schema(schema: &Value) -> Option<Value> {
    let reduced = gemini_schema(schema);
    let no_properties = reduced
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let is_object = reduced.get("type").and_then(Value::as_str) == Some("object");
    if (is_object && no_properties) || reduced.as_object().is_none_or(Map::is_empty) {
        None
    } else {
        Some(reduced)
    }
}

/// Reduces a JSON Schema to the subset of OpenAPI 3.0 that Gemini's `Schema` accepts: local
/// `$ref`s are inlined (from `$defs` / `definitions`), `type: [T, "null"]` and
/// `anyOf: [S, {"type": "null"}]` become `nullable`, `oneOf` becomes `anyOf`, a single-entry
/// `allOf` is merged, `const` becomes a one-value `enum`, and keys the `Schema` message does not
/// have (`$schema`, `additionalProperties`, `$defs`, `examples`, …) or formats it does not take
/// are dropped.
pub fn gemini_schema(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .cloned()
        .unwrap_or(Value::Null);
    reduce(schema, &defs, 0)
}

/// The fields of Gemini's `Schema` message (v1beta).
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// How deep `$ref`s are followed (recursive schemas stop here).
const MAX_SCHEMA_DEPTH: usize = 24;

fn reduce(schema: &Value, defs: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return json!({});
    };
    if depth > MAX_SCHEMA_DEPTH {
        return json!({"type": "object"});
    }
    // Inline a local reference, keeping sibling keywords (a description next to the `$ref`).
    if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
        let name = target
            .strip_prefix("#/$defs/")
            .or_else(|| target.strip_prefix("#/definitions/"));
        let mut merged = name
            .and_then(|n| defs.get(n))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in obj {
            if k != "$ref" {
                merged.insert(k.clone(), v.clone());
            }
        }
        return reduce(&Value::Object(merged), defs, depth + 1);
    }
    // A single-entry allOf is the entry plus the siblings.
    if let Some([only]) = obj
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let mut merged = only.as_object().cloned().unwrap_or_default();
        for (k, v) in obj {
            if k != "allOf" {
                merged.insert(k.clone(), v.clone());
            }
        }
        return reduce(&Value::Object(merged), defs, depth + 1);
    }
    let mut out = Map::new();
    let mut nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    // `type: ["string", "null"]`.
    match obj.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), json!(t));
        }
        Some(Value::Array(types)) => {
            let mut non_null = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null");
            if types.iter().any(|t| t == "null") {
                nullable = true;
            }
            if let Some(t) = non_null.next() {
                out.insert("type".into(), json!(t));
            }
        }
        _ => {}
    }
    // `anyOf`/`oneOf` with a null branch: the other branch(es), nullable.
    if let Some(branches) = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array)
    {
        let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        if branches.iter().any(is_null) {
            nullable = true;
        }
        let rest: Vec<Value> = branches
            .iter()
            .filter(|b| !is_null(b))
            .map(|b| reduce(b, defs, depth + 1))
            .collect();
        match rest.as_slice() {
            [] => {}
            [only] => {
                if let Some(o) = only.as_object() {
                    for (k, v) in o {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(rest));
            }
        }
    }
    for (k, v) in obj {
        if !SCHEMA_KEYS.contains(&k.as_str()) || matches!(k.as_str(), "type" | "anyOf") {
            continue;
        }
        match k.as_str() {
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), reduce(s, defs, depth + 1)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" => {
                // Tuple-style `items: [...]` is not expressible: the first entry stands for all.
                let item = match v {
                    Value::Array(a) => a.first().cloned().unwrap_or_else(|| json!({})),
                    other => other.clone(),
                };
                out.insert(k.clone(), reduce(&item, defs, depth + 1));
            }
            "enum" => {
                let values = v.as_array().cloned().unwrap_or_default();
                if values.iter().any(Value::is_null) {
                    nullable = true;
                }
                let strings: Vec<Value> = values.into_iter().filter(|x| !x.is_null()).collect();
                // Gemini's enum is a list of strings.
                if !strings.is_empty() && strings.iter().all(Value::is_string) {
                    out.insert(k.clone(), Value::Array(strings));
                }
            }
            "format" => {
                let ty = out.get("type").and_then(Value::as_str).unwrap_or("");
                let ok = matches!(
                    (ty, v.as_str().unwrap_or("")),
                    ("string", "date-time" | "enum")
                        | ("integer", "int32" | "int64")
                        | ("number", "float" | "double")
                );
                if ok {
                    out.insert(k.clone(), v.clone());
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(c) = obj.get("const").filter(|c| c.is_string()) {
        out.insert("enum".into(), json!([c]));
        out.entry("type").or_insert_with(|| json!("string"));
    }
    // `required` may only name properties that exist.
    if let Some(required) = out.get("required").and_then(Value::as_array) {
        let props = out.get("properties").and_then(Value::as_object);
        let kept: Vec<Value> = required
            .iter()
            .filter(|r| {
                r.as_str()
                    .is_some_and(|r| props.is_some_and(|p| p.contains_key(r)))
            })
            .cloned()
            .collect();
        if kept.is_empty() {
            out.remove("required");
        } else {
            out.insert("required".into(), Value::Array(kept));
        }
    }
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    Value::Object(out)
}
