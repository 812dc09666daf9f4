//! A small JSON Schema validator for the execution-apis OpenRPC document, enough for the keywords
//! it uses (`$ref`, `type`, `properties`, `required`, `additionalProperties`,
//! `patternProperties`, `items`, `oneOf`/`anyOf`/`allOf`/`not`, `enum`, `const`, `pattern`,
//! `minimum`/`maximum`). The rpc-compat runner uses it for spec-only vectors, whose results are
//! checked against the method's result schema instead of compared by value, as hive does.

use serde_json::Value;

/// The OpenRPC document.
pub(crate) struct OpenRpc {
    doc: Value,
}

impl OpenRpc {
    /// Loads the merged document.
    pub(crate) fn load(path: &std::path::Path) -> Self {
        let text = std::fs::read_to_string(path).expect("read openrpc document");
        Self {
            doc: serde_json::from_str(&text).expect("openrpc json"),
        }
    }

    /// Validates `result` against `method`'s result schema; `Err` names the first violation.
    pub(crate) fn validate_result(&self, method: &str, result: &Value) -> Result<(), String> {
        let methods = self.doc["methods"].as_array().expect("methods");
        let Some(spec) = methods.iter().find(|m| m["name"] == method) else {
            return Err(format!("method {method} is not in the OpenRPC document"));
        };
        self.check(&spec["result"]["schema"], result, "result")
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.resolve(self.doc.pointer(pointer).unwrap_or(&Value::Null))
            }
            None => schema,
        }
    }

    fn check(&self, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
        // `$ref` siblings (title, description) carry no constraints here.
        let schema = self.resolve(schema);
        let Some(object) = schema.as_object() else {
            return Ok(());
        };
        if let Some(types) = object.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !allowed.iter().any(|t| type_matches(t, value)) {
                return Err(format!("{path}: expected type {allowed:?}, got {value}"));
            }
        }
        if let Some(options) = object.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            return Err(format!("{path}: {value} not in enum {options:?}"));
        }
        if let Some(constant) = object.get("const")
            && constant != value
        {
            return Err(format!("{path}: expected const {constant}, got {value}"));
        }
        if let (Some(pattern), Some(text)) = (
            object.get("pattern").and_then(Value::as_str),
            value.as_str(),
        ) {
            let regex = regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
            if !regex.is_match(text) {
                return Err(format!("{path}: {text:?} does not match {pattern}"));
            }
        }
        if let Some(number) = value.as_f64() {
            if object
                .get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| number < m)
            {
                return Err(format!("{path}: {number} below minimum"));
            }
            if object
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| number > m)
            {
                return Err(format!("{path}: {number} above maximum"));
            }
        }
        if let Some(all) = object.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, value, path)?;
            }
        }
        if let Some(any) = object.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|sub| self.check(sub, value, path).is_ok())
        {
            return Err(format!("{path}: matches none of anyOf"));
        }
        if let Some(one) = object.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|sub| self.check(sub, value, path).is_ok())
                .count();
            if matching != 1 {
                let first_error = one
                    .iter()
                    .find_map(|sub| self.check(sub, value, path).err())
                    .unwrap_or_default();
                return Err(format!(
                    "{path}: matches {matching} of oneOf (exactly 1 needed); e.g. {first_error}"
                ));
            }
        }
        if let Some(not) = object.get("not")
            && self.check(not, value, path).is_ok()
        {
            return Err(format!("{path}: matches a `not` schema"));
        }
        if let Value::Object(fields) = value {
            let properties = object.get("properties").and_then(Value::as_object);
            let patterns = object.get("patternProperties").and_then(Value::as_object);
            if let Some(required) = object.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !fields.contains_key(name) {
                        return Err(format!("{path}: missing required `{name}`"));
                    }
                }
            }
            for (name, field) in fields {
                let field_path = format!("{path}.{name}");
                let mut known = false;
                if let Some(sub) = properties.and_then(|p| p.get(name)) {
                    known = true;
                    self.check(sub, field, &field_path)?;
                }
                for (pattern, sub) in patterns.into_iter().flatten() {
                    if regex::Regex::new(pattern).is_ok_and(|r| r.is_match(name)) {
                        known = true;
                        self.check(sub, field, &field_path)?;
                    }
                }
                if !known {
                    match object.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(format!("{path}: unexpected field `{name}`"));
                        }
                        Some(sub @ Value::Object(_)) => self.check(sub, field, &field_path)?,
                        _ => {}
                    }
                }
            }
        }
        if let (Value::Array(items), Some(item_schema)) = (value, object.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{i}]"))?;
            }
        }
        Ok(())
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "string" => value.is_string(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "number" => value.is_number(),
        _ => true,
    }
}

#[test]
fn the_validator_rejects_wrong_shapes() {
    let doc = OpenRpc::load(&crate::common::fixture(
        "execution-apis/openrpc.merged.json",
    ));
    assert!(
        doc.validate_result("eth_chainId", &serde_json::json!("0x1"))
            .is_ok()
    );
    assert!(
        doc.validate_result("eth_chainId", &serde_json::json!(1))
            .is_err()
    );
    assert!(
        doc.validate_result("eth_chainId", &serde_json::json!("0xzz"))
            .is_err()
    );
    let history = serde_json::json!({
        "oldestBlock": "0x1", "baseFeePerGas": ["0x1", "0x2"], "gasUsedRatio": [0.5]
    });
    assert!(doc.validate_result("eth_feeHistory", &history).is_ok());
    let mut missing = history.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("oldestBlock");
    assert!(doc.validate_result("eth_feeHistory", &missing).is_err());
    let mut extra = history;
    extra["unexpected"] = serde_json::json!(1);
    assert!(doc.validate_result("eth_feeHistory", &extra).is_err());
}
