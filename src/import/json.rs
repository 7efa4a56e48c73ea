//! Reading a tool's JSON with the path of each field, so a problem names the field
//! (`summary.total: required field is missing`).

use serde_json::Value;

use super::Problem;

/// A JSON value inside a tool's output, with the path that leads to it.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub value: &'a Value,
    /// Dotted path, empty for the document itself.
    path: String,
}

impl<'a> Node<'a> {
    /// The document's root.
    pub fn root(value: &'a Value) -> Node<'a> {
        Node {
            value,
            path: String::new(),
        }
    }

    /// Dotted path of this node, `(document)` for the root.
    pub fn path(&self) -> &str {
        if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        }
    }

    fn problem(&self, message: impl std::fmt::Display) -> Problem {
        Problem(format!("{}: {message}", self.path()))
    }

    fn child(&self, value: &'a Value, key: &str) -> Node<'a> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Node { value, path }
    }

    /// The field `key` when present and not null.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        let value = self.value.get(key).filter(|v| !v.is_null())?;
        Some(self.child(value, key))
    }

    /// The field `key`, or a problem naming it as missing.
    pub fn req(&self, key: &str) -> Result<Node<'a>, Problem> {
        self.get(key).ok_or_else(|| {
            let missing = self.child(&Value::Null, key);
            Problem(format!("{}: required field is missing", missing.path))
        })
    }

    /// A finite number; numeric strings count too (Gatling's `stats.js` quotes them).
    pub fn number(&self) -> Result<f64, Problem> {
        let number = match self.value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        number.filter(|n| n.is_finite()).ok_or_else(|| {
            self.problem(format!("expected a number, found {}", describe(self.value)))
        })
    }

    /// A non-negative integer count (an integral float such as `3.0` counts too).
    pub fn count(&self) -> Result<u64, Problem> {
        let number = self.number().map_err(|_| {
            self.problem(format!("expected a count, found {}", describe(self.value)))
        })?;
        super::count_from_f64(number).map_err(|message| self.problem(message))
    }

    /// The field `key` as a number, or a problem naming it.
    pub fn req_number(&self, key: &str) -> Result<f64, Problem> {
        self.req(key)?.number()
    }

    /// The field `key` as a number when present.
    pub fn opt_number(&self, key: &str) -> Result<Option<f64>, Problem> {
        self.get(key).map(|n| n.number()).transpose()
    }

    /// The field `key` as a count, or a problem naming it.
    pub fn req_count(&self, key: &str) -> Result<u64, Problem> {
        self.req(key)?.count()
    }

    /// A string.
    pub fn str(&self) -> Result<&'a str, Problem> {
        self.value.as_str().ok_or_else(|| {
            self.problem(format!("expected a string, found {}", describe(self.value)))
        })
    }

    /// The members of an object, each as a node.
    pub fn entries(&self) -> Result<Vec<(&'a str, Node<'a>)>, Problem> {
        let map = self.value.as_object().ok_or_else(|| {
            self.problem(format!(
                "expected an object, found {}",
                describe(self.value)
            ))
        })?;
        Ok(map
            .iter()
            .map(|(key, value)| (key.as_str(), self.child(value, key)))
            .collect())
    }

    /// The items of an array, each as a node (paths `name[i]`).
    pub fn items(&self) -> Result<Vec<Node<'a>>, Problem> {
        let items = self.value.as_array().ok_or_else(|| {
            self.problem(format!("expected an array, found {}", describe(self.value)))
        })?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }
}

/// A short description of a JSON value for messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Value::String(_) => "a long string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problems_name_the_field_path() {
        let value = json!({"summary": {"total": "x", "items": [1, {"a": null}]}});
        let root = Node::root(&value);
        let summary = root.req("summary").unwrap();
        assert_eq!(
            summary.req_number("total").unwrap_err().0,
            "summary.total: expected a number, found \"x\""
        );
        assert_eq!(
            summary.req("slowest").unwrap_err().0,
            "summary.slowest: required field is missing"
        );
        let list = summary.req("items").unwrap().items().unwrap();
        assert_eq!(
            list[1].req("a").unwrap_err().0,
            "summary.items[1].a: required field is missing"
        );
        assert_eq!(root.req("x").unwrap_err().0, "x: required field is missing");
    }

    #[test]
    fn counts_refuse_fractions_and_negatives() {
        let value = json!({"a": 2.5, "b": -1, "c": "7", "d": 3.0});
        let root = Node::root(&value);
        assert!(root.req_count("a").unwrap_err().0.starts_with("a: "));
        assert!(root.req_count("b").is_err());
        assert_eq!(root.req_count("c").unwrap(), 7);
        assert_eq!(root.req_count("d").unwrap(), 3);
    }
}
