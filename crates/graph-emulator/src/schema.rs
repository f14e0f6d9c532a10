//! Microsoft's v1.0 schema (a subset of `v1.0-Prod.csdl`, embedded from
//! `schema/graph-schema-v1.0.json`) and the checks that keep the emulator's input and output
//! shaped like Graph's: property names, JSON types, complex types recursively.
//!
//! Choices where Graph's behaviour is not documented (the stricter one):
//! - elements of a collection may not be `null`;
//! - a complex type without declared properties (`customSecurityAttributeValue`) is open and
//!   takes any object; every other complex value must use declared properties only;
//! - navigation properties (`manager`, `memberOf`, ...) are refused: they are relationships,
//!   not data, and Graph never takes them inline.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::hash::FastMap;

const SCHEMA_JSON: &str = include_str!("../schema/graph-schema-v1.0.json");

/// One declared property of an entity or complex type.
#[derive(Debug, Clone, Deserialize)]
pub struct PropertyDef {
    /// `Edm.String`, `Collection(microsoft.graph.objectIdentity)`, ...
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether `null` is a valid value (collections: whether the collection may be null).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Navigation property (a relationship): never accepted inline.
    #[serde(default)]
    pub navigation: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct TypeDef {
    base: Option<String>,
    kind: String,
    properties: HashMap<String, PropertyDef>,
}

#[derive(Debug, Deserialize)]
struct SchemaFile {
    enums: HashMap<String, Vec<String>>,
    types: HashMap<String, TypeDef>,
}

/// The parsed schema; get it with [`schema()`].
#[derive(Debug)]
pub struct Schema {
    enums: FastMap<String, Vec<String>>,
    types: HashMap<String, TypeDef>,
    /// Per type, its properties with those of its base types: one lookup per property
    /// while validating, instead of one per type up the chain.
    flat: FastMap<String, FlatType>,
}

/// A type with its base types' properties folded in.
#[derive(Debug)]
struct FlatType {
    /// A complex type (not an entity).
    complex: bool,
    /// A complex type without declared properties: takes any object.
    open: bool,
    properties: FastMap<String, PropertyDef>,
}

impl Schema {
    fn new(enums: HashMap<String, Vec<String>>, types: HashMap<String, TypeDef>) -> Self {
        let flat = types
            .iter()
            .map(|(name, def)| {
                let mut properties = FastMap::default();
                let mut current = Some(name.as_str());
                while let Some(def) = current.and_then(|t| types.get(t)) {
                    for (p, d) in &def.properties {
                        // The most derived declaration wins, as in `property` before.
                        properties.entry(p.clone()).or_insert_with(|| d.clone());
                    }
                    current = def.base.as_deref();
                }
                let complex = def.kind == "ComplexType";
                let flat = FlatType {
                    complex,
                    open: complex && def.properties.is_empty(),
                    properties,
                };
                (name.clone(), flat)
            })
            .collect();
        Schema {
            enums: enums.into_iter().collect(),
            types,
            flat,
        }
    }
}

/// Why a value does not fit the schema: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON path of the offending value, e.g. `users[3].mial`.
    pub path: String,
    /// The property name at fault (last path segment), for Graph's error messages.
    pub property: String,
    /// What kind of problem it is.
    pub kind: SchemaErrorKind,
    /// Human text, e.g. `not a property of microsoft.graph.user`.
    pub message: String,
}

/// The kinds of [`SchemaError`], which map to different Graph error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaErrorKind {
    /// The type declares no such property.
    Unknown,
    /// A navigation property was given inline.
    Navigation,
    /// The JSON type or format does not fit the declared type.
    WrongType,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The embedded schema, parsed once.
///
/// The file is part of the crate, so a parse failure is a build defect; an empty schema is
/// returned then (every property would be refused, which the tests catch at once).
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| match serde_json::from_str::<SchemaFile>(SCHEMA_JSON) {
        Ok(file) => Schema::new(file.enums, file.types),
        Err(e) => {
            tracing::error!("embedded Graph schema does not parse: {e}");
            Schema::new(HashMap::new(), HashMap::new())
        }
    })
}

/// Whether a JSON key is an OData annotation (`@odata.type`, `mail@odata.type`, ...), which
/// Graph accepts anywhere in a request body.
pub fn is_annotation(key: &str) -> bool {
    key.starts_with('@') || key.contains("@odata.")
}

impl Schema {
    /// The declaration of `name` on `type_name` or one of its base types.
    pub fn property(&self, type_name: &str, name: &str) -> Option<&PropertyDef> {
        self.flat.get(type_name)?.properties.get(name)
    }

