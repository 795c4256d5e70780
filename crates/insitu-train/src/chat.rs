//! Chat templates as Hugging Face `transformers` renders them
//! (`apply_chat_template`), with minijinja instead of Python's Jinja2.
//!
//! Templates come from the sponsor, so they run sandboxed: no loader (a
//! template cannot include or import files), a fuel limit (no endless loops),
//! a recursion limit, and only the globals `transformers` provides. The
//! environment follows `transformers`' conventions: `trim_blocks` and
//! `lstrip_blocks` on, trailing newline dropped, loop controls, Python string
//! and dict methods (`.strip()`, `.startswith()`, `.items()`, …), a `tojson`
//! filter with Python's `json.dumps` formatting and `raise_exception`.
//! `strftime_now` is deliberately absent so that rendering is deterministic;
//! Llama 3.x templates then fall back to their built-in date.

use crate::{Error, Result};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, ErrorKind};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One turn of a conversation (`{"role": …, "content": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant` (templates may accept others).
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl Message {
    /// A message with the given role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// Instruction budget for one render: ample for conversations of thousands
/// of turns, small enough that a hostile template stops in well under a second.
const FUEL: u64 = 20_000_000;
/// Nesting depth for macros/includes; HF templates need a handful.
const RECURSION_LIMIT: usize = 64;
const TEMPLATE_NAME: &str = "chat_template";
/// Largest rendered conversation: far above any training example, far below
/// what would exhaust memory (minijinja already caps one string repetition
/// at 100 MB; this stops a loop of them).
const MAX_OUTPUT: usize = 16 << 20;

/// A render sink that fails once `MAX_OUTPUT` bytes have been written.
#[derive(Default)]
struct CappedOutput {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.overflowed = true;
            return Err(std::io::Error::other("chat template output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A compiled chat template with the special tokens it may reference.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos: Option<String>,
    eos: Option<String>,
    env: Environment<'static>,
    compile_error: Option<String>,
}

impl ChatTemplate {
    /// Compiles `template`. A syntax error is reported by [`ChatTemplate::render`]
    /// and [`ChatTemplate::check`], so that construction cannot fail.
    pub fn new(template: &str, bos: Option<String>, eos: Option<String>) -> ChatTemplate {
        let mut env = sandboxed_environment();
        let compile_error = env
            .add_template_owned(TEMPLATE_NAME, template.to_string())
            .err()
            .map(|e| describe(&e));
        ChatTemplate {
            source: template.to_string(),
            bos,
            eos,
            env,
            compile_error,
        }
    }

    /// Reads `chat_template`, `bos_token` and `eos_token` from a
    /// `tokenizer_config.json`; errors if it has no chat template or the
    /// template does not compile.
    pub fn from_tokenizer_config(path: &Path) -> Result<ChatTemplate> {
        match read_tokenizer_config(path)? {
            Some(t) => Ok(t),
            None => Err(Error::BadFile {
                path: path.to_path_buf(),
                message: "no \"chat_template\" field — add the model's chat template or use a prompt format without one".into(),
            }),
        }
    }

    /// Errors if the template does not compile.
    pub fn check(&self) -> Result<()> {
        match &self.compile_error {
            Some(e) => Err(Error::Template(format!("does not compile: {e}"))),
            None => Ok(()),
        }
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The beginning-of-sequence token the template sees as `bos_token`.
    pub fn bos_token(&self) -> Option<&str> {
        self.bos.as_deref()
    }

    /// The end-of-sequence token the template sees as `eos_token`.
    pub fn eos_token(&self) -> Option<&str> {
        self.eos.as_deref()
    }

    /// Renders a conversation; with `add_generation_prompt` the text ends
    /// where the assistant's answer begins.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.check()?;
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::Template(describe(&e)))?;
        // `tools`/`documents` are passed as none (not left undefined) because
        // templates test `tools is not none`, as transformers passes them.
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos,
            eos_token => self.eos,
            tools => (),
            documents => (),
        };
        let mut out = CappedOutput::default();
        template
            .render_captured_to(ctx, &mut out)
            .map_err(|e| match out.overflowed {
                true => Error::Template(format!(
                    "output exceeds {MAX_OUTPUT} bytes — the template is refused as runaway"
                )),
                false => Error::Template(describe(&e)),
            })?;
        String::from_utf8(out.bytes)
            .map_err(|e| Error::Template(format!("rendered text is not UTF-8: {e}")))
    }
}

/// Reads a `tokenizer_config.json`'s chat template, if it has one.
pub(crate) fn read_tokenizer_config(path: &Path) -> Result<Option<ChatTemplate>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |message: String| Error::BadFile {
        path: path.to_path_buf(),
        message,
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let template = match json.get("chat_template") {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(s)) => s.clone(),
        // Newer configs hold a list of named templates; "default" is the chat one.
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| {
                bad("field \"chat_template\": list has no template named \"default\"".into())
            })?
            .to_string(),
        Some(_) => return Err(bad("field \"chat_template\" must be a string".into())),
    };
    let token = |field: &str| -> Option<String> {
        match json.get(field)? {
            serde_json::Value::String(s) => Some(s.clone()),
            // An AddedToken object: {"content": "<s>", "special": true, …}.
            serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
            _ => None,
        }
    };
    let t = ChatTemplate::new(&template, token("bos_token"), token("eos_token"));
    t.check()
        .map_err(|e| bad(format!("field \"chat_template\": {e}")))?;
    Ok(Some(t))
}

