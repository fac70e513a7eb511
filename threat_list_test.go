package dynacrypt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// testFileLink matches a link from docs/ to a test file: [name](../path_test.go).
	testFileLink = regexp.MustCompile(`\]\((\.\./[^)#\s]+_test\.go)\)`)
	// funcDecl matches the name of a top-level function.
	funcDecl = regexp.MustCompile(`(?m)^func (\w+)\(`)
	// quotedTest matches a test function quoted in a code span.
	quotedTest = regexp.MustCompile("`((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*)`")

	// What makes a test an attack test, which docs/threats.md must list: a
	// file named for a threat holds attack tests only, and a test named
	// after a forgery, a tampering, a refusal and the like is one wherever
	// it is. A new attack test named as the others are is thus caught when
	// the list leaves it out.
	attackFile = regexp.MustCompile(`(threats|tampering|tamper|forgery|isolation|unwrap_limit|rollback|panics|wrongkey|shredding)_test\.go$`)
	attackName = regexp.MustCompile(`^(?:Test|Fuzz)\w*(?:Forged|Forger|Tamper|Planted|Splice|Replayed|RolledBack|Rollback|Refus|Reject|Attacker|Junk|Hostile|Undeclared|Malformed|NeverSign|Escapes|WrongKey|Threats)`)
)

// TestThreatListNamesExistingTests checks that every test docs/threats.md
// names is a function of the test file it names it under, so that the
// threat list still says which tests defend each threat after a test is
// renamed, moved or dropped.
func TestThreatListNamesExistingTests(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	problems, listed := checkThreatList(root, "docs/threats.md")
	for _, p := range problems {
		t.Error(p)
	}
	if len(listed) < 100 {
		t.Errorf("docs/threats.md lists %d tests, want at least 100: the parser is broken", len(listed))
	}
	t.Logf("%d tests listed", len(listed))
}

// TestThreatListCoversEveryAttackTest checks that docs/threats.md lists
// every attack test (see attackFile and attackName) under its file, so
// that a reader finds, for each test that defends against an attacker, the
// threat it defends against.
func TestThreatListCoversEveryAttackTest(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	_, listed := checkThreatList(root, "docs/threats.md")
	problems, attacks := unlistedAttackTests(root, listed)
	for _, p := range problems {
		t.Error(p)
	}
	if attacks < 100 {
		t.Errorf("found %d attack tests, want at least 100: the walk is broken", attacks)
	}
	t.Logf("%d attack tests", attacks)
}

// TestThreatListCheckerFindsFaults runs the checkers of
// TestThreatListNamesExistingTests and TestThreatListCoversEveryAttackTest
// over a list with known faults.
func TestThreatListCheckerFindsFaults(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a_test.go", "package a\n\nfunc TestKept(t *testing.T) {}\n\nfunc FuzzKept(f *testing.F) {}\n\n"+
		"func TestForgedThingRefused(t *testing.T) {}\n\nfunc TestTamperedListed(t *testing.T) {}\n")
	writeFile(t, dir, "sub/b_test.go", "package b\n\nfunc TestInB(t *testing.T) {}\n")
	writeFile(t, dir, "sub/c_tampering_test.go", "package b\n\nfunc TestAnything(t *testing.T) {}\n\nfunc helperRefuses() {}\n")
	writeFile(t, dir, ".hidden/d_tampering_test.go", "package d\n\nfunc TestHidden(t *testing.T) {}\n")
	writeFile(t, dir, "docs/threats.md", "# Threats\n\n"+
		"Prose may quote `TestNowhere` before any file.\n\n"+
		"- [a_test.go](../a_test.go): `TestKept`, `TestRenamed`,\n"+
		"  `FuzzKept`, `TestInB`; [sub/b_test.go](../sub/b_test.go): `TestInB`\n"+
		"- [gone_test.go](../gone_test.go): `TestKept`\n"+
		"```\n[a_test.go](../a_test.go): `TestForgedThingRefused`\n```\n"+
		"- [a_test.go](../a_test.go): `TestTamperedListed`\n")
	problems, listed := checkThreatList(dir, "docs/threats.md")
	unlisted, attacks := unlistedAttackTests(dir, listed)
	want := []string{
		"docs/threats.md:3: TestNowhere: quoted under no test file",
		"docs/threats.md:5: TestRenamed: no such function in a_test.go",
		"docs/threats.md:6: TestInB: no such function in a_test.go",
		"docs/threats.md:7: TestKept: gone_test.go: no such file",
		"a_test.go: TestForgedThingRefused: an attack test docs/threats.md does not list",
		"sub/c_tampering_test.go: TestAnything: an attack test docs/threats.md does not list",
	}
	wantFindings(t, append(problems, unlisted...), want, len(listed), 4)
	if attacks != 3 {
		t.Errorf("found %d attack tests, want 3", attacks)
	}
}

// checkThreatList checks the test names quoted in list (a path relative to
// root): each must be a function of the test file linked last before it in
// the same paragraph or list item. It returns the problems, each as
// "list:line: name: what", and the tests listed, each as "file: name"
// (file relative to root).
func checkThreatList(root, list string) (problems []string, listed map[string]bool) {
	listed = map[string]bool{}
	src, err := os.ReadFile(filepath.Join(root, list))
	if err != nil {
		return []string{err.Error()}, listed
	}
	funcs := map[string]map[string]bool{} // test file -> its functions; nil if absent
	funcsOf := func(file string) map[string]bool {
		if f, ok := funcs[file]; ok {
			return f
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err == nil {
			funcs[file] = map[string]bool{}
			for _, m := range funcDecl.FindAllSubmatch(b, -1) {
				funcs[file][string(m[1])] = true
			}
		} else {
			funcs[file] = nil
		}
		return funcs[file]
	}
	file := ""
	for n, line := range proseLines(string(src)) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "#") {
			file = "" // a new paragraph or list item names its own files
		}
		// Walk the line's links and names in order: a name belongs to the
		// file linked last before it.
		links := testFileLink.FindAllStringSubmatchIndex(line, -1)
		for _, m := range quotedTest.FindAllStringSubmatchIndex(line, -1) {
			for len(links) > 0 && links[0][0] < m[0] {
				file, links = line[links[0][2]:links[0][3]], links[1:]
			}
			name := line[m[2]:m[3]]
			fail := func(what string) {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", list, n, name, what))
			}
			path := filepath.ToSlash(filepath.Join(filepath.Dir(list), file))
			switch {
			case file == "":
				fail("quoted under no test file")
			case funcsOf(path) == nil:
				fail(strings.TrimPrefix(file, "../") + ": no such file")
			case !funcsOf(path)[name]:
				fail("no such function in " + strings.TrimPrefix(file, "../"))
			default:
				listed[path+": "+name] = true
			}
		}
		if len(links) > 0 {
			file = line[links[len(links)-1][2]:links[len(links)-1][3]]
		}
	}
	return problems, listed
}

// unlistedAttackTests walks the test files under root (but for hidden
// directories and testdata) and returns the attack tests that listed (see
// checkThreatList) leaves out, each as "file: name: what", and how many
// attack tests there are.
func unlistedAttackTests(root string, listed map[string]bool) (problems []string, attacks int) {
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, "_test.go"):
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcDecl.FindAllStringSubmatch(string(src), -1) {
			name := m[1]
			isTest := strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Fuzz")
			if !isTest || !attackFile.MatchString(rel) && !attackName.MatchString(name) {
				continue
			}
			attacks++
			if !listed[rel+": "+name] {
				problems = append(problems, rel+": "+name+": an attack test docs/threats.md does not list")
			}
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return problems, attacks
}
