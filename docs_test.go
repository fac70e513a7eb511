package dynacrypt_test

import (
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// docFiles are the documents whose links TestDocsLinks checks: README.md,
// FORMAT.md, docs/*.md, and the package docs (doc.go files), whose links
// into the repository pkg.go.dev shows.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md: is the test running at the module root?")
	}
	files := append([]string{"README.md", "FORMAT.md"}, docs...)
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case d.Name() == "doc.go":
			files = append(files, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDocsLinks checks that every relative link in README.md, FORMAT.md and
// docs/*.md, and every link to this repository's main branch there and in
// the package docs, names a file or directory of the repository, and that
// every #anchor names a heading of its document, as GitHub makes them: a
// reader who follows a link lands where it says.
func TestDocsLinks(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	files := docFiles(t)
	problems, checked := checkDocLinks(root, files)
	for _, p := range problems {
		t.Error(p)
	}
	if checked == 0 {
		t.Errorf("found no link in %v: the link parser is broken", files)
	}
	t.Logf("%d links checked in %d files", checked, len(files))
}

// TestDocLinkCheckerFindsBrokenLinks runs the checker of TestDocsLinks over
// documents with known faults, so that a checker which finds nothing is
// caught.
func TestDocLinkCheckerFindsBrokenLinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "README.md", "# Top\n\n## The `Store` (typed)\n\n"+
		"[ok](docs/a.md) [ok](docs/a.md#b-section) [ok](#the-store-typed) [ok](https://example.com/x.md)\n"+
		"[missing file](docs/none.md) [missing anchor](docs/a.md#nowhere) [own anchor](#nowhere-here)\n"+
		"`[in code](docs/none2.md)`\n\n```go\n[in a fence](docs/none3.md)\n```\n\n"+
		"[outside](../outside.md)\n\n[ref]: docs/none4.md\n")
	writeFile(t, dir, "docs/a.md", "# A\n\n## B section\n\n[back](../README.md#top) [image](img.png)\n")
	writeFile(t, dir, "pkg/doc.go", "// See [A] and [Gone].\n//\n"+
		"// [A]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/a.md#b-section\n"+
		"// [Gone]: https://github.com/dynacrypt/dynacrypt/blob/main/docs/gone.md\n"+
		"// [(relative links in Go are not links)](docs/none5.md)\n"+
		"package pkg\n")
	problems, checked := checkDocLinks(dir, []string{"README.md", "docs/a.md", "pkg/doc.go"})
	want := []string{
		"README.md:6: docs/none.md: no such file",
		"README.md:6: docs/a.md#nowhere: no heading makes the anchor",
		"README.md:6: #nowhere-here: no heading makes the anchor",
		"README.md:13: ../outside.md: outside the repository",
		"README.md:15: docs/none4.md: no such file",
		"docs/a.md:5: img.png: no such file",
		"pkg/doc.go:4: https://github.com/dynacrypt/dynacrypt/blob/main/docs/gone.md: no such file",
	}
	wantFindings(t, problems, want, checked, 12)
}

// TestHeadingAnchors checks the anchors GitHub gives headings.
func TestHeadingAnchors(t *testing.T) {
	for _, tc := range []struct{ heading, anchor string }{
		{"11. Key store (package keystore)", "11-key-store-package-keystore"},
		{"Against AWS's Database Encryption SDK", "against-awss-database-encryption-sdk"},
		{"1,000 tenants × 10 items", "1000-tenants--10-items"},
		{"Moving a table from `KMSCipher` to the key store", "moving-a-table-from-kmscipher-to-the-key-store"},
		{"Suites: upgrading from a dynacrypt older than suite 2", "suites-upgrading-from-a-dynacrypt-older-than-suite-2"},
		{"Put + Get of a 1 KB item", "put--get-of-a-1-kb-item"},
		{"See [the format](FORMAT.md) here", "see-the-format-here"},
		{"snake_case and µs", "snake_case-and-µs"},
	} {
		if got := headingAnchor(tc.heading); got != tc.anchor {
			t.Errorf("headingAnchor(%q) = %q, want %q", tc.heading, got, tc.anchor)
		}
	}
	got := anchorsOf("# Vector\n\n```\n# not a heading\n```\n\n## Vector\n### Vector ###\n")
	for _, a := range []string{"vector", "vector-1", "vector-2"} {
		if !got[a] {
			t.Errorf("anchors %v lack %q", got, a)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code fence made an anchor")
	}
}

// wantFindings checks what a checker of documents found in documents with
// known faults: the problems, and how many places it checked.
func wantFindings(t *testing.T, problems, want []string, checked, wantChecked int) {
	t.Helper()
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
	if checked != wantChecked {
		t.Errorf("checked %d, want %d", checked, wantChecked)
	}
}

// writeFile writes text to the file name (slash-separated) under dir,
// making its directories.
func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	// inlineLink matches [text](target) and ![alt](target "title").
	inlineLink = regexp.MustCompile(`\]\(([^)\s]*)(?:\s+"[^"]*")?\)`)
	// refDefinition matches a reference definition: [label]: target.
	refDefinition = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	codeSpan      = regexp.MustCompile("`+[^`]*`+")
	heading       = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	htmlAnchor    = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	linkInText    = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	urlScheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	// repoURL matches a link to a file of this repository's main branch.
	repoURL = regexp.MustCompile(`https://github\.com/dynacrypt/dynacrypt/(?:blob|tree)/main/([^\s)>\]"']*)`)
)

