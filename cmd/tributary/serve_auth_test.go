package main

import "testing"

// TestServeRefusesBadAuthFlags checks the flag validation that runs before
// serve opens anything: trust on a reachable address, unknown methods, half
// a TLS configuration.
func TestServeRefusesBadAuthFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:0"},
		{"--listen", ":0", "--auth", "trust"},
		{"--listen", "[::]:0"},
		{"--auth", "md5"},
		{"--auth", "scram-sha-256", "--tls-cert", "cert.pem"},
		{"--auth", "scram-sha-256", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
	} {
		if code := runServe(args); code != 2 {
			t.Errorf("tributary serve %q exited %d, want 2", args, code)
		}
	}
}
