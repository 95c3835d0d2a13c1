//! A mailing's text as a template: literal text with `{{ phone_number }}`,
//! `{{ operator_code }}` and `{{ attributes.<key> }}` in it, each optionally with a fallback
//! (`{{ attributes.name | default: "friend" }}`), rendered once per message for its client.
//!
//! Nothing else is interpreted: the rendered text is what the provider receives, plain.

use crate::attributes::{AttributeKey, AttributeValue, Attributes};
use crate::client::PhoneNumber;
use crate::operator::OperatorCode;
use std::fmt;

/// A field of the client a template can show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variable {
    PhoneNumber,
    OperatorCode,
    Attribute(AttributeKey),
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Variable::PhoneNumber => f.write_str("phone_number"),
            Variable::OperatorCode => f.write_str("operator_code"),
            Variable::Attribute(key) => write!(f, "attributes.{key}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Variable {
        variable: Variable,
        fallback: Option<String>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Why a template cannot be used, and where: `position` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown variable \"{name}\" at character {position}: use phone_number, operator_code \
         or attributes.<key>, a key of lowercase latin letters, digits or _, e.g. \
         {{{{ attributes.name }}}}"
    )]
    UnknownVariable { name: String, position: usize },
    #[error(
        "\"{{{{\" at character {position} is not closed by \"}}}}\": write a variable as \
         {{{{ attributes.name }}}}"
    )]
    Unclosed { position: usize },
    #[error(
        "no variable named between \"{{{{\" and \"}}}}\" at character {position}, e.g. \
         {{{{ phone_number }}}}"
    )]
    Empty { position: usize },
    #[error(
        "cannot read \"{found}\" at character {position}: the only filter is a fallback, \
         written | default: \"friend\""
    )]
    BadFilter { found: String, position: usize },
}

impl TemplateError {
    /// Stable code for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::UnknownVariable { .. } => "unknown_variable",
            TemplateError::Unclosed { .. }
            | TemplateError::Empty { .. }
            | TemplateError::BadFilter { .. } => "template_syntax",
        }
    }

    /// The character, counted from 1, where the problem starts.
    pub fn position(&self) -> usize {
        match self {
            TemplateError::UnknownVariable { position, .. }
            | TemplateError::Unclosed { position }
            | TemplateError::Empty { position }
            | TemplateError::BadFilter { position, .. } => *position,
        }
    }
}

/// What a template shows of one client.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub phone: &'a PhoneNumber,
    pub operator_code: &'a OperatorCode,
    pub attributes: &'a Attributes,
}

/// A template rendered for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Variables the client has no value for and that have no fallback: each became the empty
    /// string.
    pub missing: Vec<Variable>,
}

impl Template {
    /// Reads `text`, reporting every problem it finds.
    pub fn parse(text: &str) -> Result<Self, Vec<TemplateError>> {
        let chars: Vec<char> = text.chars().collect();
        let mut pieces = Vec::new();
        let mut problems = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '{' && chars.get(i + 1) == Some(&'{') {
                let open = i;
                let Some(close) = find_close(&chars, i + 2) else {
                    problems.push(TemplateError::Unclosed { position: open + 1 });
                    break;
                };
                match parse_tag(&chars, open + 2, close) {
                    Ok(piece) => {
                        if !literal.is_empty() {
                            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                        }
                        pieces.push(piece);
                    }
                    Err(problem) => problems.push(problem),
                }
                i = close + 2;
            } else {
                literal.push(chars[i]);
                i += 1;
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Self { pieces })
    }

    /// A text taken as it is, `{{` and all: for texts saved before templates were read.
    pub fn literal(text: &str) -> Self {
        Self {
            pieces: vec![Piece::Literal(text.to_owned())],
        }
    }

