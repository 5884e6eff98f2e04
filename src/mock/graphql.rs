//! GraphQL: the embedded schema, request validation (apollo-compiler) and execution.
//!
//! Execution uses apollo-compiler's spec executor, so aliases, `__typename`,
//! fragments, `@skip`/`@include`, list and null handling and introspection
//! (`__schema`, `__type`) follow the GraphQL specification; this module supplies
//! resolvers for the root fields, and Shopify's (graphql-ruby's) wording for the
//! errors Shopify's clients meet first: operation selection and misused directives.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use apollo_compiler::ast::{DirectiveList, DirectiveLocation, OperationType};
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::response::{GraphQLError, JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::MockError;
use super::resolvers::Root;
use super::state::State;
use crate::Operation;

/// What apollo-compiler's executor puts before a resolver's `FieldError` message.
const RESOLVER_ERROR_PREFIX: &str = "resolver error: ";

const SCHEMA_SDL: &str = include_str!("../../graphql/schema.graphql");

/// The parsed and validated schema, shared by every server in the process.
pub(crate) fn schema() -> Result<Arc<Valid<Schema>>, MockError> {
    static SCHEMA: OnceLock<Result<Arc<Valid<Schema>>, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Schema::parse_and_validate(SCHEMA_SDL, "schema.graphql")
                .map(Arc::new)
                .map_err(|e| e.errors.to_string())
        })
        .clone()
        .map_err(MockError::Schema)
}

/// The JSON body of a GraphQL-over-HTTP request.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphqlRequest {
    query: String,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<JsonMap>,
}

impl GraphqlRequest {
    /// An `application/graphql` request: the body is the document; the operation
    /// name and variables may come from the URL's query string.
    pub(crate) fn from_document(
        query: String,
        operation_name: Option<String>,
        variables: Option<JsonMap>,
    ) -> Self {
        GraphqlRequest {
            query,
            operation_name,
            variables,
        }
    }
}

/// A request that passed validation and variable coercion.
#[derive(Debug)]
pub(crate) struct Ready {
    document: Arc<Valid<ExecutableDocument>>,
    operation_name: Option<String>,
    variables: Valid<JsonMap>,
}

/// A parsed request: the root fields it selects (for the counters) and either
/// a runnable request or the validation errors to send back.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) operations: Vec<Operation>,
    pub(crate) outcome: Result<Ready, Vec<Value>>,
}

/// Parses, validates and coerces variables.
/// Documents already validated, by their text: clients send the same few
/// documents again and again, as Shopify's own cache assumes.
#[derive(Debug, Default)]
pub(crate) struct DocumentCache {
    documents: Mutex<HashMap<String, Arc<Valid<ExecutableDocument>>>>,
}

/// Distinct documents the cache keeps; more are validated every time.
const CACHED_DOCUMENTS: usize = 64;

impl DocumentCache {
    fn get(&self, query: &str) -> Option<Arc<Valid<ExecutableDocument>>> {
        self.documents.lock().ok()?.get(query).cloned()
    }

    fn put(&self, query: String, document: Arc<Valid<ExecutableDocument>>) {
        if let Ok(mut documents) = self.documents.lock() {
            if documents.len() < CACHED_DOCUMENTS {
                documents.insert(query, document);
            }
        }
    }
}

pub(crate) fn prepare(
    schema: &Valid<Schema>,
    cache: &DocumentCache,
    request: GraphqlRequest,
) -> Prepared {
    let GraphqlRequest {
        query,
        operation_name,
        variables,
    } = request;
    let cached = cache.get(&query);
    let document = match cached {
        Some(document) => Ok(document),
        None => ExecutableDocument::parse_and_validate(schema, query.as_str(), "request.graphql")
            .map(|document| {
                let document = Arc::new(document);
                cache.put(query, Arc::clone(&document));
                document
            }),
    };
    let document = match document {
        Ok(document) => document,
        Err(with_errors) => {
            let operations = root_operations(&with_errors.partial, operation_name.as_deref());
            // Misused directives get graphql-ruby's errors (Shopify's), in place of
            // apollo-compiler's for the same mistakes.
            let mut errors = directive_errors(schema, &with_errors.partial);
            let replaced = !errors.is_empty();
            errors.extend(
                with_errors
                    .errors
                    .iter()
                    .filter(|diagnostic| !(replaced && is_directive_diagnostic(diagnostic)))
                    .map(|diagnostic| validation_error(diagnostic.to_json())),
            );
            return Prepared {
                operations,
                outcome: Err(errors),
            };
        }
    };
    let operations = root_operations(&document, operation_name.as_deref());
    let selected = match document.operations.get(operation_name.as_deref()) {
        Ok(op) => op,
        Err(_) => {
            // graphql-ruby's `OperationNameMissingError`, which Shopify answers.
            let message = match &operation_name {
                None => "An operation name is required".to_owned(),
                Some(name) => format!("No operation named \"{name}\""),
            };
            return Prepared {
                operations,
                outcome: Err(vec![json!({ "message": message })]),
            };
        }
    };
    let coerced = coerce_variable_values(schema, selected, &variables.unwrap_or_default());
    let outcome = match coerced {
        Ok(variables) => Ok(Ready {
            document,
            operation_name,
            variables,
        }),
        Err(error) => Err(vec![validation_error(
            error.to_graphql_error(&document.sources),
        )]),
    };
    Prepared {
        operations,
        outcome,
    }
}

