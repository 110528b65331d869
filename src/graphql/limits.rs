//! Limits on one GraphQL operation — depth, complexity, aliases, directives, page
//! sizes — checked on the parsed document before anything runs, so a hostile query
//! is refused without touching the database.
//!
//! async-graphql has depth and complexity limits of its own, but their errors carry
//! no `extensions.code`, they count introspection (GraphiQL's own query is 13 deep),
//! and their complexity does not know that `events(first: 100)` costs a hundred
//! times its selection. This module does, from the schema's SDL: a field costs 1,
//! and a paginated field (one taking `first`/`last`) multiplies the cost of its
//! selection by the page size asked for (the default page size when none is).
//!
//! Every transport calls [`QueryAnalyzer::analyze`] (schema data) for the operation
//! it is about to run, and learns the operation's type and name from it, before
//! handing it to [`crate::graphql::execute`].

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
    Selection, SelectionSet, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Positioned, Value, Variables};

use crate::config::QueryLimits;
use crate::error::{AppError, Rejection};
use crate::service::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// What the schema says about one field, for costing.
#[derive(Debug, Clone)]
struct FieldInfo {
    /// The named type the field returns (lists unwrapped).
    type_name: String,
    /// Whether the field is paginated (takes `first` or `last`).
    paged: bool,
}

/// The facts of the schema the analysis needs, read once from its SDL.
#[derive(Debug, Default)]
struct CostModel {
    fields: HashMap<String, HashMap<String, FieldInfo>>,
    query_root: String,
    mutation_root: String,
    subscription_root: String,
}

impl CostModel {
    fn from_sdl(sdl: &str) -> Self {
        let mut model = CostModel {
            query_root: "Query".into(),
            mutation_root: "Mutation".into(),
            subscription_root: "Subscription".into(),
            ..Default::default()
        };
        // The SDL is our own schema's; a parse failure is a bug, and the fallback
        // (every field costs 1, no pagination known) still enforces the other limits.
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            tracing::error!("could not read the schema's SDL for query costing");
            return model;
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(q) = schema.query {
                        model.query_root = q.node.to_string();
                    }
                    if let Some(m) = schema.mutation {
                        model.mutation_root = m.node.to_string();
                    }
                    if let Some(s) = schema.subscription {
                        model.subscription_root = s.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        TypeKind::Object(o) => o.fields,
                        TypeKind::Interface(i) => i.fields,
                        _ => continue,
                    };
                    let infos = fields
                        .into_iter()
                        .map(|f| {
                            let f = f.node;
                            let mut base = &f.ty.node.base;
                            while let BaseType::List(inner) = base {
                                base = &inner.base;
                            }
                            let type_name = match base {
                                BaseType::Named(name) => name.to_string(),
                                BaseType::List(_) => String::new(),
                            };
                            let paged = f
                                .arguments
                                .iter()
                                .any(|a| matches!(a.node.name.node.as_str(), "first" | "last"));
                            (f.name.node.to_string(), FieldInfo { type_name, paged })
                        })
                        .collect();
                    model.fields.insert(ty.name.node.to_string(), infos);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        model
    }

    fn field(&self, parent: Option<&str>, name: &str) -> Option<&FieldInfo> {
        self.fields.get(parent?)?.get(name)
    }
}

/// What the analysis found out about the operation it checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub operation_type: OperationType,
    pub operation_name: Option<String>,
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub directives: usize,
}

/// Measures of a selection set; siblings add up, except depth which takes the max.
#[derive(Debug, Clone, Copy, Default)]
struct Measure {
    depth: usize,
    complexity: usize,
    aliases: usize,
    directives: usize,
    /// Selects `__schema` or `__type`.
    introspection: bool,
}

impl Measure {
    fn add(&mut self, other: Measure) {
        self.depth = self.depth.max(other.depth);
        self.complexity = self.complexity.saturating_add(other.complexity);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.directives = self.directives.saturating_add(other.directives);
        self.introspection |= other.introspection;
    }
}

/// Checks operations against the configured limits; cheap to share.
#[derive(Debug, Clone)]
pub struct QueryAnalyzer {
    limits: QueryLimits,
    introspection: bool,
    model: Arc<CostModel>,
}

