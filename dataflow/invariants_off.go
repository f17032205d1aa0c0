//go:build !invariants

package dataflow

// invariants is off in production builds; see invariants_on.go.
const invariants = false