/// Whether apollo-compiler reported a directive mistake that [`directive_errors`] words
/// as Shopify does.
fn is_directive_diagnostic(
    diagnostic: &apollo_compiler::diagnostic::Diagnostic<
        '_,
        apollo_compiler::validation::DiagnosticData,
    >,
) -> bool {
    match diagnostic.error.unstable_error_name() {
        Some("UndefinedDirective" | "UnsupportedLocation") => true,
        Some("UndefinedArgument") => diagnostic.error.to_string().contains("by `@"),
        _ => false,
    }
}

/// graphql-ruby's validation errors for undefined directives, directives in a place
/// they cannot be used and unknown directive arguments, with its `extensions`.
fn directive_errors(schema: &Schema, document: &ExecutableDocument) -> Vec<Value> {
    let mut walker = DirectiveWalker {
        schema,
        document,
        errors: Vec::new(),
        path: Vec::new(),
    };
    for op in document.operations.iter() {
        let kind = match op.operation_type {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        };
        let location = match op.operation_type {
            OperationType::Query => DirectiveLocation::Query,
            OperationType::Mutation => DirectiveLocation::Mutation,
            OperationType::Subscription => DirectiveLocation::Subscription,
        };
        walker.path.push(match &op.name {
            Some(name) => format!("{kind} {name}"),
            None => kind.to_owned(),
        });
        walker.check(&op.directives, location);
        for variable in &op.variables {
            walker.check(&variable.directives, DirectiveLocation::VariableDefinition);
        }
        walker.selections(&op.selection_set);
        walker.path.pop();
    }
    for fragment in document.fragments.values() {
        walker.path.push(format!("fragment {}", fragment.name));
        walker.check(&fragment.directives, DirectiveLocation::FragmentDefinition);
        walker.selections(&fragment.selection_set);
        walker.path.pop();
    }
    walker.errors
}

struct DirectiveWalker<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    errors: Vec<Value>,
    path: Vec<String>,
}

impl<'a> DirectiveWalker<'a> {
    fn selections(&mut self, set: &'a SelectionSet) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    self.path.push(field.response_key().to_string());
                    self.check(&field.directives, DirectiveLocation::Field);
                    self.selections(&field.selection_set);
                    self.path.pop();
                }
                Selection::InlineFragment(inline) => {
                    self.path.push(match &inline.type_condition {
                        Some(on) => format!("... on {on}"),
                        None => "...".to_owned(),
                    });
                    self.check(&inline.directives, DirectiveLocation::InlineFragment);
                    self.selections(&inline.selection_set);
                    self.path.pop();
                }
                Selection::FragmentSpread(spread) => {
                    self.path.push(format!("... {}", spread.fragment_name));
                    self.check(&spread.directives, DirectiveLocation::FragmentSpread);
                    // Fragment definitions are walked on their own.
                    self.path.pop();
                }
            }
        }
    }

    fn check(&mut self, directives: &DirectiveList, location: DirectiveLocation) {
        for directive in directives.iter() {
            let name = directive.name.as_str();
            let locations = directive
                .line_column_range(&self.document.sources)
                .map(|range| json!([{ "line": range.start.line, "column": range.start.column }]));
            let mut error = |message: String, extensions: Value| {
                let mut entry = json!({ "message": message });
                if let Some(locations) = &locations {
                    entry["locations"] = locations.clone();
                }
                entry["path"] = json!(self.path);
                entry["extensions"] = extensions;
                self.errors.push(entry);
            };
            let Some(definition) = self.schema.directive_definitions.get(name) else {
                error(
                    format!("Directive @{name} is not defined"),
                    json!({ "code": "undefinedDirective", "directiveName": name }),
                );
                continue;
            };
            if !definition.locations.contains(&location) {
                let allowed = definition
                    .locations
                    .iter()
                    .map(|l| location_name(*l))
                    .collect::<Vec<_>>()
                    .join(", ");
                let target = location_name(location);
                error(
                    format!("'@{name}' can't be applied to {target} (allowed: {allowed})"),
                    json!({ "code": "directiveCannotBeApplied", "targetName": target, "name": name }),
                );
            }
            for argument in &directive.arguments {
                let argument = argument.name.as_str();
                if definition.argument_by_name(argument).is_none() {
                    error(
                        format!("Directive '{name}' doesn't accept argument '{argument}'"),
                        json!({
                            "code": "argumentNotAccepted",
                            "name": name,
                            "typeName": "Directive",
                            "argumentName": argument,
                        }),
                    );
                }
            }
        }
    }
}

