//! The subset of Go's `text/template` that Fulcio's `ci-provider` claim templates use
//! (protocols.md §1.8), evaluated over a string map with `missingkey=error`.
//!
//! Supported: literal text; actions `{{ .name }}`, `{{ index . "any/key" }}`, `{{ "literal" }}`;
//! `{{ if COND }} … {{ else if COND }} … {{ else }} … {{ end }}` where COND is `eq A B`,
//! `ne A B` or a single value (true when non-empty); trim markers `{{-` and `-}}`. Anything
//! else is a parse error, reported when the config is loaded, never at issuance time.

use std::collections::BTreeMap;

/// A template that failed to parse or to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template:?}: {reason}")]
pub struct TemplateError {
    /// The template text.
    pub template: String,
    /// What went wrong.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    /// `.name`
    Field(String),
    /// `index . "key"`
    Index(String),
    /// `"literal"`
    Lit(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    Eq(Expr, Expr),
    Ne(Expr, Expr),
    Truthy(Expr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Value(Expr),
    If {
        cond: Cond,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

/// One lexed piece: text or the inside of an action.
enum Piece {
    Text(String),
    Action(String),
}

fn lex(src: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or("unterminated action (missing \"}}\")")?;
        let mut inner = &after[..end];
        if let Some(i) = inner.strip_prefix('-')
            && (i.is_empty() || i.starts_with(char::is_whitespace))
        {
            text = text.trim_end();
            inner = i;
        }
        let mut trim_next = false;
        if let Some(i) = inner.strip_suffix('-')
            && (i.is_empty() || i.ends_with(char::is_whitespace))
        {
            trim_next = true;
            inner = i;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        out.push(Piece::Action(inner.trim().to_string()));
        rest = &after[end + 2..];
        if trim_next {
            rest = rest.trim_start();
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

/// Split an action into words, keeping double-quoted strings (with `\"` and `\\` escapes)
/// as single `"…"` words.
fn words(action: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e @ ('"' | '\\')) => s.push(e),
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        _ => return Err("unsupported escape in a string literal".into()),
                    },
                    Some(ch) => s.push(ch),
                    None => return Err("unterminated string literal".into()),
                }
            }
            out.push(s);
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '"' {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse the expression starting at `w[0]`; returns it and the number of words used.
fn expr(w: &[String]) -> Result<(Expr, usize), String> {
    let first = w.first().ok_or("missing value")?;
    if let Some(lit) = first.strip_prefix('"') {
        return Ok((Expr::Lit(lit.to_string()), 1));
    }
    if first == "index" {
        match (w.get(1).map(String::as_str), w.get(2)) {
            (Some("."), Some(k)) if k.starts_with('"') => {
                return Ok((Expr::Index(k[1..].to_string()), 3));
            }
            _ => return Err("only `index . \"key\"` is supported".into()),
        }
    }
    if let Some(name) = first.strip_prefix('.')
        && is_ident(name)
    {
        return Ok((Expr::Field(name.to_string()), 1));
    }
    Err(format!("unsupported expression {first:?}"))
}

/// A whole action that must be exactly one expression.
fn single_expr(w: &[String]) -> Result<Expr, String> {
    let (e, used) = expr(w)?;
    if used != w.len() {
        return Err(format!("unexpected {:?} after the value", w[used]));
    }
    Ok(e)
}

fn cond(w: &[String]) -> Result<Cond, String> {
    match w.first().map(String::as_str) {
        Some(op @ ("eq" | "ne")) => {
            let (a, n) = expr(&w[1..])?;
            let (b, m) = expr(&w[1 + n..])?;
            if 1 + n + m != w.len() {
                return Err(format!("{op} takes exactly two values"));
            }
            Ok(if op == "eq" {
                Cond::Eq(a, b)
            } else {
                Cond::Ne(a, b)
            })
        }
        _ => Ok(Cond::Truthy(single_expr(w)?)),
    }
}

/// What ended a block.
enum Terminator {
    Eof,
    End,
    Else,
    ElseIf(Cond),
}

fn block(
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
) -> Result<(Vec<Node>, Terminator), String> {
    let mut nodes = Vec::new();
    while let Some(p) = pieces.next() {
        match p {
            Piece::Text(t) => nodes.push(Node::Text(t)),
            Piece::Action(a) => {
                let w = words(&a)?;
                match w.first().map(String::as_str) {
                    None => return Err("empty action".into()),
                    Some("end") if w.len() == 1 => return Ok((nodes, Terminator::End)),
                    Some("else") if w.len() == 1 => return Ok((nodes, Terminator::Else)),
                    Some("else") if w.get(1).map(String::as_str) == Some("if") => {
                        return Ok((nodes, Terminator::ElseIf(cond(&w[2..])?)));
                    }
                    Some("if") => nodes.push(if_node(cond(&w[1..])?, pieces)?),
                    Some(
                        "range" | "with" | "define" | "template" | "block" | "break" | "continue"
                        | "end" | "else",
                    ) => return Err(format!("unsupported action {a:?}")),
                    Some(_) => nodes.push(Node::Value(single_expr(&w)?)),
                }
            }
        }
    }
    Ok((nodes, Terminator::Eof))
}

fn if_node(
    c: Cond,
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
) -> Result<Node, String> {
    let (then, end) = block(pieces)?;
    let otherwise = match end {
        Terminator::End => Vec::new(),
        Terminator::Else => match block(pieces)? {
            (nodes, Terminator::End) => nodes,
            _ => return Err("`else` without `end`".into()),
        },
        Terminator::ElseIf(c2) => vec![if_node(c2, pieces)?],
        Terminator::Eof => return Err("`if` without `end`".into()),
    };
    Ok(Node::If {
        cond: c,
        then,
        otherwise,
    })
}

impl Template {
    /// Parse `source`.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let err = |reason: String| TemplateError {
            template: source.to_string(),
            reason,
        };
        let mut pieces = lex(source).map_err(err)?.into_iter().peekable();
        let (nodes, end) = block(&mut pieces).map_err(err)?;
        match end {
            Terminator::Eof => Ok(Template {
                source: source.to_string(),
                nodes,
            }),
            _ => Err(err("`end` or `else` without `if`".into())),
        }
    }

    /// Evaluate over `data`; a `.name` absent from `data` is an error (`missingkey=error`),
    /// `index . "key"` of an absent key is empty (as in Go).
    pub fn render(&self, data: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        let mut out = String::new();
        render(&self.nodes, data, &mut out).map_err(|reason| TemplateError {
            template: self.source.clone(),
            reason,
        })?;
        Ok(out)
    }
}

fn value(e: &Expr, data: &BTreeMap<String, String>) -> Result<String, String> {
    match e {
        Expr::Field(k) => data
            .get(k)
            .cloned()
            .ok_or_else(|| format!("map has no entry for key {k:?}")),
        Expr::Index(k) => Ok(data.get(k).cloned().unwrap_or_default()),
        Expr::Lit(s) => Ok(s.clone()),
    }
}

fn render(nodes: &[Node], data: &BTreeMap<String, String>, out: &mut String) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Value(e) => out.push_str(&value(e, data)?),
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                let yes = match cond {
                    Cond::Eq(a, b) => value(a, data)? == value(b, data)?,
                    Cond::Ne(a, b) => value(a, data)? != value(b, data)?,
                    Cond::Truthy(a) => !value(a, data)?.is_empty(),
                };
                render(if yes { then } else { otherwise }, data, out)?;
            }
        }
    }
    Ok(())
}

