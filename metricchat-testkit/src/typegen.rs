//! TypeScript and Python types rendered from JSON Schemas (the ones `schemars` derives from the
//! Rust types), so the bindings' declarations of the JSON that crosses into JavaScript and Python
//! are generated, never written by hand.
//!
//! The renderer covers the shapes serde gives those types: objects (with optional keys), string
//! enums and constants, internally tagged enums (`oneOf` of objects, also flattened into a
//! struct), nullable values, arrays, maps, `$ref`s and free JSON. Anything else is an error, so a
//! new shape fails the generation test instead of turning into a wrong type.
//!
//! ```
//! use metricchat_testkit::typegen::TypeSet;
//! let defs = serde_json::json!({
//!     "Usage": {
//!         "type": "object",
//!         "description": "Token counts.",
//!         "properties": {"input_tokens": {"type": "integer"}, "model": {"type": ["string", "null"]}},
//!         "required": ["input_tokens"]
//!     }
//! });
//! let types = TypeSet::new(defs.as_object().unwrap().clone(), &[]).unwrap();
//! assert!(types.typescript().contains("input_tokens: number"));
//! assert!(types.python().contains("class Usage(_UsageOptional):"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// A set of named JSON Schemas, ready to render.
#[derive(Debug, Clone)]
pub struct TypeSet {
    defs: BTreeMap<String, Value>,
    renames: BTreeMap<String, String>,
}

/// A schema shape the renderer does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypegenError(pub String);

impl std::fmt::Display for TypegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "type generation: {}", self.0)
    }
}

impl std::error::Error for TypegenError {}

type R<T> = Result<T, TypegenError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(TypegenError(msg.into()))
}

impl TypeSet {
    /// Takes the definitions (`$defs` of a schemars generator, name → schema) and renames
    /// (Rust name → the name the bindings export, e.g. `Event` → `AgentEvent`). Every shape is
    /// checked here, so rendering cannot fail later.
    pub fn new(defs: Map<String, Value>, renames: &[(&str, &str)]) -> Result<Self, TypegenError> {
        let set = Self {
            defs: defs.into_iter().collect(),
            renames: renames
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        };
        for (name, schema) in &set.defs {
            set.ts_def(name, schema)
                .and_then(|_| set.py_def(name, schema))
                .map_err(|e| TypegenError(format!("{name}: {}", e.0)))?;
        }
        Ok(set)
    }

    fn name(&self, rust: &str) -> String {
        self.renames
            .get(rust)
            .cloned()
            .unwrap_or_else(|| rust.to_owned())
    }

    fn ref_name(&self, reference: &str) -> R<String> {
        match reference.rsplit_once('/') {
            Some((_, name)) if self.defs.contains_key(name) => Ok(self.name(name)),
            _ => err(format!("unknown $ref {reference}")),
        }
    }

