package main

import (
	"bytes"
	"context"
	"log"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// TestDemo runs `users -demo` against dynalite and local-kms and checks that
// it tells its story: ten numbered steps in order, each opening with a
// caption, every block of output announced by a caption that ends with a
// colon, nothing logged, and each step showing the outcome it promises.
// The demo checks each outcome itself and fails when one does not hold;
// this test checks that the reader sees it.
func TestDemo(t *testing.T) {
	db := dynacrypttest.DynamoDB(t) // skips without a server, fails under CI
	dynacrypttest.KMS(t)
	table := "demo-users-" + randomHex(6)
	t.Cleanup(func() {
		for _, name := range []string{table, table + "-sign-ins", table + "-members", table + "-branch-keys"} {
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name})
		}
	})
	// The demo routes the log package into its story while it runs: a line
	// logged there would show in it, captioned; here, uncaptioned.
	var out, logged bytes.Buffer
	defer log.SetOutput(log.Writer())
	defer log.SetFlags(log.Flags())
	log.SetOutput(&logged)
	log.SetFlags(0)
	if err := demoMain(context.Background(), &out, table, "alias/dynacrypt-test"); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out.String())
	}
	log.Print("after the demo")
	if got := logged.String(); got != "after the demo\n" {
		t.Errorf("the log package wrote %q during and after the demo: want only the line logged after it", got)
	}
	steps := demoSteps(t, out.String())

	promises := []struct {
		title string
		shows []string // in this order
	}{
		{"Put and Get a user whose API token is encrypted", []string{"`encrypt:\"kms\"`", "now at version 1:", "Version:1}"}},
		{"The item at rest", []string{"_dynacrypt  B ", "token       B ", "username    S \"ana\"", "appear in none of them"}},
		{"Edit any attribute at rest, and the read fails", []string{`SET username = "mallory"`, "integrity check failed",
			"errors.Is(err, dynacrypt.ErrIntegrity) = true", "ana reads again:", "Username:ana "}},
		{"Optimistic locking", []string{"stored at version 2", "B: Put username=\"ana.b\": ErrStale", "version 2 -> 22", "token unchanged: true"}},
		{"Find items by an encrypted field: a beacon lookup", []string{"beacon=3", "the index returned", "found:",
			"u-ana  2026-11-03 10:00:00  203.0.113.7", "u-eve  2026-11-03 10:00:00  203.0.113.7", "u-ana  2026-11-06 16:00:00  203.0.113.7"}},
		{"Query with a cursor", []string{"page 1:", "next cursor:", "page 2:", "next cursor:", "page 3:", "no next cursor",
			"edited cursor: ErrInvalidCursor"}},
		{"Tenants kept apart under a key store, and one shredded", []string{"tenant-acme     version", "tenant-globex   version",
			"acme   m-1: tenant-acme version", "globex m-2: tenant-globex version", "Get globex m-3: ErrIntegrity",
			"acme   m-3: m-3@acme.example", "globex m-1: ErrKeyGone", "globex m-2: ErrKeyGone"}},
		{"Rotate a branch key, then walk the items onto the new version", []string{"older, still readable", "active",
			"acme m-1: item version 1", "walk: 3 read, 3 rewritten, 0 already current", "acme m-1: item version 2",
			"walk: 3 read, 0 rewritten, 3 already current"}},
		{"Decode a stream record", []string{"version 22 -> 23", "record 101, MODIFY of u-ana: new image refused: ErrIntegrity"}},
		{"KMS requests", []string{"all of dynacrypt", "the article's approach"}},
	}
	if len(steps) != len(promises) {
		t.Fatalf("%d steps, want %d:\n%s", len(steps), len(promises), out.String())
	}
	for i, p := range promises {
		s := steps[i]
		if !strings.Contains(s.title, p.title) {
			t.Errorf("step %d is %q, want %q", i+1, s.title, p.title)
		}
		rest := s.body
		for _, want := range p.shows {
			at := strings.Index(rest, want)
			if at < 0 {
				t.Errorf("step %d (%s) does not show %q after what it showed before:\n%s", i+1, p.title, want, s.body)
				break
			}
			rest = rest[at+len(want):]
		}
	}

	// dynacrypt's KMS requests against the article's, in the last step.
	counts := regexp.MustCompile(`(?m)^ {5}(all of dynacrypt|the article's approach[^0-9]*?) +(\d+)  `).FindAllStringSubmatch(steps[len(steps)-1].body, -1)
	if len(counts) != 2 {
		t.Fatalf("step 10 shows %d totals, want 2:\n%s", len(counts), steps[len(steps)-1].body)
	}
	ours, _ := strconv.Atoi(counts[0][2])
	article, _ := strconv.Atoi(counts[1][2])
	if ours == 0 || ours*10 > article {
		t.Errorf("dynacrypt made %d KMS requests, the article's approach %d: want a tenth or less", ours, article)
	}
}

type demoStep struct{ title, body string }

// demoSteps splits the demo's output into steps, checking the layout every
// step shares: a caption first, and a caption ending with a colon before
// every block of output. Nothing else may appear: no log lines.
func demoSteps(t *testing.T, out string) []demoStep {
	t.Helper()
	var steps []demoStep
	heading := regexp.MustCompile(`^(\d+)\. (.+)$`)
	lastCaption := ""
	for i, line := range strings.Split(out, "\n") {
		switch m := heading.FindStringSubmatch(line); {
		case m != nil:
			if n, _ := strconv.Atoi(m[1]); n != len(steps)+1 {
				t.Errorf("line %d: step %d follows step %d", i+1, n, len(steps))
			}
			steps = append(steps, demoStep{title: m[2]})
			lastCaption = ""
			continue
		case len(steps) == 0 || line == "" || line == "Every step behaved as described.":
			continue
		case strings.Contains(line, "logged"):
			t.Errorf("line %d: something was logged during the demo: %q", i+1, line)
		case strings.HasPrefix(line, "     "):
			if !strings.HasSuffix(lastCaption, ":") {
				t.Errorf("line %d: output %q after the caption %q, which does not announce it", i+1, line, lastCaption)
			}
		case strings.HasPrefix(line, "   "):
			lastCaption = line
		default:
			t.Errorf("line %d: %q is neither a caption nor output", i+1, line)
		}
		s := &steps[len(steps)-1]
		if s.body == "" && !strings.HasPrefix(line, "   ") || s.body == "" && strings.HasPrefix(line, "     ") {
			t.Errorf("step %d opens with %q, not a caption", len(steps), line)
		}
		s.body += line + "\n"
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "Every step behaved as described.") {
		t.Error("the demo does not end by saying every step behaved as described")
	}
	return steps
}
