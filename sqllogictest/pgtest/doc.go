// Package pgtest starts a throwaway PostgreSQL cluster for tests that check
// Tributary's answers against the real thing (the runner's own tests, the
// window comparison in package sql). It needs the server binaries of the
// Debian postgresql package; callers skip, with the reason Bin gives, when
// they are absent. Only tests import it.
package pgtest