// checkDocLinks checks the relative links of files (paths relative to
// root) and returns the problems, each as "file:line: target: what", and
// how many relative links it checked.
func checkDocLinks(root string, files []string) (problems []string, checked int) {
	anchors := map[string]map[string]bool{} // by absolute path
	anchorsFor := func(path string) (map[string]bool, error) {
		if a, ok := anchors[path]; ok {
			return a, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		anchors[path] = anchorsOf(string(b))
		return anchors[path], nil
	}
	for _, file := range files {
		src, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		var links []docLink
		if strings.HasSuffix(file, ".md") {
			links = relativeLinks(string(src))
		}
		links = append(links, repoLinks(string(src))...)
		for _, l := range links {
			checked++
			fail := func(what string) {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", file, l.line, l.text, what))
			}
			path, anchor, _ := strings.Cut(l.target, "#")
			var target string
			switch {
			case l.fromRoot:
				target = filepath.Join(root, filepath.FromSlash(path))
			case path == "":
				target = filepath.Join(root, file)
			default:
				target = filepath.Join(root, filepath.Dir(file), filepath.FromSlash(path))
			}
			if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				fail("outside the repository")
				continue
			}
			info, err := os.Stat(target)
			if err != nil {
				fail("no such file")
				continue
			}
			if anchor == "" {
				continue
			}
			if info.IsDir() || !strings.HasSuffix(target, ".md") {
				fail("an anchor into what is not a Markdown file")
				continue
			}
			a, err := anchorsFor(target)
			if err != nil {
				fail(err.Error())
				continue
			}
			if name, err := url.PathUnescape(anchor); err != nil || !a[name] {
				fail("no heading makes the anchor")
			}
		}
	}
	return problems, checked
}

// A docLink is a link to a file of the repository, and the line it is on.
type docLink struct {
	line     int
	text     string // the link as written
	target   string // its path, relative to the document or (fromRoot) to the repository's root, and #anchor
	fromRoot bool
}

// repoLinks returns the links of a document, of any kind, to files of
// this repository's main branch on GitHub.
func repoLinks(src string) []docLink {
	var links []docLink
	for i, line := range strings.Split(src, "\n") {
		for _, m := range repoURL.FindAllStringSubmatch(line, -1) {
			links = append(links, docLink{line: i + 1, text: m[0], target: m[1], fromRoot: true})
		}
	}
	return links
}

// relativeLinks returns the links of a Markdown document that are not URLs
// with a scheme, outside code fences and code spans.
func relativeLinks(src string) []docLink {
	var links []docLink
	add := func(line int, target string) {
		target = strings.Trim(target, "<>")
		if target != "" && !urlScheme.MatchString(target) && !strings.HasPrefix(target, "//") {
			links = append(links, docLink{line: line, text: target, target: target})
		}
	}
	for n, line := range proseLines(src) {
		line = codeSpan.ReplaceAllString(line, "")
		if m := refDefinition.FindStringSubmatch(line); m != nil {
			add(n, m[1])
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			add(n, m[1])
		}
	}
	return links
}

// proseLines yields the lines of a Markdown document outside fenced code
// blocks, with their numbers (from 1). Fences may be indented, as in list
// items.
func proseLines(src string) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		fenced := false
		for i, line := range strings.Split(src, "\n") {
			t := strings.TrimLeft(line, " \t")
			if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
				fenced = !fenced
				continue
			}
			if !fenced && !yield(i+1, line) {
				return
			}
		}
	}
}

// anchorsOf returns the anchors of a Markdown document's headings (and of
// its HTML anchors), as GitHub makes them: a repeated heading's anchor gets
// -1, -2, ... appended.
func anchorsOf(src string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(src) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := headingAnchor(m[2])
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// headingAnchor returns the anchor GitHub gives a heading: its text as
// rendered (links by their text, code spans by their content), lower-cased,
// with spaces made hyphens and every character but letters, digits, marks,
// hyphens and underscores dropped.
func headingAnchor(text string) string {
	text = linkInText.ReplaceAllString(text, "$1")
	text = strings.ReplaceAll(text, "`", "")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