    /// Definitions in output order: by exported name.
    fn sorted(&self) -> Vec<(String, &Value)> {
        let mut v: Vec<_> = self.defs.iter().map(|(k, s)| (self.name(k), s)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    // ------------------------------------------------------------------ TypeScript

    /// A `.d.ts` module: one `export interface` or `export type` per definition.
    pub fn typescript(&self) -> String {
        let mut out = String::new();
        for (name, schema) in self.sorted() {
            // Checked in `new`.
            if let Ok(text) = self.ts_def(&name, schema) {
                out.push_str(&text);
                out.push('\n');
            }
        }
        out
    }

    fn ts_def(&self, name: &str, schema: &Value) -> R<String> {
        let mut out = ts_doc(description(schema), "");
        if is_plain_object(schema) {
            let _ = writeln!(out, "export interface {name} {{");
            out.push_str(&self.ts_fields(schema, "  ")?);
            out.push_str("}\n");
        } else {
            let _ = writeln!(out, "export type {name} = {}", self.ts_type(schema, "")?);
        }
        Ok(out)
    }

    fn ts_fields(&self, schema: &Value, indent: &str) -> R<String> {
        let mut out = String::new();
        for field in fields(schema)? {
            out.push_str(&ts_doc(description(field.schema), indent));
            let _ = writeln!(
                out,
                "{indent}{}{}: {}",
                field.name,
                if field.required { "" } else { "?" },
                self.ts_type(field.schema, indent)?
            );
        }
        Ok(out)
    }

    fn ts_type(&self, schema: &Value, indent: &str) -> R<String> {
        let Some(obj) = schema.as_object() else {
            return match schema {
                Value::Bool(true) => Ok("unknown".into()),
                _ => err(format!("schema {schema}")),
            };
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            return self.ref_name(r);
        }
        if let Some(c) = obj.get("const") {
            return ts_literal(c);
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            let lits: R<Vec<_>> = values.iter().map(ts_literal).collect();
            return Ok(lits?.join(" | "));
        }
        if let Some(variants) = self.variants(schema)? {
            let inner = format!("{indent}  ");
            let mut parts = Vec::new();
            for v in &variants {
                parts.push(self.ts_type(v, &inner)?);
            }
            let union = if parts.iter().any(|p| p.contains('\n')) {
                let mut s = String::from("(\n");
                for p in &parts {
                    let _ = writeln!(s, "{inner}| {p}");
                }
                let _ = write!(s, "{indent})");
                s
            } else {
                parts.join(" | ")
            };
            if has_properties(schema) {
                let base = self.ts_object(schema, indent)?;
                return Ok(format!("{base} & {}", parenthesise(&union)));
            }
            return Ok(union);
        }
        match obj.get("type") {
            Some(Value::Array(types)) => {
                let mut parts = Vec::new();
                for t in types {
                    let mut single = obj.clone();
                    single.insert("type".into(), t.clone());
                    parts.push(self.ts_type(&Value::Object(single), indent)?);
                }
                Ok(parts.join(" | "))
            }
            Some(Value::String(t)) => match t.as_str() {
                "string" => Ok("string".into()),
                "integer" | "number" => Ok("number".into()),
                "boolean" => Ok("boolean".into()),
                "null" => Ok("null".into()),
                "array" => {
                    let item = obj.get("items").unwrap_or(&Value::Bool(true));
                    Ok(format!("{}[]", parenthesise(&self.ts_type(item, indent)?)))
                }
                "object" if has_properties(schema) => self.ts_object(schema, indent),
                "object" => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => Ok("Record<string, never>".into()),
                    Some(v @ Value::Object(_)) => {
                        Ok(format!("Record<string, {}>", self.ts_type(v, indent)?))
                    }
                    _ => Ok("Record<string, unknown>".into()),
                },
                other => err(format!("type {other}")),
            },
            None if is_any(obj) => Ok("unknown".into()),
            _ => err(format!("schema {schema}")),
        }
    }

    fn ts_object(&self, schema: &Value, indent: &str) -> R<String> {
        let inner = format!("{indent}  ");
        Ok(format!("{{\n{}{indent}}}", self.ts_fields(schema, &inner)?))
    }

    /// The alternatives of a union schema (`oneOf`/`anyOf`, or `allOf` of one `$ref` to one),
    /// or `None` when it is no union.
    fn variants(&self, schema: &Value) -> R<Option<Vec<Value>>> {
        for key in ["oneOf", "anyOf"] {
            if let Some(list) = schema.get(key).and_then(Value::as_array) {
                return Ok(Some(list.clone()));
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let [single] = all.as_slice() else {
                return err("allOf with several schemas");
            };
            let target = self.resolve(single)?;
            return match self.variants(target)? {
                Some(v) => Ok(Some(v)),
                None => err("allOf of a schema that is no union"),
            };
        }
        Ok(None)
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> R<&'a Value> {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.rsplit_once('/') {
                Some((_, name)) => self
                    .defs
                    .get(name)
                    .ok_or_else(|| TypegenError(format!("unknown $ref {r}"))),
                None => err(format!("unknown $ref {r}")),
            },
            None => Ok(schema),
        }
    }

    // ------------------------------------------------------------------ Python