    /// Whether the text shows anything of its client.
    pub fn has_variables(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Variable { .. }))
    }

    /// The attributes it shows without a fallback, each once, in order.
    pub fn attributes_without_fallback(&self) -> Vec<AttributeKey> {
        let mut keys: Vec<AttributeKey> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Variable {
                variable: Variable::Attribute(key),
                fallback: None,
            } = piece
                && !keys.contains(key)
            {
                keys.push(key.clone());
            }
        }
        keys
    }

    /// The text with each variable's fallback in its place, and nothing for one without:
    /// what every client gets besides their own values.
    pub fn with_fallbacks(&self) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(literal) => literal.as_str(),
                Piece::Variable { fallback, .. } => fallback.as_deref().unwrap_or(""),
            })
            .collect()
    }

    /// The text for `recipient`. A value counts as missing when the client has none or an
    /// empty text; the fallback, if any, stands in for it.
    pub fn render(&self, recipient: Recipient<'_>) -> Rendered {
        let mut text = String::new();
        let mut missing = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(literal) => text.push_str(literal),
                Piece::Variable { variable, fallback } => {
                    let value = match variable {
                        Variable::PhoneNumber => Some(recipient.phone.as_str().to_owned()),
                        Variable::OperatorCode => Some(recipient.operator_code.as_str().to_owned()),
                        Variable::Attribute(key) => {
                            recipient.attributes.get(key).and_then(shown_value)
                        }
                    };
                    match (value, fallback) {
                        (Some(value), _) => text.push_str(&value),
                        (None, Some(fallback)) => text.push_str(fallback),
                        (None, None) => {
                            if !missing.contains(variable) {
                                missing.push(variable.clone());
                            }
                        }
                    }
                }
            }
        }
        Rendered { text, missing }
    }
}

/// How an attribute's value reads in a text; an empty text reads as no value.
fn shown_value(value: &AttributeValue) -> Option<String> {
    match value {
        AttributeValue::Text(text) if text.is_empty() => None,
        AttributeValue::Text(text) => Some(text.clone()),
        AttributeValue::Number(number) => Some(number.to_string()),
        AttributeValue::Bool(flag) => Some(flag.to_string()),
    }
}

/// The index of the `}}` closing a tag whose content starts at `from`, skipping quoted text.
fn find_close(chars: &[char], from: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut i = from;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(_) if c == '\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '}' && chars.get(i + 1) == Some(&'}') => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// Reads the content of a tag, `chars[start..end]`.
fn parse_tag(chars: &[char], start: usize, end: usize) -> Result<Piece, TemplateError> {
    let mut i = skip_spaces(chars, start, end);
    let name_start = i;
    while i < end && !chars[i].is_whitespace() && chars[i] != '|' {
        i += 1;
    }
    let name: String = chars[name_start..i].iter().collect();
    if name.is_empty() {
        return Err(TemplateError::Empty {
            position: start - 1,
        });
    }
    let variable = variable_named(&name).ok_or_else(|| TemplateError::UnknownVariable {
        name: name.clone(),
        position: name_start + 1,
    })?;
    i = skip_spaces(chars, i, end);
    if i == end {
        return Ok(Piece::Variable {
            variable,
            fallback: None,
        });
    }
    let bad_filter = |at: usize| TemplateError::BadFilter {
        found: chars[at..end].iter().collect::<String>().trim().to_owned(),
        position: at + 1,
    };
    let filter_at = i;
    if chars[i] != '|' {
        return Err(bad_filter(filter_at));
    }
    i = skip_spaces(chars, i + 1, end);
    let keyword: String = chars[i..end.min(i + 8)].iter().collect();
    if keyword != "default:" {
        return Err(bad_filter(filter_at));
    }
    i = skip_spaces(chars, i + 8, end);
    let Some(&quote) = chars.get(i).filter(|c| **c == '"' || **c == '\'') else {
        return Err(bad_filter(filter_at));
    };
    let mut fallback = String::new();
    i += 1;
    loop {
        if i >= end {
            return Err(bad_filter(filter_at));
        }
        match chars[i] {
            '\\' if i + 1 < end => {
                fallback.push(chars[i + 1]);
                i += 2;
            }
            c if c == quote => break,
            c => {
                fallback.push(c);
                i += 1;
            }
        }
    }
    if skip_spaces(chars, i + 1, end) != end {
        return Err(bad_filter(filter_at));
    }
    Ok(Piece::Variable {
        variable,
        fallback: Some(fallback),
    })
}

