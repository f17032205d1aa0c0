package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"sort"
)

// commands maps a subcommand name to its entry point, which returns the
// process exit code. Each subcommand's file registers itself in an init
// (serve.go: "serve", slt.go: "slt"), so main.go never names them.
var commands = map[string]func(args []string) int{
	"version": runVersion,
}

// runVersion prints the version and, when the binary was built from a git
// checkout, the commit.
func runVersion([]string) int {
	v := "tributary 0.1.0-dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " (" + s.Value + ")"
			}
		}
	}
	fmt.Println(v)
	return 0
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "help", "-h", "-help", "--help":
		usage()
		os.Exit(0)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "tributary: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(cmd(os.Args[2:]))
}

func usage() {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: tributary COMMAND [flags]\ncommands: %v\n", names)
}
