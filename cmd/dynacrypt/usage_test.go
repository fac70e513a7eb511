package main

import (
	"strings"
	"testing"
)

// TestHelpAndUsageErrors: -h on the command and on every subcommand prints
// its usage and exits 0; missing, unknown or contradicting flags, unknown
// commands and stray arguments exit 2 with the usage, before any request
// (no server is needed).
func TestHelpAndUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"help"}, {"keystore", "-h"},
		{"export-decrypt", "-h"}, {"reencrypt", "-h"}, {"reencrypt-status", "-h"}, {"snapshot", "-h"}, {"verify", "-h"},
		{"keystore", "create-table", "-h"}, {"keystore", "create", "-h"}, {"keystore", "rotate", "-h"},
		{"keystore", "list", "-h"}, {"keystore", "delete", "-h"},
	} {
		o := runBinary(t, "", args...).want(t, exitOK, strings.Join(args, " "))
		if !strings.Contains(o.stderr, "usage: dynacrypt") {
			t.Errorf("%s printed no usage:\n%s", strings.Join(args, " "), o)
		}
	}
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"keystore"},
		{"keystore", "frobnicate"},
		{"keystore", "create-table"}, // no -keystore
		{"keystore", "create", "-keystore", "ks", "-branch-key", "b"},           // no -keystore-key
		{"keystore", "rotate", "-keystore", "ks", "-keystore-key", "alias/k"},   // no -branch-key
		{"keystore", "list", "-keystore", "ks", "-branch-key", "b", "stray"},    // an argument
		{"keystore", "delete", "-keystore", "ks", "-branch-key", "b", "-force"}, // unknown flag
		{"reencrypt", "-table", "t", "-key", "alias/k"},                         // no -encrypted
		{"reencrypt", "-table", "t", "-encrypted", "a"},                         // no key
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-keystore", "ks", "-branch-key", "b"},
		{"reencrypt", "-table", "t", "-encrypted", "a", "-keystore", "ks", "-keystore-key", "alias/k"}, // no -branch-key
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-segments", "0"},
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-all=maybe"},
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-only-tenant", "acme"},                                                     // no -tenant
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-tenant", "tenant", "-branch-key-prefix", "clinic-"},                       // no -keystore
		{"reencrypt", "-table", "t", "-encrypted", "a", "-keystore", "ks", "-keystore-key", "alias/k", "-branch-key", "b", "-branch-key-prefix", "c-"}, // no -tenant
		{"export-decrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k"},                                                                        // no -partition-key
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-manifest", "m"},                                                           // neither -plaintext nor -legacy-key
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-manifest", "m", "-plaintext", "-legacy-key", "alias/k"},                   // both
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-plaintext"},                                                               // no -manifest
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-manifest", "m", "-plaintext", "-legacy-binary", "a"},                      // -legacy-binary without -legacy-key
		{"reencrypt", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-attributes", "b"},                                                         // no -manifest
		{"snapshot", "-table", "t", "-encrypted", "a", "-key", "alias/k"},                                                                              // no -manifest
		{"snapshot", "-table", "t", "-manifest", "m", "-key", "alias/k"},                                                                               // no -encrypted
		{"verify", "-table", "t", "-encrypted", "a"},                                                                                                   // no key
		{"verify", "-table", "t", "-encrypted", "a", "-key", "alias/k", "-segments", "0"},
		{"export-decrypt", "-table", "t", "-partition-key", "id", "-encrypted", "a", "-key", "alias/k", "-workers", "0"},
	} {
		o := runBinary(t, "", args...).want(t, exitUsage, strings.Join(args, " "))
		if !strings.Contains(o.stderr, "usage: dynacrypt") {
			t.Errorf("%s printed no usage:\n%s", strings.Join(args, " "), o)
		}
	}
}
