//go:build !invariants

package sql

const invariants = false
