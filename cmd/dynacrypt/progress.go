package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// logEvery is how often a progress line is printed where standard error
// is not a terminal (a log, CI): each is a line of its own there, where a
// redraw every quarter second would pile up.
const logEvery = 10 * time.Second

// statusLine is a command's progress line on w, and the messages printed
// between its updates, each on a line of its own. On a terminal the line
// is redrawn in place (a carriage return, then the line) at every draw;
// elsewhere draw prints a plain line, the first at once and then at most
// one per logEvery, and end prints the last one drawn if it is not
// printed yet. It is safe for concurrent use.
type statusLine struct {
	mu       sync.Mutex
	w        io.Writer
	redraw   bool             // w is a terminal
	now      func() time.Time // time.Now, but in tests
	open     bool             // the progress line is drawn in place and not ended
	logged   time.Time        // when the last plain line was printed
	unlogged string           // the last plain line drawn and not printed
}

// newStatusLine returns the status line of w: redrawn in place if w is a
// terminal, plain lines otherwise.
func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	return &statusLine{w: w, redraw: ok && isTerminal(f)}
}

// isTerminal reports whether f is a character device: a terminal (or
// /dev/null, where nothing is seen either way). golang.org/x/term would
// ask the terminal driver, at the cost of a dependency; for choosing how
// to draw a progress line, a character device is near enough.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (l *statusLine) time() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// draw shows s as the progress line.
func (l *statusLine) draw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.redraw {
		fmt.Fprintf(l.w, "\r%s", s)
		l.open = true
		return
	}
	if now := l.time(); l.logged.IsZero() || now.Sub(l.logged) >= logEvery {
		fmt.Fprintln(l.w, s)
		l.logged, l.unlogged = now, ""
		return
	}
	l.unlogged = s
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

// end ends the progress line: on a terminal, the line it is on; elsewhere,
// by printing the last one drawn, if it is not printed yet.
func (l *statusLine) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open {
		fmt.Fprintln(l.w)
		l.open = false
	}
	if l.unlogged != "" {
		fmt.Fprintln(l.w, l.unlogged)
		l.unlogged = ""
	}
}
