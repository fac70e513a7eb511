package main

import (
	"strings"
	"testing"
)

// TestStatusLine: messages between redraws of the progress line get lines
// of their own; the line is ended once.
func TestStatusLine(t *testing.T) {
	var out strings.Builder
	l := &statusLine{w: &out}
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
