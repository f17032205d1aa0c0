package expr

import "github.com/cockroachdb/apd/v3"

// exactCtx computes exact results for +, -, * and quantization: its
// precision is far beyond any value Tributary stores, so it never rounds in
// practice. Division and transcendental functions pick their own precision.
var exactCtx = apd.BaseContext.WithPrecision(4000)
