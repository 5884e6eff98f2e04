//! GraphQL: the embedded schema, request validation (apollo-compiler) and execution.
//!
//! Execution uses apollo-compiler's spec executor, so aliases, `__typename`,
//! fragments, list and null handling follow the GraphQL specification; this module
//! only supplies resolvers for the four root fields.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::resolvers::{Execution, FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{GraphQLError, JsonMap, JsonValue};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::format_datetime;
use super::error::MockError;
use super::state::{CreateOutcome, State};
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
            let errors = with_errors
                .errors
                .iter()
                .map(|diagnostic| validation_error(diagnostic.to_json()))
                .collect();
            return Prepared {
                operations,
                outcome: Err(errors),
            };
        }
    };
    let operations = root_operations(&document, operation_name.as_deref());
    let coerced = document
        .operations
        .get(operation_name.as_deref())
        .and_then(|op| coerce_variable_values(schema, op, &variables.unwrap_or_default()));
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
    let root = Root {
        type_name: operation.object_type().as_str(),
        is_mutation: operation.is_mutation(),
        state,
        denied: RefCell::new(Vec::new()),
    };
    let result = Execution::new(schema, &ready.document)
        .operation(operation)
        .coerced_variable_values(&ready.variables)
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

/// The root object (`QueryRoot` or `Mutation`).
struct Root<'s> {
    type_name: &'s str,
    is_mutation: bool,
    state: &'s Mutex<State>,
    /// Messages of the access-denied field errors this execution produced.
    denied: RefCell<Vec<String>>,
}

impl Root<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ObjectValue for Root<'_> {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let field = info.field_name();
        let args = info.arguments();
        let mut state = self.lock();
        if self.is_mutation && state.settings.customer_scope_denied {
            let message = format!("{} access denied", pascal_case(field));
            self.denied.borrow_mut().push(message.clone());
            return Err(FieldError { message });
        }
        let token = || string_arg(args, "customerAccessToken");
        let value = match (self.is_mutation, field) {
            (true, "customerAccessTokenCreate") => {
                let input = args.get("input").and_then(JsonValue::as_object);
                let email = input.map_or("", |i| string_arg(i, "email"));
                let password = input.map_or("", |i| string_arg(i, "password"));
                create_payload(state.create(email, password))
            }
            (true, "customerAccessTokenRenew") => {
                let message = state.settings.invalid_token_message.clone();
                match state.renew(token()) {
                    Some(issued) => Obj::new("CustomerAccessTokenRenewPayload")
                        .with("customerAccessToken", token_object(&issued))
                        .with("userErrors", Val::List(Vec::new())),
                    None => Obj::new("CustomerAccessTokenRenewPayload")
                        .with("customerAccessToken", Val::null())
                        .with("userErrors", invalid_token_errors(&message)),
                }
            }
            (true, "customerAccessTokenDelete") => {
                let message = state.settings.invalid_token_message.clone();
                match state.delete(token()) {
                    Some(deleted) => Obj::new("CustomerAccessTokenDeletePayload")
                        .with("deletedAccessToken", Val::leaf(deleted.access_token))
                        .with("deletedCustomerAccessTokenId", Val::leaf(deleted.token_id))
                        .with("userErrors", Val::List(Vec::new())),
                    None => Obj::new("CustomerAccessTokenDeletePayload")
                        .with("deletedAccessToken", Val::null())
                        .with("deletedCustomerAccessTokenId", Val::null())
                        .with("userErrors", invalid_token_errors(&message)),
                }
            }
            (false, "customer") => match state.customer(token()) {
                Some(customer) => Obj::new("Customer")
                    .with("id", Val::leaf(customer.id.clone()))
                    .with("email", Val::leaf(customer.email.clone()))
                    .with("displayName", Val::leaf(customer.display_name.clone())),
                None => return Ok(ResolvedValue::null()),
            },
            _ => return Err(self.unknown_field_error(info)),
        };
        drop(state);
        Ok(ResolvedValue::object(value))
    }
}

fn string_arg<'m>(map: &'m JsonMap, name: &str) -> &'m str {
    map.get(name).and_then(JsonValue::as_str).unwrap_or("")
}