fn skip_spaces(chars: &[char], mut i: usize, end: usize) -> usize {
    while i < end && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

fn variable_named(name: &str) -> Option<Variable> {
    match name {
        "phone_number" => Some(Variable::PhoneNumber),
        "operator_code" => Some(Variable::OperatorCode),
        _ => {
            let key = name.strip_prefix("attributes.")?;
            AttributeKey::parse(key).ok().map(Variable::Attribute)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(attributes: serde_json::Value) -> (PhoneNumber, OperatorCode, Attributes) {
        (
            PhoneNumber::parse("79001234567").unwrap(),
            OperatorCode::parse("mts").unwrap(),
            Attributes::from_json(&attributes).unwrap(),
        )
    }

    fn render(template: &str, attributes: serde_json::Value) -> Rendered {
        let (phone, operator_code, attributes) = client(attributes);
        Template::parse(template).unwrap().render(Recipient {
            phone: &phone,
            operator_code: &operator_code,
            attributes: &attributes,
        })
    }

    #[test]
    fn shows_the_clients_fields_and_attributes() {
        let rendered = render(
            "{{phone_number}} via {{ operator_code }}: {{ attributes.city }}, {{attributes.age}}, \
             {{ attributes.vip }}, {{ attributes.score }}",
            json!({"city": "Казань", "age": 30, "vip": true, "score": 1.5}),
        );
        assert_eq!(rendered.text, "79001234567 via mts: Казань, 30, true, 1.5");
        assert!(rendered.missing.is_empty());
    }

    #[test]
    fn a_fallback_stands_in_for_a_missing_or_empty_value() {
        let template = r#"Здравствуйте, {{ attributes.name | default: "клиент" }}!"#;
        assert_eq!(
            render(template, json!({"name": "Анна"})).text,
            "Здравствуйте, Анна!"
        );
        assert_eq!(render(template, json!({})).text, "Здравствуйте, клиент!");
        assert_eq!(
            render(template, json!({"name": ""})).text,
            "Здравствуйте, клиент!"
        );
        assert_eq!(
            render("{{attributes.name|default:'a \\' \"}}'}}", json!({})).text,
            "a ' \"}}"
        );
        assert_eq!(
            render(r#"[{{ attributes.name | default: "" }}]"#, json!({})).text,
            "[]"
        );
    }

    #[test]
    fn a_missing_value_without_fallback_is_empty_and_reported_once() {
        let rendered = render(
            "Hi {{ attributes.name }}{{ attributes.name }} from {{ attributes.city }}",
            json!({"city": "Omsk"}),
        );
        assert_eq!(rendered.text, "Hi  from Omsk");
        assert_eq!(
            rendered.missing,
            vec![Variable::Attribute(AttributeKey::parse("name").unwrap())]
        );
    }

    #[test]
    fn plain_text_stays_as_it_is() {
        let plain = "50% off {today} only } {";
        let template = Template::parse(plain).unwrap();
        assert!(!template.has_variables());
        assert_eq!(render(plain, json!({})).text, plain);
    }

    #[test]
    fn problems_name_their_position_and_variable() {
        let problems =
            Template::parse("Привет, {{ first_name }} и {{ attributes.Name }}").unwrap_err();
        assert_eq!(
            problems,
            vec![
                TemplateError::UnknownVariable {
                    name: "first_name".into(),
                    position: 12
                },
                TemplateError::UnknownVariable {
                    name: "attributes.Name".into(),
                    position: 31
                },
            ]
        );
        assert_eq!(problems[0].code(), "unknown_variable");
        assert!(
            problems[0]
                .to_string()
                .contains("\"first_name\" at character 12")
        );
        assert_eq!(
            Template::parse("Hi {{ phone_number").unwrap_err(),
            vec![TemplateError::Unclosed { position: 4 }]
        );
        assert_eq!(
            Template::parse("Hi {{ }}").unwrap_err(),
            vec![TemplateError::Empty { position: 4 }]
        );
        assert_eq!(
            Template::parse("{{ phone_number | upcase }}").unwrap_err(),
            vec![TemplateError::BadFilter {
                found: "| upcase".into(),
                position: 17
            }]
        );
        assert!(matches!(
            Template::parse(r#"{{ attributes.a | default: "x }}"#).unwrap_err()[..],
            [TemplateError::Unclosed { position: 1 }]
        ));
        assert!(matches!(
            Template::parse(r#"{{ attributes.a | default: "x" extra }}"#).unwrap_err()[..],
            [TemplateError::BadFilter { .. }]
        ));
        assert!(matches!(
            Template::parse(r#"{{ attributes.a | default: x }}"#).unwrap_err()[..],
            [TemplateError::BadFilter { .. }]
        ));
    }

    #[test]
    fn lists_attributes_needing_a_value() {
        let template = Template::parse(
            "{{ attributes.a }} {{ attributes.b | default: \"\" }} {{ attributes.a }} {{ attributes.c }}",
        )
        .unwrap();
        let keys: Vec<String> = template
            .attributes_without_fallback()
            .iter()
            .map(|key| key.to_string())
            .collect();
        assert_eq!(keys, vec!["a", "c"]);
    }

    #[test]
    fn without_a_client_variables_show_their_fallbacks() {
        let template =
            Template::parse("Hi {{ attributes.name | default: \"друг\" }}{{ phone_number }}!")
                .unwrap();
        assert_eq!(template.with_fallbacks(), "Hi друг!");
    }

    #[test]
    fn literal_keeps_braces() {
        let template = Template::literal("{{ not a template");
        assert!(!template.has_variables());
    }
}