    /// A Python module of `TypedDict`s and `Literal`/`Union` aliases (valid at run time on
    /// Python 3.9+, no dependency beyond `typing`).
    pub fn python(&self) -> String {
        let mut aliases = String::new();
        let mut classes = String::new();
        let mut unions = String::new();
        for (name, schema) in self.sorted() {
            if let Ok(def) = self.py_def(&name, schema) {
                match def {
                    PyDef::Alias(text) => aliases.push_str(&text),
                    PyDef::Classes(text) => classes.push_str(&text),
                    PyDef::Union(cls, alias) => {
                        classes.push_str(&cls);
                        unions.push_str(&alias);
                    }
                }
            }
        }
        let mut out = String::new();
        out.push_str(&aliases);
        out.push('\n');
        out.push_str(&classes);
        out.push('\n');
        out.push_str(&unions);
        out
    }

    fn py_def(&self, name: &str, schema: &Value) -> R<PyDef> {
        if is_plain_object(schema) {
            return Ok(PyDef::Classes(self.py_class(name, schema, &[])?));
        }
        if let Some(variants) = self.variants(schema)?
            && variants
                .iter()
                .all(|v| self.resolve(v).is_ok_and(has_properties))
        {
            let mut classes = String::new();
            let mut names = Vec::new();
            for (i, variant) in variants.iter().enumerate() {
                let variant = self.resolve(variant)?;
                let class = match tag_value(variant) {
                    Some(tag) => format!("{name}{}", pascal(&tag)),
                    None => format!("{name}{}", i + 1),
                };
                let base = if has_properties(schema) {
                    vec![schema]
                } else {
                    vec![]
                };
                classes.push_str(&self.py_class(&class, variant, &base)?);
                names.push(class);
            }
            let mut alias = py_comment(description(schema));
            let _ = writeln!(alias, "{name} = Union[{}]\n", names.join(", "));
            return Ok(PyDef::Union(classes, alias));
        }
        let mut out = py_comment(description(schema));
        let _ = writeln!(out, "{name} = {}\n", self.py_type(schema)?);
        Ok(PyDef::Alias(out))
    }

    /// A `TypedDict` of `schema`'s fields (after those of `bases`): required keys on the class,
    /// optional ones on a `total=False` parent.
    fn py_class(&self, name: &str, schema: &Value, bases: &[&Value]) -> R<String> {
        let mut required = String::new();
        let mut optional = String::new();
        let mut seen = BTreeSet::new();
        for s in bases.iter().copied().chain([schema]) {
            for field in fields(s)? {
                if !seen.insert(field.name.to_owned()) {
                    continue;
                }
                if !is_identifier(field.name) {
                    return err(format!("field `{}` is no Python identifier", field.name));
                }
                let target = if field.required {
                    &mut required
                } else {
                    &mut optional
                };
                if let Some(d) = description(field.schema) {
                    for line in d.lines() {
                        let _ = writeln!(target, "{}", format!("    #: {line}").trim_end());
                    }
                }
                let _ = writeln!(
                    target,
                    "    {}: {}",
                    field.name,
                    self.py_type(field.schema)?
                );
            }
        }
        let mut out = String::new();
        let parent = if optional.is_empty() {
            "TypedDict".to_owned()
        } else {
            let _ = writeln!(
                out,
                "class _{name}Optional(TypedDict, total=False):\n{optional}\n"
            );
            format!("_{name}Optional")
        };
        let _ = writeln!(out, "class {name}({parent}):");
        let doc = description(schema)
            .or_else(|| bases.iter().find_map(|b| description(b)))
            .unwrap_or(name);
        let _ = writeln!(out, "    \"\"\"{}\"\"\"\n", doc.replace("\"\"\"", "'''"));
        out.push_str(&required);
        out.push_str("\n\n");
        Ok(out)
    }