impl QueryAnalyzer {
    /// An analyzer for the schema whose SDL is `sdl`; `introspection: false` refuses
    /// `__schema` and `__type` (async-graphql would answer them with `null`).
    pub fn new(limits: QueryLimits, introspection: bool, sdl: &str) -> Self {
        Self {
            limits,
            introspection,
            model: Arc::new(CostModel::from_sdl(sdl)),
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    /// Checks the operation the request selects (by `operation_name`, or the only
    /// one), and every fragment of the document for cycles.
    pub fn analyze(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Result<Analysis, AppError> {
        let (name, operation) = select_operation(document, operation_name)?;
        super::input_text::check(document, variables)?;
        let fragments = self.measure_fragments(document, variables)?;
        self.check(operation, name, &fragments, variables)
    }

    fn check(
        &self,
        operation: &Positioned<OperationDefinition>,
        operation_name: Option<&str>,
        fragments: &HashMap<String, Measure>,
        variables: &Variables,
    ) -> Result<Analysis, AppError> {
        let operation = &operation.node;
        let root = match operation.ty {
            OperationType::Query => &self.model.query_root,
            OperationType::Mutation => &self.model.mutation_root,
            OperationType::Subscription => &self.model.subscription_root,
        };
        let walker = Walker {
            model: &self.model,
            fragments,
            variables,
            operation: Some(operation),
        };
        let mut measure = walker.selection_set(&operation.selection_set.node, Some(root))?;
        measure.directives = measure
            .directives
            .saturating_add(operation.directives.len())
            .saturating_add(
                operation
                    .variable_definitions
                    .iter()
                    .map(|v| v.node.directives.len())
                    .sum(),
            );
        let limits = &self.limits;
        let reject = |r: Rejection| Err(AppError::Rejected(r));
        if measure.introspection && !self.introspection {
            return reject(Rejection::IntrospectionDisabled);
        }
        if measure.depth > limits.max_depth {
            return reject(Rejection::TooDeep {
                depth: measure.depth,
                max: limits.max_depth,
            });
        }
        if measure.aliases > limits.max_aliases {
            return reject(Rejection::TooManyAliases {
                aliases: measure.aliases,
                max: limits.max_aliases,
            });
        }
        if measure.directives > limits.max_directives {
            return reject(Rejection::TooManyDirectives {
                directives: measure.directives,
                max: limits.max_directives,
            });
        }
        if measure.complexity > limits.max_complexity {
            return reject(Rejection::TooComplex {
                complexity: measure.complexity,
                max: limits.max_complexity,
            });
        }
        Ok(Analysis {
            operation_type: operation.ty,
            operation_name: operation_name.map(str::to_owned),
            depth: measure.depth,
            complexity: measure.complexity,
            aliases: measure.aliases,
            directives: measure.directives,
        })
    }

    /// Measures every fragment once, in dependency order, refusing cycles. Spreads
    /// then cost a lookup, so neither a cycle nor a fragment spread a thousand times
    /// can make the analysis itself expensive.
    fn measure_fragments(
        &self,
        document: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<HashMap<String, Measure>, AppError> {
        // Which fragments each fragment spreads (only those that exist).
        let mut spreads: HashMap<&str, Vec<&str>> = HashMap::new();
        for (name, fragment) in &document.fragments {
            let mut found = Vec::new();
            collect_spreads(&fragment.node.selection_set.node, &mut found);
            found.retain(|s| document.fragments.contains_key(*s));
            spreads.insert(name.as_str(), found);
        }
        // Kahn's algorithm: a fragment is ready once everything it spreads is measured.
        let mut waiting: HashMap<&str, usize> =
            spreads.iter().map(|(k, v)| (*k, v.len())).collect();
        let mut spread_by: HashMap<&str, Vec<&str>> = HashMap::new();
        for (name, targets) in &spreads {
            for target in targets {
                spread_by.entry(*target).or_default().push(*name);
            }
        }
        let mut ready: Vec<&str> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut measured: HashMap<String, Measure> = HashMap::new();
        while let Some(name) = ready.pop() {
            let Some(fragment) = document.fragments.get(name) else {
                continue;
            };
            let walker = Walker {
                model: &self.model,
                fragments: &measured,
                variables,
                operation: None,
            };
            let fragment = &fragment.node;
            let mut measure = walker.selection_set(
                &fragment.selection_set.node,
                Some(fragment.type_condition.node.on.node.as_str()),
            )?;
            measure.directives = measure.directives.saturating_add(fragment.directives.len());
            measured.insert(name.to_owned(), measure);
            for parent in spread_by.get(name).map(Vec::as_slice).unwrap_or_default() {
                if let Some(n) = waiting.get_mut(parent) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(parent);
                    }
                }
            }
        }
        if measured.len() < document.fragments.len() {
            let mut in_cycle: Vec<&str> = waiting
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, _)| *k)
                .collect();
            in_cycle.sort_unstable();
            return Err(AppError::Rejected(Rejection::ValidationFailed(format!(
                "fragments spread each other in a cycle: {}",
                in_cycle.join(", ")
            ))));
        }
        Ok(measured)
    }
}

