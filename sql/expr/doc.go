// Package expr is Tributary's one scalar expression language: bound, typed
// expression trees (Expr), their evaluation under SQL's NULL semantics, the
// catalogue of scalar functions, operators and casts, and the retractable
// aggregate accumulators the dataflow's reduce operator drives.
//
// Every evaluator in the system — filters and projections in dataflows, ad-hoc
// SELECT, DEFAULT expressions, constraint checks — uses this package; there is
// no second evaluator. Errors a row can cause (division by zero, overflow, bad
// casts) carry their SQLSTATE (package pgerror).
//
// expr imports only sql/types and sql/pgerror.
package expr
