//! Parameter values as YAML gives them, and the one reader of a parameter
//! list: the last occurrence of a key wins (any case, as Distribution
//! lower-cases keys), booleans follow Go's `strconv.ParseBool`, integers may
//! be strings, durations are Go durations. The `storage: s3:` block and the
//! middleware options both go through it.

use std::fmt;
use std::time::Duration;

use crate::duration::parse_go_duration;
use crate::error::{Error, Result};

/// A parameter value as YAML gave it (mirrors the WIT `config-value`).
#[derive(Clone, PartialEq)]
pub enum Value {
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A list of strings.
    List(Vec<String>),
}

/// Prints the value as Go's `fmt.Sprint` would, which the reference's messages use.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::List(l) => write!(f, "[{}]", l.join(" ")),
        }
    }
}

/// Values are printed, but a value may be a secret: `Debug` never shows it.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Value(..)")
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig(message)
}

/// A parameter list, read by name.
#[derive(Clone, Copy)]
pub struct Params<'a> {
    items: &'a [(String, Value)],
}

impl<'a> Params<'a> {
    /// Reads `items`.
    pub fn new(items: &'a [(String, Value)]) -> Self {
        Self { items }
    }

    /// Every `(key, value)` as given.
    pub fn items(&self) -> &'a [(String, Value)] {
        self.items
    }

    /// The last value given for `name` (any case).
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// A string parameter; absent gives `""`.
    pub fn string(&self, name: &str) -> Result<String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::Text(s)) => Ok(s.clone()),
            Some(Value::Int(i)) => Ok(i.to_string()),
            Some(Value::Float(x)) => Ok(x.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(Value::List(_)) => Err(invalid(format!(
                "the {name} parameter should be a string, not a list"
            ))),
        }
    }

    /// A non-empty string parameter, or `None`.
    pub fn optional(&self, name: &str) -> Result<Option<String>> {
        Ok(Some(self.string(name)?).filter(|s| !s.is_empty()))
    }

    /// A secret string: its value never reaches a message.
    pub fn secret(&self, name: &str) -> Result<String> {
        match self.get(name) {
            None => Ok(String::new()),
            Some(Value::Text(s)) => Ok(s.clone()),
            Some(Value::Int(i)) => Ok(i.to_string()),
            Some(_) => Err(invalid(format!("the {name} parameter should be a string"))),
        }
    }

    /// A boolean: YAML booleans as they are, strings by [`parse_bool`].
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        let bad = || invalid(format!("the {name} parameter should be a boolean"));
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Text(s)) => parse_bool(s).ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    /// A Go duration string (`30s`, `1m30s`, `250ms`) up to `max`; an
    /// integer is taken as seconds; absent or empty gives `default`.
    pub fn duration(&self, name: &str, default: Duration, max: Duration) -> Result<Duration> {
        let parsed = match self.get(name) {
            None => return Ok(default),
            Some(Value::Text(t)) if t.trim().is_empty() => return Ok(default),
            Some(Value::Text(t)) => parse_go_duration(t),
            Some(Value::Int(i)) => u64::try_from(*i).ok().map(Duration::from_secs),
            Some(_) => None,
        };
        match parsed {
            Some(d) if d <= max => Ok(d),
            _ => Err(invalid(format!(
                "{name} must be a duration such as 30s or 1m30s, at most {}s",
                max.as_secs()
            ))),
        }
    }

    /// An integer in `[min, max]`, typed or as a decimal string (trailing
    /// text such as `10MB` is refused; Go's `%d` scan would have read `10`).
    pub fn integer(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        let parsed: Option<i128> = match value {
            Value::Int(i) => Some(i128::from(*i)),
            Value::Text(s) => {
                let t = s.trim();
                let digits = t.strip_prefix('+').unwrap_or(t);
                let (neg, digits) = match digits.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, digits),
                };
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    digits
                        .parse::<i128>()
                        .ok()
                        .map(|n| if neg { -n } else { n })
                } else {
                    None
                }
            }
            // A YAML float (`5.24288e+06`) is not an integer to the reference either.
            Value::Float(_) | Value::Bool(_) | Value::List(_) => None,
        };
        let n = parsed.ok_or_else(|| {
            invalid(format!(
                "{name} parameter must be an integer, {value} invalid"
            ))
        })?;
        if n < i128::from(min) || n > i128::from(max) {
            return Err(invalid(format!(
                "the {name} {value} parameter should be a number between {min} and {max} (inclusive)"
            )));
        }
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_occurrence_of_a_key_wins_in_any_case() {
        let items = vec![
            ("Secure".to_owned(), Value::Text("true".into())),
            ("secure".to_owned(), Value::Bool(false)),
        ];
        assert!(!Params::new(&items).boolean("SECURE", true).unwrap());
    }

    #[test]
    fn go_parse_bool() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for x in ["yes", "tRUE", "", " true"] {
            assert_eq!(parse_bool(x), None, "{x}");
        }
    }
}