    fn py_type(&self, schema: &Value) -> R<String> {
        let Some(obj) = schema.as_object() else {
            return match schema {
                Value::Bool(true) => Ok("Any".into()),
                _ => err(format!("schema {schema}")),
            };
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            return self.ref_name(r);
        }
        if let Some(c) = obj.get("const") {
            return Ok(format!("Literal[{}]", py_literal(c)?));
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            let lits: R<Vec<_>> = values.iter().map(py_literal).collect();
            return Ok(format!("Literal[{}]", lits?.join(", ")));
        }
        if let Some(variants) = self.variants(schema)? {
            if has_properties(schema) {
                return Ok("Dict[str, Any]".into());
            }
            let consts: Option<Vec<&Value>> = variants.iter().map(|v| v.get("const")).collect();
            if let Some(consts) = consts {
                let lits: R<Vec<_>> = consts.into_iter().map(py_literal).collect();
                return Ok(format!("Literal[{}]", lits?.join(", ")));
            }
            let mut parts = Vec::new();
            for v in &variants {
                parts.push(self.py_type(v)?);
            }
            return Ok(py_union(parts));
        }
        match obj.get("type") {
            Some(Value::Array(types)) => {
                let mut parts = Vec::new();
                for t in types {
                    let mut single = obj.clone();
                    single.insert("type".into(), t.clone());
                    parts.push(self.py_type(&Value::Object(single))?);
                }
                Ok(py_union(parts))
            }
            Some(Value::String(t)) => match t.as_str() {
                "string" => Ok("str".into()),
                "integer" => Ok("int".into()),
                "number" => Ok("float".into()),
                "boolean" => Ok("bool".into()),
                "null" => Ok("None".into()),
                "array" => {
                    let item = obj.get("items").unwrap_or(&Value::Bool(true));
                    Ok(format!("List[{}]", self.py_type(item)?))
                }
                "object" => match obj.get("additionalProperties") {
                    Some(v @ Value::Object(_)) if !has_properties(schema) => {
                        Ok(format!("Dict[str, {}]", self.py_type(v)?))
                    }
                    _ => Ok("Dict[str, Any]".into()),
                },
                other => err(format!("type {other}")),
            },
            None if is_any(obj) => Ok("Any".into()),
            _ => err(format!("schema {schema}")),
        }
    }
}

enum PyDef {
    Alias(String),
    Classes(String),
    Union(String, String),
}

struct Field<'a> {
    name: &'a str,
    schema: &'a Value,
    required: bool,
}

fn fields(schema: &Value) -> R<Vec<Field<'_>>> {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties") else {
        return Ok(Vec::new());
    };
    let Some(props) = props.as_object() else {
        return err("properties is no object");
    };
    // Required keys first (the tag among them), each group in schema order.
    let mut out: Vec<Field<'_>> = props
        .iter()
        .map(|(name, schema)| Field {
            name,
            schema,
            required: required.contains(name.as_str()),
        })
        .collect();
    out.sort_by_key(|f| (!f.required, tag_rank(f)));
    Ok(out)
}

/// Tags (`type`, `kind`) first among the required fields.
fn tag_rank(f: &Field<'_>) -> u8 {
    u8::from(f.schema.get("const").is_none())
}

fn tag_value(schema: &Value) -> Option<String> {
    schema
        .get("properties")?
        .as_object()?
        .values()
        .find_map(|p| p.get("const")?.as_str().map(str::to_owned))
}

/// A schema that says nothing about the value's shape (serde_json's `Value`).
fn is_any(obj: &Map<String, Value>) -> bool {
    obj.keys()
        .all(|k| matches!(k.as_str(), "description" | "title" | "default" | "examples"))
}

fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

fn has_properties(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty())
}

fn is_plain_object(schema: &Value) -> bool {
    has_properties(schema)
        && ["oneOf", "anyOf", "allOf"]
            .iter()
            .all(|k| schema.get(k).is_none())
}

fn ts_doc(text: Option<&str>, indent: &str) -> String {
    match text {
        None => String::new(),
        Some(t) if !t.contains('\n') => format!("{indent}/** {} */\n", t.replace("*/", "*\\/")),
        Some(t) => {
            let mut out = format!("{indent}/**\n");
            for line in t.lines() {
                let _ = writeln!(out, "{indent} * {}", line.replace("*/", "*\\/").trim_end());
            }
            let _ = writeln!(out, "{indent} */");
            out.replace(" * \n", " *\n")
        }
    }
}

