//go:build invariants

package sql

// invariants enables expensive self-checks (build tag invariants, on in
// make test). They panic on a broken invariant and never change what the
// engine computes.
const invariants = true
