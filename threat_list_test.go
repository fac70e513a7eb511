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
	problems, checked := checkThreatList(root, "docs/threats.md")
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 100 {
		t.Errorf("checked %d test names in docs/threats.md, want at least 100: the parser is broken", checked)
	}
	t.Logf("%d test names checked", checked)
}

// TestThreatListCheckerFindsStaleNames runs the checker of
// TestThreatListNamesExistingTests over a list with known faults.
func TestThreatListCheckerFindsStaleNames(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a_test.go", "package a\n\nfunc TestKept(t *testing.T) {}\n\nfunc FuzzKept(f *testing.F) {}\n")
	writeFile(t, dir, "sub/b_test.go", "package b\n\nfunc TestInB(t *testing.T) {}\n")
	writeFile(t, dir, "docs/threats.md", "# Threats\n\n"+
		"Prose may quote `TestNowhere` before any file.\n\n"+
		"- [a_test.go](../a_test.go): `TestKept`, `TestRenamed`,\n"+
		"  `FuzzKept`, `TestInB`; [sub/b_test.go](../sub/b_test.go): `TestInB`\n"+
		"- [gone_test.go](../gone_test.go): `TestKept`\n"+
		"```\n[a_test.go](../a_test.go): `TestInFence`\n```\n")
	problems, checked := checkThreatList(dir, "docs/threats.md")
	want := []string{
		"docs/threats.md:3: TestNowhere: quoted under no test file",
		"docs/threats.md:5: TestRenamed: no such function in a_test.go",
		"docs/threats.md:6: TestInB: no such function in a_test.go",
		"docs/threats.md:7: TestKept: gone_test.go: no such file",
	}
	wantFindings(t, problems, want, checked, 7)
}

// checkThreatList checks the test names quoted in list (a path relative to
// root): each must be a function of the test file linked last before it in
// the same paragraph or list item. It returns the problems, each as
// "list:line: name: what", and how many names it checked.
func checkThreatList(root, list string) (problems []string, checked int) {
	src, err := os.ReadFile(filepath.Join(root, list))
	if err != nil {
		return []string{err.Error()}, 0
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
			checked++
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
			}
		}
		if len(links) > 0 {
			file = line[links[len(links)-1][2]:links[len(links)-1][3]]
		}
	}
	return problems, checked
}
