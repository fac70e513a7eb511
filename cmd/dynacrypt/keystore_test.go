package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/dynacrypt/dynacrypt/internal/testrig"
)

// versionIn finds the version a create or rotate printed.
var versionIn = regexp.MustCompile(`version ([0-9a-f]{32}) is active`)

// TestKeystoreCommands drives the built command through a key store's
// life: create-table, create (twice: never overwrites), rotate, list,
// delete answered "no" (nothing deleted, exit 3), delete answered "yes",
// delete -yes, and the errors of a branch key that is gone.
func TestKeystoreCommands(t *testing.T) {
	db := testrig.DynamoDB(t)
	testrig.KMS(t)
	ks := uniqueName("dynacrypt-cli-ks")
	deleteTableAtEnd(t, db, ks)
	ksFlags := func(args ...string) []string { return append(keyStoreFlags(ks), args...) }

	o := runBinary(t, "", "keystore", "create-table", "-keystore", ks).want(t, exitOK, "create-table")
	if !strings.Contains(o.stdout, ks+" created") {
		t.Errorf("create-table: %s", o)
	}
	created := runBinary(t, "", append([]string{"keystore", "create"}, ksFlags("-branch-key", "fleet")...)...).want(t, exitOK, "create")
	first := versionIn.FindStringSubmatch(created.stdout)
	if first == nil {
		t.Fatalf("create printed no version: %s", created)
	}
	o = runBinary(t, "", append([]string{"keystore", "create"}, ksFlags("-branch-key", "fleet")...)...).want(t, exitFailure, "create again")
	if !strings.Contains(o.stderr, "exists") {
		t.Errorf("create of an existing branch key: %s", o)
	}
	rotated := runBinary(t, "", append([]string{"keystore", "rotate"}, ksFlags("-branch-key", "fleet")...)...).want(t, exitOK, "rotate")
	second := versionIn.FindStringSubmatch(rotated.stdout)
	if second == nil || second[1] == first[1] {
		t.Fatalf("rotate printed no new version: %s", rotated)
	}

	list := func() outcome { return runBinary(t, "", "keystore", "list", "-keystore", ks, "-branch-key", "fleet") }
	lines := strings.Split(strings.TrimSpace(list().want(t, exitOK, "list").stdout), "\n")
	listed := regexp.MustCompile(`^([0-9a-f]{32})\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(\tactive)?$`)
	if len(lines) != 2 {
		t.Fatalf("list: %q, want 2 versions", lines)
	}
	for i, want := range []struct {
		version string
		active  bool
	}{{first[1], false}, {second[1], true}} {
		m := listed.FindStringSubmatch(lines[i])
		if m == nil || m[1] != want.version || (m[2] != "") != want.active {
			t.Errorf("list line %d: %q, want version %s, active %t", i+1, lines[i], want.version, want.active)
		}
	}

	// Delete asks first; any answer but yes keeps the branch key.
	for _, answer := range []string{"no\n", "", "YES please\n"} {
		o = runBinary(t, answer, "keystore", "delete", "-keystore", ks, "-branch-key", "fleet").want(t, exitFailure, "delete answered "+answer)
		if !strings.Contains(o.stderr, "Type yes to delete") || !strings.Contains(o.stderr, "nothing deleted") {
			t.Errorf("delete answered %q: %s", answer, o)
		}
	}
	list().want(t, exitOK, "list after deletes not confirmed")
	o = runBinary(t, "yes\n", "keystore", "delete", "-keystore", ks, "-branch-key", "fleet").want(t, exitOK, "delete answered yes")
	if !strings.Contains(o.stdout, "branch key fleet deleted") {
		t.Errorf("delete answered yes: %s", o)
	}
	if o = list().want(t, exitOK, "list of a deleted branch key"); strings.Count(o.stdout, "\tshredded") != 2 || strings.Contains(o.stdout, "active") {
		t.Errorf("list of a deleted branch key: %s; want its 2 versions shredded", o)
	}

	// With -yes, no question: standard input is not read.
	runBinary(t, "", append([]string{"keystore", "create"}, ksFlags("-branch-key", "tenant-42")...)...).want(t, exitOK, "create tenant-42")
	o = runBinary(t, "", "keystore", "delete", "-keystore", ks, "-branch-key", "tenant-42", "-yes").want(t, exitOK, "delete -yes")
	if strings.Contains(o.stderr, "Type yes") {
		t.Errorf("delete -yes asked: %s", o)
	}
	runBinary(t, "", "keystore", "list", "-keystore", ks, "-branch-key", "tenant-42").want(t, exitOK, "list after delete -yes")
	runBinary(t, "", "keystore", "delete", "-keystore", ks, "-branch-key", "tenant-42", "-yes").want(t, exitFailure, "delete of a missing branch key")
	runBinary(t, "", append([]string{"keystore", "rotate"}, ksFlags("-branch-key", "tenant-42")...)...).want(t, exitFailure, "rotate of a missing branch key")
}

// TestKeystoreDeleteNeedsExactYes: keystore delete shreds a branch key, for
// good, only if the answer is the line "yes" or -yes is given: near misses
// (y, Yes, "yes please", a quoted "yes"), a "yes" on a later line, and
// -yes=false delete nothing and exit with exitFailure.
func TestKeystoreDeleteNeedsExactYes(t *testing.T) {
	db := testrig.DynamoDB(t)
	testrig.KMS(t)
	ks := uniqueName("dynacrypt-cli-ks")
	deleteTableAtEnd(t, db, ks)
	runBinary(t, "", "keystore", "create-table", "-keystore", ks).want(t, exitOK, "create-table")
	runBinary(t, "", append([]string{"keystore", "create", "-branch-key", "fleet"}, keyStoreFlags(ks)...)...).want(t, exitOK, "create")
	for _, c := range []struct {
		stdin string
		flags []string
	}{
		{"y\n", nil}, {"Yes\n", nil}, {"YES\n", nil}, {"yes please\n", nil}, {"yess\n", nil}, {"no\nyes\n", nil},
		{"\nyes\n", nil}, {"ye\ns\n", nil}, {"\"yes\"\n", nil}, {"no\n", []string{"-yes=false"}}, {"", []string{"-yes=0"}},
	} {
		args := append([]string{"keystore", "delete", "-keystore", ks, "-branch-key", "fleet"}, c.flags...)
		o := runBinary(t, c.stdin, args...)
		if o.code != exitFailure {
			t.Errorf("delete answered %q %v: exit code %d, want %d: %s", c.stdin, c.flags, o.code, exitFailure, o)
		}
		if runBinary(t, "", "keystore", "list", "-keystore", ks, "-branch-key", "fleet").code != exitOK {
			t.Fatalf("delete answered %q %v deleted the branch key", c.stdin, c.flags)
		}
	}
}