/// graphql-ruby's words for a directive location.
fn location_name(location: DirectiveLocation) -> String {
    match location {
        DirectiveLocation::Query => "queries".to_owned(),
        DirectiveLocation::Mutation => "mutations".to_owned(),
        DirectiveLocation::Subscription => "subscriptions".to_owned(),
        DirectiveLocation::Field => "fields".to_owned(),
        DirectiveLocation::FragmentDefinition => "fragment definitions".to_owned(),
        DirectiveLocation::FragmentSpread => "fragment spreads".to_owned(),
        DirectiveLocation::InlineFragment => "inline fragments".to_owned(),
        DirectiveLocation::VariableDefinition => "variable definitions".to_owned(),
        other => other.name().to_ascii_lowercase().replace('_', " "),
    }
}

fn validation_error(mut error: GraphQLError) -> Value {
    error
        .extensions
        .insert("code", JsonValue::from("GRAPHQL_VALIDATION_FAILED"));
    serde_json::to_value(error).unwrap_or_else(|_| json!({"message": "invalid request"}))
}

/// Our operations among the root fields of the operation the request selects
/// (or of every operation, when the selection is ambiguous).
fn root_operations(document: &ExecutableDocument, name: Option<&str>) -> Vec<Operation> {
    let mut names = HashSet::new();
    match document.operations.get(name) {
        Ok(op) => collect_fields(document, &op.selection_set, &mut names, &mut HashSet::new()),
        Err(_) => {
            for op in document.operations.iter() {
                collect_fields(document, &op.selection_set, &mut names, &mut HashSet::new());
            }
        }
    }
    Operation::ALL
        .iter()
        .copied()
        .filter(|op| names.contains(op.root_field()))
        .collect()
}

fn collect_fields<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    names: &mut HashSet<&'d str>,
    visited: &mut HashSet<&'d str>,
) {
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => {
                names.insert(field.name.as_str());
            }
            Selection::InlineFragment(inline) => {
                collect_fields(document, &inline.selection_set, names, visited);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.fragment_name.as_str();
                // Invalid documents may contain fragment cycles.
                if visited.insert(name) {
                    if let Some(fragment) = document.fragments.get(name) {
                        collect_fields(document, &fragment.selection_set, names, visited);
                    }
                }
            }
        }
    }
}

/// Runs a validated request against the state and returns the response body.
pub(crate) fn execute(schema: &Valid<Schema>, ready: &Ready, state: &Mutex<State>) -> Value {
    let operation = match ready
        .document
        .operations
        .get(ready.operation_name.as_deref())
    {
        Ok(op) => op,
        Err(error) => return request_error_body(error.to_graphql_error(&ready.document.sources)),
    };
    // Introspection is recursive; refuse documents nested deeper than clients need.
    if let Err(error) = apollo_compiler::introspection::check_max_depth(&ready.document, operation)
    {
        return request_error_body(error.to_graphql_error(&ready.document.sources));
    }
    let root = Root {
        type_name: operation.object_type().as_str(),
        is_mutation: operation.is_mutation(),
        state,
        denied: RefCell::new(Vec::new()),
        context_country: in_context_country(&operation.directives, &ready.variables),
    };
    let result = Execution::new(schema, &ready.document)
        .operation(operation)
        .coerced_variable_values(&ready.variables)
        .enable_schema_introspection(true)
        .execute_sync(&root);
    let mut response = match result {
        Ok(response) => response,
        Err(error) => return request_error_body(error.to_graphql_error(&ready.document.sources)),
    };
    let denied = root.denied.into_inner();
    for error in &mut response.errors {
        // The executor prefixes resolver messages; Shopify's denial has no prefix.
        let bare = error
            .message
            .strip_prefix(RESOLVER_ERROR_PREFIX)
            .unwrap_or(&error.message);
        if let Some(message) = denied.iter().find(|m| m.as_str() == bare) {
            error.message.clone_from(message);
            error
                .extensions
                .insert("code", JsonValue::from("ACCESS_DENIED"));
        }
    }
    let mut body = serde_json::Map::new();
    body.insert(
        "data".to_owned(),
        serde_json::to_value(&response.data).unwrap_or(Value::Null),
    );
    if !response.errors.is_empty() {
        body.insert(
            "errors".to_owned(),
            serde_json::to_value(&response.errors).unwrap_or(Value::Null),
        );
    }
    Value::Object(body)
}

fn request_error_body(error: GraphQLError) -> Value {
    json!({ "errors": [validation_error(error)] })
}

/// The country of the operation's `@inContext(country:)`, a literal or a variable.
fn in_context_country(directives: &DirectiveList, variables: &JsonMap) -> Option<String> {
    let value = directives
        .get("inContext")?
        .specified_argument_by_name("country")?;
    match value.as_ref() {
        apollo_compiler::ast::Value::Enum(name) => Some(name.to_string()),
        apollo_compiler::ast::Value::Variable(name) => variables
            .get(name.as_str())
            .and_then(JsonValue::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_valid() {
        assert!(schema().is_ok());
    }
}