/// Fulcio's `applyTemplateOrReplace`: a value containing `{{` is a template over `data`;
/// otherwise it names a key whose value is copied (an error when absent).
pub fn apply_template_or_replace(
    value: &str,
    data: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    if value.contains("{{") {
        Template::parse(value)?.render(data)
    } else {
        data.get(value).cloned().ok_or_else(|| TemplateError {
            template: value.to_string(),
            reason: format!("value <{value}> not present in either claims or defaults"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> BTreeMap<String, String> {
        [
            ("url", "https://gitlab.com"),
            ("ref", "main"),
            ("ref_type", "branch"),
            ("oidc.circleci.com/vcs-ref", "refs/heads/x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn r(t: &str) -> Result<String, TemplateError> {
        Template::parse(t)?.render(&data())
    }

    #[test]
    fn renders() {
        assert_eq!(r("{{ .url }}/x").ok(), Some("https://gitlab.com/x".into()));
        assert_eq!(r("{{.url}}").ok(), Some("https://gitlab.com".into()));
        assert_eq!(
            r(r#"refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}"#).ok(),
            Some("refs/heads/main".into())
        );
        assert_eq!(
            r(r#"{{ if ne .ref_type "branch" }}t{{ else if .ref }}r{{ end }}"#).ok(),
            Some("r".into())
        );
        assert_eq!(
            r(r#"{{ index . "oidc.circleci.com/vcs-ref" }}"#).ok(),
            Some("refs/heads/x".into())
        );
        assert_eq!(r("a {{- .ref -}} b").ok(), Some("amainb".into()));
        assert_eq!(r("no actions").ok(), Some("no actions".into()));
    }

    #[test]
    fn errors() {
        assert!(r("{{ .missing }}").is_err());
        assert!(Template::parse("{{ .url ").is_err());
        assert!(Template::parse("{{ if .url }}x").is_err());
        assert!(Template::parse("{{ end }}").is_err());
        assert!(Template::parse("{{ range .x }}{{ end }}").is_err());
        assert!(Template::parse("{{ printf \"%s\" .x }}").is_err());
        assert!(Template::parse("{{ .a.b }}").is_err());
        assert!(apply_template_or_replace("nope", &data()).is_err());
        assert_eq!(
            apply_template_or_replace("ref", &data()).ok(),
            Some("main".into())
        );
    }
}