fn py_comment(text: Option<&str>) -> String {
    let mut out = String::new();
    for line in text.unwrap_or_default().lines() {
        let _ = writeln!(out, "{}", format!("#: {line}").trim_end());
    }
    out
}

fn ts_literal(v: &Value) -> R<String> {
    match v {
        Value::String(s) => Ok(format!(
            "'{}'",
            s.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        Value::Bool(_) | Value::Number(_) | Value::Null => Ok(v.to_string()),
        _ => err(format!("literal {v}")),
    }
}

fn py_literal(v: &Value) -> R<String> {
    match v {
        Value::String(s) => Ok(format!(
            "'{}'",
            s.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        Value::Bool(true) => Ok("True".into()),
        Value::Bool(false) => Ok("False".into()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok("None".into()),
        _ => err(format!("literal {v}")),
    }
}

fn py_union(parts: Vec<String>) -> String {
    let nullable = parts.iter().any(|p| p == "None");
    let rest: Vec<String> = parts.into_iter().filter(|p| p != "None").collect();
    let inner = match rest.as_slice() {
        [] => "None".to_owned(),
        [one] => one.clone(),
        _ => format!("Union[{}]", rest.join(", ")),
    };
    if nullable && !rest.is_empty() {
        format!("Optional[{inner}]")
    } else {
        inner
    }
}

fn parenthesise(t: &str) -> String {
    if (t.contains(" | ") || t.contains(" & ")) && !(t.starts_with('(') && t.ends_with(')')) {
        format!("({t})")
    } else {
        t.to_owned()
    }
}

fn pascal(tag: &str) -> String {
    tag.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn is_identifier(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn set(defs: Value) -> TypeSet {
        TypeSet::new(
            defs.as_object().unwrap().clone(),
            &[("Event", "AgentEvent")],
        )
        .unwrap()
    }

    #[test]
    fn tagged_union_flattened_into_a_struct() {
        let t = set(json!({
            "Event": {
                "description": "One event.",
                "type": "object",
                "properties": {"seq": {"type": "integer"}},
                "required": ["seq"],
                "oneOf": [
                    {"type": "object", "properties": {"type": {"type": "string", "const": "a.b"},
                     "n": {"type": ["integer", "null"]}}, "required": ["type", "n"]},
                    {"type": "object", "properties": {"type": {"const": "c"},
                     "err": {"type": "string"}}, "required": ["type"]}
                ]
            },
            "Status": {"type": "string", "enum": ["ok", "failed"]}
        }));
        let ts = t.typescript();
        assert!(
            ts.contains("export type AgentEvent = {\n  seq: number\n} & ("),
            "{ts}"
        );
        assert!(ts.contains("type: 'a.b'\n    n: number | null"), "{ts}");
        assert!(ts.contains("err?: string"), "{ts}");
        assert!(ts.contains("export type Status = 'ok' | 'failed'"), "{ts}");
        let py = t.python();
        assert!(py.contains("class AgentEventAB(TypedDict):"), "{py}");
        assert!(py.contains("class _AgentEventCOptional(TypedDict, total=False):\n    err: str"));
        assert!(
            py.contains("    seq: int\n    type: Literal['a.b']\n    n: Optional[int]"),
            "{py}"
        );
        assert!(
            py.contains("AgentEvent = Union[AgentEventAB, AgentEventC]"),
            "{py}"
        );
        assert!(py.contains("Status = Literal['ok', 'failed']"), "{py}");
    }

    #[test]
    fn unknown_shapes_are_refused() {
        let e = TypeSet::new(
            json!({"X": {"type": "object", "properties": {"a": {"type": "tuple"}}}})
                .as_object()
                .unwrap()
                .clone(),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("X: type tuple"), "{e}");
        let e = TypeSet::new(
            json!({"X": {"$ref": "#/$defs/Missing"}})
                .as_object()
                .unwrap()
                .clone(),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown $ref"), "{e}");
    }
}
