package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatusLineOnATerminal: the progress line is redrawn in place;
// messages between redraws get lines of their own; the line is ended once.
func TestStatusLineOnATerminal(t *testing.T) {
	var out strings.Builder
	l := &statusLine{w: &out, redraw: true}
	l.draw("1 scanned")
	l.draw("2 scanned")
	l.println("key {\"id\":\"a\"}: failed")
	l.println("key {\"id\":\"b\"}: failed")
	l.draw("3 scanned")
	l.end()
	l.end()
	want := "\r1 scanned\r2 scanned\nkey {\"id\":\"a\"}: failed\nkey {\"id\":\"b\"}: failed\n\r3 scanned\n"
	if out.String() != want {
		t.Errorf("status line wrote %q, want %q", out.String(), want)
	}
}

// TestStatusLineInALog: where standard error is not a terminal, progress
// lines are plain lines, never carriage returns: the first at once, then
// at most one per logEvery, the last drawn at the end; messages as they
// come.
func TestStatusLineInALog(t *testing.T) {
	var out strings.Builder
	clock := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	l := &statusLine{w: &out, now: func() time.Time { return clock }}
	l.draw("1 scanned") // printed: the first
	clock = clock.Add(logEvery / 2)
	l.draw("2 scanned") // too soon
	l.println("key {\"id\":\"a\"}: failed")
	clock = clock.Add(logEvery / 2)
	l.draw("3 scanned") // printed: logEvery after the first
	clock = clock.Add(time.Second)
	l.draw("4 scanned") // too soon, but the last: printed by end
	l.end()
	l.end()
	want := "1 scanned\nkey {\"id\":\"a\"}: failed\n3 scanned\n4 scanned\n"
	if out.String() != want {
		t.Errorf("status line wrote %q, want %q", out.String(), want)
	}
}

// TestStatusLineFollowsTheTerminal: a terminal (a pseudo-terminal here)
// gets redraws; a pipe, a file and any other writer get plain lines.
func TestStatusLineFollowsTheTerminal(t *testing.T) {
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	defer pty.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, c := range []struct {
		name   string
		w      interface{ Write([]byte) (int, error) }
		redraw bool
	}{
		{"a pseudo-terminal", pty, true},
		{"a pipe", w, false},
		{"a file", file, false},
		{"a buffer", &strings.Builder{}, false},
	} {
		if got := newStatusLine(c.w).redraw; got != c.redraw {
			t.Errorf("status line on %s: redrawn %t, want %t", c.name, got, c.redraw)
		}
	}
}

// TestWalkProgressInALogIsPlainLines: the command's walk, its standard
// error a pipe as in CI or under a log collector, prints its progress as
// plain lines, without a carriage return.
func TestWalkProgressInALogIsPlainLines(t *testing.T) {
	_, _, walk := keyATable(t, 30)
	o := runBinary(t, "", append(walk, "-checkpoint", filepath.Join(t.TempDir(), "checkpoint"))...).want(t, exitOK, "walk")
	if strings.Contains(o.stderr, "\r") || !strings.Contains(o.stderr, "30 scanned, 30 rewritten, 0 skipped, 0 failed\n") {
		t.Errorf("the walk's progress, standard error a pipe: want plain lines, the last with every item: %q", o.stderr)
	}
}
