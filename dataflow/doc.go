// Package dataflow is Tributary's one execution engine: dataflow plans
// (Plan: Get, Constant, Map, FlatMap, Filter, TemporalFilter, Join, Union,
// Negate, Threshold, Reduce, TopK, Session) and the operators that run them
// incrementally. Event time: a TemporalFilter schedules rows' insertions and
// retractions by system time (Dataflow.NextDue says when a step with no
// input change is due); a Reduce with a WindowClose (and a Session with a
// SessionClose) emits each window once, when a watermark closes it, and
// forgets it (windowclose.go).
//
// Model (DBSP over a totally ordered timeline): a collection is a Z-set, a
// multiset with signed multiplicities; a change is a Z-set too (a batch of
// Update). A Dataflow advances one timestamp per Step and every operator sees
// the whole change at that timestamp before the next step, so the output
// change is exact and no reader can see half a transaction. Linear operators
// (Map, FlatMap, Filter, Union, Negate) transform the change alone; Join is
// bilinear over two arrangements; Reduce, TopK, Session and Threshold keep
// per-key state and emit retractions of their previous output.
//
// Materialized views keep a Dataflow alive and step it on every write; an
// ad-hoc SELECT runs the same plan once over a snapshot (RunOnce). There is
// no second evaluator. A Dataflow's operator state can be written out and
// loaded into a fresh one of the same plan (Checkpoint, Restore:
// checkpoint.go), which is how a restart resumes a view.
//
// dataflow imports sql/types and sql/expr, never sql or planner.
package dataflow
