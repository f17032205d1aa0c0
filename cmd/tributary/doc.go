// Command tributary is the Tributary binary: `serve` runs the server,
// `slt` runs sqllogictest files against a fresh in-memory server (or one at
// --url), `version` prints the build. Each subcommand lives in its own file
// and registers itself in the commands map; main.go only dispatches.
package main