fn collect_spreads<'a>(set: &'a SelectionSet, found: &mut Vec<&'a str>) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(f) => collect_spreads(&f.node.selection_set.node, found),
            Selection::FragmentSpread(s) => found.push(s.node.fragment_name.node.as_str()),
            Selection::InlineFragment(i) => collect_spreads(&i.node.selection_set.node, found),
        }
    }
}

/// The operation the request runs (the named one, or the only one) and its name.
fn select_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<(Option<&'a str>, &'a Positioned<OperationDefinition>), AppError> {
    let invalid = |m: String| AppError::Rejected(Rejection::ValidationFailed(m));
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Ok((None, op)),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .get_key_value(name)
            .map(|(name, op)| (Some(name.as_str()), op))
            .ok_or_else(|| invalid(format!("the document has no operation named `{name}`"))),
        (DocumentOperations::Single(_), Some(name)) => Err(invalid(format!(
            "the document has no operation named `{name}`"
        ))),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (Some(name.as_str()), op))
            .ok_or_else(|| invalid("no operation".into())),
        (DocumentOperations::Multiple(_), None) => Err(invalid(
            "the document has several operations: give `operationName`".into(),
        )),
    }
}

/// One pass over a selection set, with fragments already measured.
struct Walker<'a> {
    model: &'a CostModel,
    fragments: &'a HashMap<String, Measure>,
    variables: &'a Variables,
    operation: Option<&'a OperationDefinition>,
}

impl Walker<'_> {
    /// Recursion follows the document's nesting only (fragments are looked up), and
    /// the parser refuses nesting deeper than 64, so this cannot run out of stack.
    fn selection_set(&self, set: &SelectionSet, parent: Option<&str>) -> Result<Measure, AppError> {
        let mut total = Measure::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let info = self.model.field(parent, name);
                    let children = self.selection_set(
                        &field.selection_set.node,
                        info.map(|i| i.type_name.as_str()),
                    )?;
                    let mut measure = Measure {
                        depth: 1 + children.depth,
                        complexity: 1,
                        aliases: children.aliases + usize::from(field.alias.is_some()),
                        directives: children.directives.saturating_add(field.directives.len()),
                        introspection: children.introspection,
                    };
                    if matches!(name, "__schema" | "__type") {
                        // Introspection reads the in-memory schema, never the
                        // database; its fixed shape (13 deep for GraphiQL) is
                        // bounded by the document size instead.
                        measure.depth = 1;
                        measure.introspection = true;
                    } else {
                        let page = match info {
                            Some(i) if i.paged => self.page_size(field)?,
                            _ => 1,
                        };
                        measure.complexity =
                            children.complexity.saturating_mul(page).saturating_add(1);
                    }
                    total.add(measure);
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    let mut measure = self
                        .fragments
                        .get(spread.fragment_name.node.as_str())
                        .copied()
                        .unwrap_or_default();
                    measure.directives = measure.directives.saturating_add(spread.directives.len());
                    total.add(measure);
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(parent);
                    let mut measure = self.selection_set(&inline.selection_set.node, on)?;
                    measure.directives = measure.directives.saturating_add(inline.directives.len());
                    total.add(measure);
                }
            }
        }
        Ok(total)
    }

    /// The page a paginated field asks for; out-of-range sizes are refused here,
    /// before anything runs, with the same error the list itself would give.
    fn page_size(&self, field: &async_graphql::parser::types::Field) -> Result<usize, AppError> {
        let mut size: Option<usize> = None;
        for argument in ["first", "last"] {
            let Some(value) = field.get_argument(argument) else {
                continue;
            };
            let value = value
                .node
                .clone()
                .into_const_with(|name| self.variable(name.as_str()).ok_or(()));
            let Ok(Value::Number(n)) = value else {
                continue; // null, absent or mistyped: validation or the default decides
            };
            match n.as_i64() {
                Some(n) if (0..=i64::from(MAX_PAGE_SIZE)).contains(&n) => {
                    size = Some(size.unwrap_or(0).max(n as usize));
                }
                _ => {
                    return Err(AppError::invalid(
                        argument,
                        format!("must be between 0 and {MAX_PAGE_SIZE}"),
                    ));
                }
            }
        }
        Ok(size.unwrap_or(DEFAULT_PAGE_SIZE as usize))
    }

    /// A variable's value, or its default in the operation.
    fn variable(&self, name: &str) -> Option<Value> {
        if let Some(value) = self.variables.get(name) {
            return Some(value.clone());
        }
        self.operation?
            .variable_definitions
            .iter()
            .find(|v| v.node.name.node.as_str() == name)
            .and_then(|v| v.node.default_value.as_ref())
            .map(|d| d.node.clone())
    }
}