    /// All non-navigation property names of a type, base types included, sorted.
    pub fn structural_properties(&self, type_name: &str) -> Vec<&str> {
        let mut names = Vec::new();
        let mut current = Some(type_name);
        while let Some(t) = current {
            let Some(def) = self.types.get(t) else { break };
            names.extend(
                def.properties
                    .iter()
                    .filter(|(_, p)| !p.navigation)
                    .map(|(n, _)| n.as_str()),
            );
            current = def.base.as_deref();
        }
        names.sort_unstable();
        names
    }

    /// What Graph returns for a property the object doesn't carry: `[]` for collections,
    /// `null` when nullable, else the type's default value.
    pub fn absent_value(&self, type_name: &str, name: &str) -> Value {
        let Some(p) = self.property(type_name, name) else {
            return Value::Null;
        };
        if p.ty.starts_with("Collection(") {
            return Value::Array(Vec::new());
        }
        if p.nullable {
            return Value::Null;
        }
        match (name, p.ty.as_str()) {
            ("deviceEnrollmentLimit", _) => Value::from(5),
            (_, "Edm.DateTimeOffset") => Value::from("0001-01-01T00:00:00Z"),
            (_, "Edm.Boolean") => Value::Bool(false),
            (_, "Edm.Int32" | "Edm.Int64") => Value::from(0),
            (_, "Edm.String") => Value::from(""),
            _ => Value::Null,
        }
    }

    /// Whether the type of a property is a collection.
    pub fn is_collection(&self, type_name: &str, name: &str) -> bool {
        self.property(type_name, name)
            .is_some_and(|p| p.ty.starts_with("Collection("))
    }

    /// Checks a JSON object against an entity or complex type.
    ///
    /// `path` prefixes error paths (`users[3]`); annotations are skipped when
    /// `allow_annotations` (request bodies), refused otherwise.
    pub fn validate_object(
        &self,
        type_name: &str,
        value: &Value,
        path: &str,
        allow_annotations: bool,
    ) -> Result<(), SchemaError> {
        self.check_object(type_name, value, &At::Root(path), allow_annotations)
    }

    fn check_object(
        &self,
        type_name: &str,
        value: &Value,
        at: &At<'_>,
        allow_annotations: bool,
    ) -> Result<(), SchemaError> {
        let Some(object) = value.as_object() else {
            return Err(wrong_type(&at.to_string(), type_name, value));
        };
        let flat = self.flat.get(type_name);
        if flat.is_some_and(|t| t.open) {
            return Ok(());
        }
        for (key, v) in object {
            if allow_annotations && is_annotation(key) {
                continue;
            }
            let child = At::Key(at, key);
            let Some(def) = flat.and_then(|t| t.properties.get(key)) else {
                return Err(SchemaError {
                    path: child.to_string(),
                    property: key.clone(),
                    kind: SchemaErrorKind::Unknown,
                    message: format!("not a property of {type_name}"),
                });
            };
            if def.navigation {
                return Err(SchemaError {
                    path: child.to_string(),
                    property: key.clone(),
                    kind: SchemaErrorKind::Navigation,
                    message: format!("a navigation property of {type_name}, not accepted inline"),
                });
            }
            self.check_value(&def.ty, def.nullable, v, &child, key, allow_annotations)?;
        }
        Ok(())
    }

    fn check_value(
        &self,
        ty: &str,
        nullable: bool,
        value: &Value,
        at: &At<'_>,
        property: &str,
        allow_annotations: bool,
    ) -> Result<(), SchemaError> {
        let err = |message: String| SchemaError {
            path: at.to_string(),
            property: property.to_owned(),
            kind: SchemaErrorKind::WrongType,
            message,
        };
        if value.is_null() {
            return if nullable {
                Ok(())
            } else {
                Err(err(format!("{ty} may not be null")))
            };
        }
        if let Some(inner) = ty
            .strip_prefix("Collection(")
            .and_then(|t| t.strip_suffix(')'))
        {
            let Some(items) = value.as_array() else {
                return Err(err(format!(
                    "expected an array ({ty}), found {}",
                    kind(value)
                )));
            };
            for (i, item) in items.iter().enumerate() {
                let element = At::Index(at, i);
                self.check_value(inner, false, item, &element, property, allow_annotations)?;
            }
            return Ok(());
        }
        let ok = match ty {
            "Edm.String" => value.is_string(),
            "Edm.Boolean" => value.is_boolean(),
            "Edm.Int32" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "Edm.Int64" => value.is_i64(),
            "Edm.DateTimeOffset" => value
                .as_str()
                .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok()),
            "Edm.Guid" => value
                .as_str()
                .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
            "Edm.TimeOfDay" => value
                .as_str()
                .is_some_and(|s| s.parse::<jiff::civil::Time>().is_ok()),
            other => {
                if let Some(members) = self.enums.get(other) {
                    value
                        .as_str()
                        .is_some_and(|s| members.iter().any(|m| m == s))
                } else if self.flat.get(other).is_some_and(|t| t.complex) {
                    return self.check_object(other, value, at, allow_annotations);
                } else {
                    return Err(err(format!("values of type {other} are not accepted")));
                }
            }
        };
        if ok {
            Ok(())
        } else {
            Err(err(format!("expected {ty}, found {}", describe(value))))
        }
    }
}