fn describe(e: &minijinja::Error) -> String {
    let mut msg = match e.kind() {
        ErrorKind::OutOfFuel => {
            "template ran too long (fuel exhausted) — it may loop without end".to_string()
        }
        _ => e.to_string(),
    };
    if let Some(line) = e.line() {
        if !msg.contains("line") {
            msg = format!("line {line}: {msg}");
        }
    }
    msg
}

fn sandboxed_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> std::result::Result<Value, minijinja::Error> {
            Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("template raised an exception: {msg}"),
            ))
        },
    );
    env.add_filter("tojson", tojson);
    env
}

/// `tojson` as transformers defines it: `json.dumps(x, ensure_ascii=False,
/// indent=indent, separators=separators, sort_keys=sort_keys)`.
fn tojson(
    value: Value,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    let indent = match kwargs.get::<Option<Value>>("indent")?.or(indent) {
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => Some(usize::try_from(v)?),
        None => None,
    };
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false);
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let separators = kwargs.get::<Option<Vec<String>>>("separators")?;
    kwargs.assert_all_used()?;
    let (item_sep, key_sep) = match separators {
        Some(s) if s.len() == 2 => (s[0].clone(), s[1].clone()),
        Some(_) => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "tojson: separators must be a pair (item, key)",
            ))
        }
        None if indent.is_some() => (",".to_string(), ": ".to_string()),
        None => (", ".to_string(), ": ".to_string()),
    };
    let style = PyJson {
        indent,
        ensure_ascii,
        sort_keys,
        item_sep,
        key_sep,
    };
    let mut out = String::new();
    style.write(&value, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

/// Python `json.dumps` formatting options.
struct PyJson {
    indent: Option<usize>,
    ensure_ascii: bool,
    sort_keys: bool,
    item_sep: String,
    key_sep: String,
}

impl PyJson {
    fn newline(&self, level: usize, out: &mut String) {
        if let Some(n) = self.indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * level));
        }
    }

    fn write(
        &self,
        v: &Value,
        level: usize,
        out: &mut String,
    ) -> std::result::Result<(), minijinja::Error> {
        match v.kind() {
            ValueKind::Undefined | ValueKind::None => out.push_str("null"),
            ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
            ValueKind::Number => {
                if v.is_integer() {
                    out.push_str(&v.to_string());
                } else {
                    out.push_str(&py_float_repr(f64::try_from(v.clone())?));
                }
            }
            ValueKind::String => self.write_str(v.as_str().unwrap_or_default(), out),
            ValueKind::Map => {
                let mut keys: Vec<Value> = v.try_iter()?.collect();
                if self.sort_keys {
                    keys.sort();
                }
                if keys.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item_sep);
                    }
                    self.newline(level + 1, out);
                    let key = match k.as_str() {
                        Some(s) => s.to_string(),
                        None if k.is_none() => "null".to_string(),
                        None => k.to_string(),
                    };
                    self.write_str(&key, out);
                    out.push_str(&self.key_sep);
                    self.write(&v.get_item(k)?, level + 1, out)?;
                }
                self.newline(level, out);
                out.push('}');
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = v.try_iter()?.collect();
                if items.is_empty() {
                    out.push_str("[]");
                    return Ok(());
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item_sep);
                    }
                    self.newline(level + 1, out);
                    self.write(item, level + 1, out)?;
                }
                self.newline(level, out);
                out.push(']');
            }
            _ => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson: cannot serialise a value of kind {}", v.kind()),
                ))
            }
        }
        Ok(())
    }

    fn write_str(&self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (self.ensure_ascii && !c.is_ascii()) => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form below
/// 1e-4 and from 1e16 on, and always a decimal point or exponent.
fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f == 0.0 || (-4..16).contains(&exp) {
        let plain = format!("{f}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> Vec<Message> {
        vec![
            Message::new("system", "You are a careful clinical assistant."),
            Message::new("user", "Summarise: BP 120/80, HR 72."),
            Message::new("assistant", "Observations normal."),
        ]
    }

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float_repr(1.0), "1.0");
        assert_eq!(py_float_repr(0.1), "0.1");
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(py_float_repr(-2.5), "-2.5");
        assert_eq!(py_float_repr(123456.789), "123456.789");
    }

    #[test]
    fn tojson_matches_python_json_dumps() {
        let t = ChatTemplate::new(
            "{{ messages[0] | tojson }}|{{ {'a': [1, 2.0, none, true], 'é': 'x\"\\n'} | tojson }}|{{ [1, {'k': 'v'}] | tojson(indent=2) }}|{{ {} | tojson }}",
            None,
            None,
        );
        let out = t.render(&conv(), false).unwrap();
        assert_eq!(
            out,
            "{\"role\": \"system\", \"content\": \"You are a careful clinical assistant.\"}|{\"a\": [1, 2.0, null, true], \"é\": \"x\\\"\\n\"}|[\n  1,\n  {\n    \"k\": \"v\"\n  }\n]|{}"
        );
    }

    #[test]
    fn trim_and_lstrip_blocks_as_transformers_sets_them() {
        // With trim_blocks the newline after a block tag goes; with
        // lstrip_blocks the indentation before it goes.
        let t = ChatTemplate::new(
            "{% for m in messages %}\n    {% if m.role == 'user' %}\nU:{{ m.content }}\n    {% endif %}\n{% endfor %}\nend\n",
            None,
            None,
        );
        let out = t.render(&conv(), false).unwrap();
        assert_eq!(out, "U:Summarise: BP 120/80, HR 72.\nend");
    }

    #[test]
    fn python_string_methods_and_loop_controls_work() {
        // Booleans print as Python does (`True`), like Jinja2.
        let t = ChatTemplate::new(
            "{% for m in messages %}{% if loop.index0 == 2 %}{% break %}{% endif %}{{ m.content.strip().upper()[:3] }}{{ m.role.startswith('sys') }};{% endfor %}",
            None,
            None,
        );
        assert_eq!(t.render(&conv(), false).unwrap(), "YOUTrue;SUMFalse;");
    }

    #[test]
    fn raise_exception_becomes_a_template_error() {
        let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", None, None);
        let e = t.render(&conv(), false).unwrap_err().to_string();
        assert!(e.contains("roles must alternate"), "{e}");
    }

    #[test]
    fn endless_templates_run_out_of_fuel_and_files_cannot_be_included() {
        let t = ChatTemplate::new(
            "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
            None,
            None,
        );
        let e = t.render(&conv(), false).unwrap_err().to_string();
        assert!(e.contains("fuel"), "{e}");
        let t = ChatTemplate::new("{% include '/etc/passwd' %}", None, None);
        let e = t.render(&conv(), false).unwrap_err().to_string();
        assert!(e.contains("not found") || e.contains("template"), "{e}");
        assert!(!e.contains("root:"), "{e}");
        let t = ChatTemplate::new(
            "{% for i in range(100) %}{{ 'x' * 1000000 }}{% endfor %}",
            None,
            None,
        );
        let e = t.render(&conv(), false).unwrap_err().to_string();
        assert!(e.contains("output exceeds"), "{e}");
        let t = ChatTemplate::new(
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            None,
            None,
        );
        assert!(t.render(&conv(), false).is_err());
    }

    #[test]
    fn syntax_errors_are_reported_with_a_line() {
        let t = ChatTemplate::new("line one\n{% for m in messages %}", None, None);
        let e = t.check().unwrap_err().to_string();
        assert!(e.contains("line"), "{e}");
        assert!(t.render(&conv(), false).is_err());
    }

    #[test]
    fn tokenizer_config_with_token_objects_and_template_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer_config.json");
        std::fs::write(
            &path,
            r#"{"bos_token": {"content": "<s>", "special": true}, "eos_token": "</s>",
                "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ bos_token }}D{{ eos_token }}"}]}"#,
        )
        .unwrap();
        let t = ChatTemplate::from_tokenizer_config(&path).unwrap();
        assert_eq!(t.bos_token(), Some("<s>"));
        assert_eq!(t.eos_token(), Some("</s>"));
        assert_eq!(t.render(&[], false).unwrap(), "<s>D</s>");
        std::fs::write(&path, r#"{"eos_token": "</s>"}"#).unwrap();
        let e = ChatTemplate::from_tokenizer_config(&path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chat_template"), "{e}");
    }
}