/// `customerAccessTokenRenew` → `CustomerAccessTokenRenew`.
fn pascal_case(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn token_object(issued: &super::state::IssuedToken) -> Val {
    Val::Obj(
        Obj::new("CustomerAccessToken")
            .with("accessToken", Val::leaf(issued.access_token.clone()))
            .with("expiresAt", Val::leaf(format_datetime(issued.expires_at))),
    )
}

fn invalid_token_errors(message: &str) -> Val {
    Val::List(vec![Val::Obj(
        Obj::new("UserError")
            .with("field", Val::leaf(json!(["customerAccessToken"])))
            .with("message", Val::leaf(message)),
    )])
}

fn create_payload(outcome: CreateOutcome) -> Obj {
    let (token, error) = match outcome {
        CreateOutcome::Issued(issued) => (token_object(&issued), None),
        CreateOutcome::BlankEmail => (
            Val::null(),
            Some(("BLANK", json!(["input", "email"]), "Email can't be blank")),
        ),
        CreateOutcome::BlankPassword => (
            Val::null(),
            Some((
                "BLANK",
                json!(["input", "password"]),
                "Password can't be blank",
            )),
        ),
        CreateOutcome::Unidentified => (
            Val::null(),
            Some((
                "UNIDENTIFIED_CUSTOMER",
                Value::Null,
                "Unidentified customer",
            )),
        ),
    };
    let (customer_errors, user_errors) = match error {
        None => (Vec::new(), Vec::new()),
        Some((code, field, message)) => (
            vec![Val::Obj(
                Obj::new("CustomerUserError")
                    .with("code", Val::leaf(code))
                    .with("field", Val::leaf(field.clone()))
                    .with("message", Val::leaf(message)),
            )],
            vec![Val::Obj(
                Obj::new("UserError")
                    .with("field", Val::leaf(field))
                    .with("message", Val::leaf(message)),
            )],
        ),
    };
    Obj::new("CustomerAccessTokenCreatePayload")
        .with("customerAccessToken", token)
        .with("customerUserErrors", Val::List(customer_errors))
        .with("userErrors", Val::List(user_errors))
}

/// A resolved value tree below a root field.
#[derive(Debug, Clone)]
enum Val {
    Leaf(Value),
    Obj(Obj),
    List(Vec<Val>),
}

impl Val {
    fn null() -> Self {
        Val::Leaf(Value::Null)
    }

    fn leaf(value: impl Into<Value>) -> Self {
        Val::Leaf(value.into())
    }

    fn resolved<'a>(&self) -> ResolvedValue<'a> {
        match self {
            // GraphQL lists must be resolved item by item, even lists of scalars.
            Val::Leaf(Value::Array(items)) => ResolvedValue::list(
                items
                    .iter()
                    .map(|item| ResolvedValue::leaf(JsonValue::from(item.clone())))
                    .collect::<Vec<_>>(),
            ),
            Val::Leaf(value) => ResolvedValue::leaf(JsonValue::from(value.clone())),
            Val::Obj(obj) => ResolvedValue::object(obj.clone()),
            Val::List(items) => {
                ResolvedValue::list(items.iter().map(Val::resolved).collect::<Vec<_>>())
            }
        }
    }
}

/// A concrete object of a schema type, with every field precomputed.
#[derive(Debug, Clone)]
struct Obj {
    type_name: &'static str,
    fields: Vec<(&'static str, Val)>,
}

impl Obj {
    fn new(type_name: &'static str) -> Self {
        Obj {
            type_name,
            fields: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<Val>) -> Self {
        self.fields.push((name, value.into()));
        self
    }
}

impl From<Obj> for Val {
    fn from(obj: Obj) -> Self {
        Val::Obj(obj)
    }
}

impl ObjectValue for Obj {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        self.fields
            .iter()
            .find(|(name, _)| *name == info.field_name())
            .map(|(_, value)| value.resolved())
            .ok_or_else(|| self.unknown_field_error(info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_valid() {
        assert!(schema().is_ok());
    }

    #[test]
    fn pascal() {
        assert_eq!(
            pascal_case("customerAccessTokenRenew"),
            "CustomerAccessTokenRenew"
        );
        assert_eq!(pascal_case(""), "");
    }
}
