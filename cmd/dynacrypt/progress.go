package main

import (
	"fmt"
	"io"
	"sync"
)

// statusLine is a progress line redrawn in place on w, and the messages
// printed between its redraws, each on a line of its own. It is safe for
// concurrent use.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	open bool // the progress line is drawn and not ended
}

// draw replaces the progress line with s.
func (l *statusLine) draw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "\r%s", s)
	l.open = true
}

// println prints a message on a line of its own, after the progress line.
func (l *statusLine) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open {
		fmt.Fprintln(l.w)
		l.open = false
	}
	fmt.Fprintln(l.w, s)
}

// end ends the progress line, if one is drawn.
func (l *statusLine) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open {
		fmt.Fprintln(l.w)
		l.open = false
	}
}