/// Where a value sits, as a chain of borrowed segments: the path text (`users[3].mial`) is
/// built only for an error, since formatting it for each of the millions of values of a
/// 100,000-user tenant was most of the cost of validating it.
enum At<'a> {
    /// The caller's prefix (may be empty).
    Root(&'a str),
    /// A property of the parent.
    Key(&'a At<'a>, &'a str),
    /// An element of the parent array.
    Index(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(path) => f.write_str(path),
            At::Key(At::Root(""), key) => f.write_str(key),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn wrong_type(path: &str, type_name: &str, value: &Value) -> SchemaError {
    SchemaError {
        path: path.to_owned(),
        property: path.rsplit('.').next().unwrap_or(path).to_owned(),
        kind: SchemaErrorKind::WrongType,
        message: format!("expected an object ({type_name}), found {}", kind(value)),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        other => kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "microsoft.graph.user";

    #[test]
    fn accepts_a_graph_shaped_user() {
        let user = json!({
            "id": "d0000000-0000-4000-8000-000000000001",
            "accountEnabled": true,
            "otherMails": ["a@b.com"],
            "identities": [{"signInType": "userPrincipalName", "issuer": "x", "issuerAssignedId": "y"}],
            "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled",
                "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0",
                "assignedDateTime": "2024-01-01T00:00:00Z"}],
            "externalUserStateChangeDateTime": "2024-05-01T10:00:00Z",
            "deletedDateTime": null,
            "customSecurityAttributes": {"Set": {"a": 1}}
        });
        assert_eq!(
            schema().validate_object(USER, &user, "users[0]", false),
            Ok(())
        );
    }

    #[test]
    fn names_the_path_of_an_unknown_property() {
        let e = schema()
            .validate_object(USER, &json!({"mial": "x"}), "users[3]", false)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "users[3].mial: not a property of microsoft.graph.user"
        );
        assert_eq!(e.kind, SchemaErrorKind::Unknown);
    }

    #[test]
    fn refuses_wrong_json_types_recursively() {
        let cases = [
            (json!({"accountEnabled": "true"}), "users[0].accountEnabled"),
            (json!({"otherMails": "a@b.com"}), "users[0].otherMails"),
            (json!({"otherMails": [1]}), "users[0].otherMails[0]"),
            (
                json!({"identities": [{"issuer": 5}]}),
                "users[0].identities[0].issuer",
            ),
            (
                json!({"identities": [{"isuer": "x"}]}),
                "users[0].identities[0].isuer",
            ),
            (
                json!({"createdDateTime": "yesterday"}),
                "users[0].createdDateTime",
            ),
            (
                json!({"deviceEnrollmentLimit": 1.5}),
                "users[0].deviceEnrollmentLimit",
            ),
            (json!({"proxyAddresses": null}), "users[0].proxyAddresses"),
            (
                json!({"assignedPlans": [{"servicePlanId": "nope"}]}),
                "users[0].assignedPlans[0].servicePlanId",
            ),
        ];
        for (value, path) in cases {
            let e = schema()
                .validate_object(USER, &value, "users[0]", false)
                .unwrap_err();
            assert_eq!(e.path, path, "{value}");
        }
    }

    #[test]
    fn refuses_navigation_properties_and_handles_annotations() {
        let e = schema()
            .validate_object(USER, &json!({"manager": {"id": "x"}}), "", false)
            .unwrap_err();
        assert_eq!(e.kind, SchemaErrorKind::Navigation);
        let body = json!({"@odata.type": "#microsoft.graph.user", "mail": "a@b.com"});
        assert!(schema().validate_object(USER, &body, "", true).is_ok());
        assert!(schema().validate_object(USER, &body, "", false).is_err());
    }

    #[test]
    fn lists_structural_properties_with_base_types() {
        let names = schema().structural_properties(USER);
        assert!(names.contains(&"id"));
        assert!(names.contains(&"deletedDateTime"));
        assert!(names.contains(&"mail"));
        assert!(!names.contains(&"manager"));
    }
}
