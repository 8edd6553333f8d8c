//! Validates an OpenAPI document and lowers it to the generator's [`ir`](crate::ir).
//!
//! All problems are collected, not just the first, and each names the JSON pointer of the
//! offending node, so a maintainer fixes the spec in one pass.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use openapiv3::{
    AdditionalProperties, IntegerFormat, OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr,
    Schema, SchemaKind, StatusCode, Type, VariantOrUnknownOrEmpty,
};

use crate::ir::{
    Acceptor, AcceptorState, Api, Body, Comparator, Constraints, Field, HttpMethod, Operation,
    Param, ParamLocation, Response, Schema as IrSchema, SchemaKind as IrSchemaKind, Service,
    TypeRef, Waiter,
};
use crate::SpecProblem;

const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";
const JSON: &str = "application/json";
/// Names the generated code uses for its own fields; a parameter may not take them.
const RESERVED_PARAM_NAMES: &[&str] = &["body"];

/// Escapes one JSON pointer token (RFC 6901).
fn token(raw: &str) -> String {
    raw.replace('~', "~0").replace('/', "~1")
}

struct Lowering<'a> {
    doc: &'a OpenAPI,
    problems: Vec<SpecProblem>,
}

impl Lowering<'_> {
    fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(SpecProblem {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn component_schemas(&self) -> Option<&indexmap::IndexMap<String, ReferenceOr<Schema>>> {
        self.doc.components.as_ref().map(|c| &c.schemas)
    }

    /// Resolves a `$ref` to a component schema name, reporting it when it dangles.
    fn schema_ref(&mut self, pointer: &str, reference: &str) -> Option<String> {
        let Some(name) = reference.strip_prefix(SCHEMA_REF_PREFIX) else {
            self.problem(
                pointer,
                format!("`$ref: {reference}` must point into {SCHEMA_REF_PREFIX}"),
            );
            return None;
        };
        let exists = self
            .component_schemas()
            .is_some_and(|schemas| schemas.contains_key(name));
        if !exists {
            self.problem(
                pointer,
                format!("`$ref: {reference}` does not resolve: no schema named `{name}`"),
            );
            return None;
        }
        Some(name.to_owned())
    }

    fn services(&mut self) -> Vec<Service> {
        let mut services = Vec::new();
        for (index, server) in self.doc.servers.iter().enumerate() {
            let pointer = format!("/servers/{index}");
            match server.extensions.get("x-service").and_then(|v| v.as_str()) {
                Some(name) if !name.is_empty() => {
                    if services.iter().any(|s: &Service| s.name == name) {
                        self.problem(
                            format!("{pointer}/x-service"),
                            format!("service `{name}` is declared twice"),
                        );
                    }
                    services.push(Service {
                        name: name.to_owned(),
                        endpoint_template: server.url.clone(),
                    });
                }
                _ => self.problem(
                    pointer,
                    "every server needs an `x-service` name (a string) so operations can refer to it",
                ),
            }
        }
        if services.is_empty() {
            self.problem("/servers", "declare at least one server with `x-service`");
        }
        services
    }

    fn schemas(&mut self) -> BTreeMap<String, IrSchema> {
        let mut out = BTreeMap::new();
        let Some(schemas) = self.component_schemas() else {
            return out;
        };
        for (name, schema) in schemas.clone() {
            let pointer = format!("/components/schemas/{}", token(&name));
            if !name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                || !name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                self.problem(
                    &pointer,
                    "schema names must be PascalCase ASCII letters and digits",
                );
                continue;
            }
            let ReferenceOr::Item(schema) = schema else {
                self.problem(
                    &pointer,
                    "a component schema must be defined here, not be a `$ref`",
                );
                continue;
            };
            if let Some(kind) = self.named_schema_kind(&pointer, &schema) {
                out.insert(
                    name.clone(),
                    IrSchema {
                        name,
                        description: schema.schema_data.description.clone(),
                        kind,
                    },
                );
            }
        }
        out
    }

    fn named_schema_kind(&mut self, pointer: &str, schema: &Schema) -> Option<IrSchemaKind> {
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                let mut values = Vec::new();
                for (i, value) in string.enumeration.iter().enumerate() {
                    match value {
                        Some(v) if !v.is_empty() && !values.contains(v) => values.push(v.clone()),
                        _ => self.problem(
                            format!("{pointer}/enum/{i}"),
                            "enum values must be distinct non-empty strings",
                        ),
                    }
                }
                let mut variants = BTreeSet::from(["Unknown".to_owned()]);
                for (i, value) in values.iter().enumerate() {
                    let variant = crate::names::variant_name(value);
                    if variant.is_empty() || !variants.insert(variant.clone()) {
                        self.problem(
                            format!("{pointer}/enum/{i}"),
                            format!("`{value}` gives the variant name `{variant}`, which is empty or taken"),
                        );
                    }
                }
                Some(IrSchemaKind::Enum { values })
            }
            SchemaKind::Type(Type::Object(object)) if !object.properties.is_empty() => {
                let mut fields = Vec::new();
                let mut rust_names = BTreeSet::new();
                for (name, property) in &object.properties {
                    let property_pointer = format!("{pointer}/properties/{}", token(name));
                    if !rust_names.insert(name.to_snake_case()) {
                        self.problem(
                            &property_pointer,
                            format!("`{name}` collides with another property once converted to snake_case"),
                        );
                    }
                    let property = match property {
                        ReferenceOr::Reference { reference } => ReferenceOr::Reference {
                            reference: reference.clone(),
                        },
                        ReferenceOr::Item(boxed) => ReferenceOr::Item((**boxed).clone()),
                    };
                    let description = property
                        .as_item()
                        .and_then(|s| s.schema_data.description.clone());
                    let constraints = property.as_item().map(constraints_of).unwrap_or_default();
                    if let Some(ty) = self.type_ref(&property_pointer, &property) {
                        fields.push(Field {
                            json_name: name.clone(),
                            description,
                            ty,
                            required: object.required.contains(name),
                            constraints,
                        });
                    }
                }
                for (i, required) in object.required.iter().enumerate() {
                    if !object.properties.contains_key(required) {
                        self.problem(
                            format!("{pointer}/required/{i}"),
                            format!("required property `{required}` is not among the properties"),
                        );
                    }
                }
                Some(IrSchemaKind::Object { fields })
            }
            _ => {
                self.problem(
                    pointer,
                    "a named schema must be an object with `properties` or a string `enum`",
                );
                None
            }
        }
    }

    /// The type of a property, parameter or body: a primitive, a free-form object, an array,
    /// or a `$ref` to a named schema. Inline objects and enums are refused so that every
    /// generated type has a name from the spec.
    fn type_ref(&mut self, pointer: &str, schema: &ReferenceOr<Schema>) -> Option<TypeRef> {
        let schema = match schema {
            ReferenceOr::Reference { reference } => {
                return self.schema_ref(pointer, reference).map(TypeRef::Named);
            }
            ReferenceOr::Item(schema) => schema,
        };
        if schema.schema_data.nullable {
            self.problem(
                pointer,
                "`nullable` is not supported: leave the property out of `required` instead",
            );
        }
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                if !string.enumeration.is_empty() {
                    self.problem(
                        pointer,
                        "inline enums are not supported: move the enum to components/schemas and `$ref` it",
                    );
                    return None;
                }
                Some(TypeRef::String)
            }
            SchemaKind::Type(Type::Integer(integer)) => Some(match integer.format {
                VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32) => TypeRef::Int32,
                _ => TypeRef::Int64,
            }),
            SchemaKind::Type(Type::Number(_)) => Some(TypeRef::Number),
            SchemaKind::Type(Type::Boolean(_)) => Some(TypeRef::Boolean),
            SchemaKind::Type(Type::Array(array)) => {
                let Some(items) = &array.items else {
                    self.problem(pointer, "an array needs `items`");
                    return None;
                };
                let items = match items {
                    ReferenceOr::Reference { reference } => ReferenceOr::Reference {
                        reference: reference.clone(),
                    },
                    ReferenceOr::Item(boxed) => ReferenceOr::Item((**boxed).clone()),
                };
                self.type_ref(&format!("{pointer}/items"), &items)
                    .map(|t| TypeRef::Array(Box::new(t)))
            }
            SchemaKind::Type(Type::Object(object)) => {
                if !object.properties.is_empty() {
                    self.problem(
                        pointer,
                        "inline objects with properties are not supported: name the schema in components/schemas and `$ref` it",
                    );
                    return None;
                }
                if let Some(AdditionalProperties::Schema(_)) = object.additional_properties {
                    self.problem(
                        format!("{pointer}/additionalProperties"),
                        "typed maps are not supported: use `additionalProperties: true`",
                    );
                    return None;
                }
                Some(TypeRef::JsonValue)
            }
            SchemaKind::Any(any) if any.typ.is_none() && any.properties.is_empty() => {
                Some(TypeRef::JsonValue)
            }
            _ => {
                self.problem(
                    pointer,
                    "unsupported schema: use a primitive type, an array, a free-form object or a `$ref`",
                );
                None
            }
        }
    }

    fn operations(&mut self, services: &[Service]) -> Vec<Operation> {
        let mut operations = Vec::new();
        let mut ids = BTreeMap::<String, String>::new();
        for (path, item) in &self.doc.paths.paths {
            let path_pointer = format!("/paths/{}", token(path));
            let ReferenceOr::Item(item) = item else {
                self.problem(&path_pointer, "path items must be defined inline");
                continue;
            };
            if !item.parameters.is_empty() {
                self.problem(
                    format!("{path_pointer}/parameters"),
                    "path-level parameters are not supported: list them on each operation",
                );
            }
            let methods = [
                ("get", HttpMethod::Get, &item.get),
                ("post", HttpMethod::Post, &item.post),
                ("put", HttpMethod::Put, &item.put),
                ("patch", HttpMethod::Patch, &item.patch),
                ("delete", HttpMethod::Delete, &item.delete),
            ];
            for (verb, method, operation) in methods {
                let Some(operation) = operation else { continue };
                let pointer = format!("{path_pointer}/{verb}");
                if let Some(op) = self.operation(&pointer, path, method, operation, services) {
                    if let Some(first) = ids.insert(op.id.clone(), pointer.clone()) {
                        self.problem(
                            format!("{pointer}/operationId"),
                            format!("operationId `{}` is already used at {first}", op.id),
                        );
                    } else {
                        operations.push(op);
                    }
                }
            }
            for (verb, other) in [
                ("head", &item.head),
                ("options", &item.options),
                ("trace", &item.trace),
            ] {
                if other.is_some() {
                    self.problem(
                        format!("{path_pointer}/{verb}"),
                        format!("{verb} operations are not supported"),
                    );
                }
            }
        }
        operations
    }

    fn operation(
        &mut self,
        pointer: &str,
        path: &str,
        method: HttpMethod,
        operation: &openapiv3::Operation,
        services: &[Service],
    ) -> Option<Operation> {
        let id = match &operation.operation_id {
            Some(id)
                if id.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                id.clone()
            }
            _ => {
                self.problem(
                    format!("{pointer}/operationId"),
                    "every operation needs a PascalCase `operationId`",
                );
                return None;
            }
        };
        let service = match operation
            .extensions
            .get("x-service")
            .and_then(|v| v.as_str())
        {
            Some(name) if services.iter().any(|s| s.name == name) => name.to_owned(),
            Some(name) => {
                self.problem(
                    format!("{pointer}/x-service"),
                    format!("service `{name}` is not declared in /servers"),
                );
                return None;
            }
            None => {
                self.problem(
                    pointer,
                    "every operation needs `x-service` naming one of /servers",
                );
                return None;
            }
        };

        let params = self.params(pointer, path, operation);
        let body = self.body(pointer, operation);
        let (success, errors) = self.responses(pointer, operation)?;
        let waiters = self.waiters(pointer, operation, &success);
        Some(Operation {
            id,
            service,
            method,
            path: path.to_owned(),
            summary: operation.summary.clone(),
            description: operation.description.clone(),
            params,
            body,
            success,
            errors,
            waiters,
        })
    }

    fn params(
        &mut self,
        pointer: &str,
        path: &str,
        operation: &openapiv3::Operation,
    ) -> Vec<Param> {
        let mut params = Vec::new();
        let mut rust_names = BTreeSet::new();
        // Declared even when invalid, so a bad parameter is reported once, not again as a
        // missing placeholder.
        let mut declared_path_names = BTreeSet::new();
        for (index, parameter) in operation.parameters.iter().enumerate() {
            let param_pointer = format!("{pointer}/parameters/{index}");
            let ReferenceOr::Item(parameter) = parameter else {
                self.problem(
                    &param_pointer,
                    "parameters must be defined inline, not by `$ref`",
                );
                continue;
            };
            let (data, location) = match parameter {
                Parameter::Path { parameter_data, .. } => (parameter_data, ParamLocation::Path),
                Parameter::Query { parameter_data, .. } => (parameter_data, ParamLocation::Query),
                Parameter::Header { parameter_data, .. } => (parameter_data, ParamLocation::Header),
                Parameter::Cookie { .. } => {
                    self.problem(&param_pointer, "cookie parameters are not supported");
                    continue;
                }
            };
            if location == ParamLocation::Path {
                declared_path_names.insert(data.name.clone());
            }
            let ParameterSchemaOrContent::Schema(schema) = &data.format else {
                self.problem(
                    &param_pointer,
                    "a parameter needs a `schema` (not `content`)",
                );
                continue;
            };
            let schema_pointer = format!("{param_pointer}/schema");
            let Some(ty) = self.type_ref(&schema_pointer, schema) else {
                continue;
            };
            if !self.is_scalar(&ty) {
                self.problem(
                    &schema_pointer,
                    "parameters must be strings, numbers, booleans or string enums",
                );
                continue;
            }
            let client_param = data
                .extensions
                .get("x-client-param")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let rust_name = data.name.to_snake_case();
            if client_param.is_none() {
                if RESERVED_PARAM_NAMES.contains(&rust_name.as_str()) {
                    self.problem(
                        format!("{param_pointer}/name"),
                        format!("`{}` is reserved for the request body", data.name),
                    );
                }
                if !rust_names.insert(rust_name) {
                    self.problem(
                        format!("{param_pointer}/name"),
                        format!(
                            "`{}` collides with another parameter once converted to snake_case",
                            data.name
                        ),
                    );
                }
            }
            if location == ParamLocation::Path {
                if !data.required {
                    self.problem(&param_pointer, "path parameters must be `required: true`");
                }
                if !path.contains(&format!("{{{}}}", data.name)) {
                    self.problem(
                        &param_pointer,
                        format!("the path has no `{{{}}}` placeholder", data.name),
                    );
                }
            }
            params.push(Param {
                name: data.name.clone(),
                location,
                required: data.required,
                description: data.description.clone(),
                ty,
                constraints: schema.as_item().map(constraints_of).unwrap_or_default(),
                client_param,
            });
        }
        for placeholder in placeholders(path) {
            if !declared_path_names.contains(placeholder) {
                self.problem(
                    format!("{pointer}/parameters"),
                    format!("the path placeholder `{{{placeholder}}}` has no path parameter"),
                );
            }
        }
        params
    }

    fn is_scalar(&self, ty: &TypeRef) -> bool {
        match ty {
            TypeRef::String | TypeRef::Int32 | TypeRef::Int64 | TypeRef::Number | TypeRef::Boolean => true,
            TypeRef::Named(name) => self
                .component_schemas()
                .and_then(|s| s.get(name))
                .and_then(ReferenceOr::as_item)
                .is_some_and(|s| matches!(&s.schema_kind, SchemaKind::Type(Type::String(st)) if !st.enumeration.is_empty())),
            _ => false,
        }
    }

    fn body(&mut self, pointer: &str, operation: &openapiv3::Operation) -> Option<Body> {
        let body = operation.request_body.as_ref()?;
        let body_pointer = format!("{pointer}/requestBody");
        let ReferenceOr::Item(body) = body else {
            self.problem(&body_pointer, "request bodies must be defined inline");
            return None;
        };
        let Some(schema) = body.content.get(JSON).and_then(|m| m.schema.as_ref()) else {
            self.problem(
                format!("{body_pointer}/content"),
                format!("only `{JSON}` request bodies with a schema are supported"),
            );
            return None;
        };
        let ty = self.type_ref(
            &format!("{body_pointer}/content/{}/schema", token(JSON)),
            schema,
        )?;
        Some(Body {
            ty,
            required: body.required,
            description: body.description.clone(),
        })
    }

    fn responses(
        &mut self,
        pointer: &str,
        operation: &openapiv3::Operation,
    ) -> Option<(Response, Vec<Response>)> {
        let mut success = Vec::new();
        let mut errors = Vec::new();
        for (status, response) in &operation.responses.responses {
            let response_pointer = format!("{pointer}/responses/{status}");
            let StatusCode::Code(code) = status else {
                self.problem(
                    &response_pointer,
                    "status ranges (`4XX`) are not supported: list each status",
                );
                continue;
            };
            let ReferenceOr::Item(response) = response else {
                self.problem(&response_pointer, "responses must be defined inline");
                continue;
            };
            let ty = match response.content.get(JSON) {
                Some(media) => match &media.schema {
                    Some(schema) => self.type_ref(
                        &format!("{response_pointer}/content/{}/schema", token(JSON)),
                        schema,
                    ),
                    None => {
                        self.problem(&response_pointer, "a JSON response needs a schema");
                        None
                    }
                },
                None => None,
            };
            let response = Response {
                status: *code,
                description: response.description.clone(),
                ty,
            };
            if (200..300).contains(code) {
                success.push(response);
            } else {
                errors.push(response);
            }
        }
        if operation.responses.default.is_some() {
            self.problem(
                format!("{pointer}/responses/default"),
                "`default` responses are not supported: list each status",
            );
        }
        match success.len() {
            1 => success.pop().map(|s| (s, errors)),
            0 => {
                self.problem(
                    format!("{pointer}/responses"),
                    "an operation needs one 2xx response",
                );
                None
            }
            _ => {
                self.problem(
                    format!("{pointer}/responses"),
                    "only one 2xx response per operation is supported",
                );
                None
            }
        }
    }

    fn waiters(
        &mut self,
        pointer: &str,
        operation: &openapiv3::Operation,
        success: &Response,
    ) -> Vec<Waiter> {
        let Some(raw) = operation.extensions.get("x-waiters") else {
            return Vec::new();
        };
        let waiters_pointer = format!("{pointer}/x-waiters");
        let raw: BTreeMap<String, RawWaiter> = match serde_json::from_value(raw.clone()) {
            Ok(raw) => raw,
            Err(error) => {
                self.problem(&waiters_pointer, format!("not a map of waiters: {error}"));
                return Vec::new();
            }
        };
        if success.ty.is_none() {
            self.problem(
                &waiters_pointer,
                "waiters need an operation whose 2xx response has a JSON body",
            );
            return Vec::new();
        }
        let mut waiters = Vec::new();
        for (name, waiter) in raw {
            let waiter_pointer = format!("{waiters_pointer}/{}", token(&name));
            if !name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                || !name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                self.problem(&waiter_pointer, "waiter names must be PascalCase");
                continue;
            }
            if waiter.min_delay == 0 || waiter.min_delay > waiter.max_delay {
                self.problem(&waiter_pointer, "need 0 < minDelay <= maxDelay (seconds)");
                continue;
            }
            if waiter.acceptors.is_empty() {
                self.problem(
                    format!("{waiter_pointer}/acceptors"),
                    "a waiter needs at least one acceptor",
                );
                continue;
            }
            let mut acceptors = Vec::new();
            for (i, acceptor) in waiter.acceptors.into_iter().enumerate() {
                if acceptor.matcher.path.is_empty() {
                    self.problem(
                        format!("{waiter_pointer}/acceptors/{i}/matcher/path"),
                        "the path must not be empty",
                    );
                    continue;
                }
                acceptors.push(Acceptor {
                    state: acceptor.state,
                    path: acceptor.matcher.path,
                    comparator: acceptor.matcher.comparator,
                    expected: acceptor.matcher.expected,
                });
            }
            waiters.push(Waiter {
                name,
                description: waiter.description,
                min_delay_secs: waiter.min_delay,
                max_delay_secs: waiter.max_delay,
                acceptors,
            });
        }
        waiters
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawWaiter {
    description: Option<String>,
    min_delay: u64,
    max_delay: u64,
    acceptors: Vec<RawAcceptor>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcceptor {
    state: AcceptorState,
    matcher: RawMatcher,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    path: String,
    comparator: Comparator,
    expected: String,
}

impl<'de> serde::Deserialize<'de> for AcceptorState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "success" => Ok(Self::Success),
            "failure" => Ok(Self::Failure),
            "retry" => Ok(Self::Retry),
            other => Err(serde::de::Error::custom(format!(
                "unknown acceptor state `{other}` (expected success, failure or retry)"
            ))),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Comparator {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "stringEquals" => Ok(Self::StringEquals),
            "anyStringEquals" => Ok(Self::AnyStringEquals),
            "allStringEquals" => Ok(Self::AllStringEquals),
            other => Err(serde::de::Error::custom(format!(
                "unknown comparator `{other}` (expected stringEquals, anyStringEquals or allStringEquals)"
            ))),
        }
    }
}

