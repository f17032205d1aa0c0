//go:build invariants

package dataflow

// invariants enables expensive self-checks of operator state (build tag
// invariants, on in make test). They panic on a broken invariant and never
// change what the operators compute.
const invariants = true
