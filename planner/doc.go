// Package planner owns the logical algebra (Rel: Scan, Values, Filter,
// Project, FlatMap, Join, Aggregate, Distinct, SetOp, TopK, Session), its
// optimization (predicate pushdown into joins) and its lowering to dataflow plans,
// including outer joins expressed with anti-joins and set operations with
// Threshold. EXPLAIN prints both stages.
//
// The binder in package sql builds Rels (already decorrelated: subqueries
// become joins over the distinct values of their outer references); planner
// never sees SQL text or the catalog.
//
// planner imports dataflow (plan types), sql/expr and sql/types.
package planner