fn constraints_of(schema: &Schema) -> Constraints {
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(s)) => Constraints {
            min_length: s.min_length,
            max_length: s.max_length,
            pattern: s.pattern.clone(),
            ..Constraints::default()
        },
        SchemaKind::Type(Type::Integer(i)) => Constraints {
            minimum: i.minimum.map(|v| v as f64),
            maximum: i.maximum.map(|v| v as f64),
            ..Constraints::default()
        },
        SchemaKind::Type(Type::Number(n)) => Constraints {
            minimum: n.minimum,
            maximum: n.maximum,
            ..Constraints::default()
        },
        _ => Constraints::default(),
    }
}

/// The `{name}` placeholders of a path template.
pub(crate) fn placeholders(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Lowers a parsed document, or returns every problem found.
pub fn lower(doc: &OpenAPI) -> Result<Api, Vec<SpecProblem>> {
    let mut lowering = Lowering {
        doc,
        problems: Vec::new(),
    };
    if !doc.openapi.starts_with("3.0") {
        lowering.problem(
            "/openapi",
            format!("OpenAPI {} is not supported (3.0.x only)", doc.openapi),
        );
    }
    let services = lowering.services();
    let schemas = lowering.schemas();
    let operations = lowering.operations(&services);
    if lowering.problems.is_empty() {
        Ok(Api {
            title: doc.info.title.clone(),
            spec_sha256: String::new(),
            services,
            schemas,
            operations,
        })
    } else {
        Err(lowering.problems)
    }
}
