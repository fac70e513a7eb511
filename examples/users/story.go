package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"

	"github.com/dynacrypt/dynacrypt"
)

// story prints the demo: numbered steps, each a title and captions that say
// what comes next, then what came. Captions are indented three spaces and
// end with a colon when output follows; output lines are indented five.
// Everything the program or the AWS SDK logs during the demo goes through
// it too, captioned, so that no line appears unexplained.
type story struct {
	mu   sync.Mutex
	w    io.Writer
	step int
}

// Step starts the next numbered step.
func (s *story) Step(title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step++
	fmt.Fprintf(s.w, "\n%d. %s\n", s.step, title)
}

// Say prints a caption.
func (s *story) Say(format string, args ...any) { s.line("   ", format, args...) }

// Show prints a line of output.
func (s *story) Show(format string, args ...any) { s.line("     ", format, args...) }

func (s *story) line(indent, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		fmt.Fprintln(s.w, indent+l)
	}
}

// Write makes the story the output of the program's log package: a line
// logged during the demo is shown as such, in the step it belongs to.
func (s *story) Write(p []byte) (int, error) {
	s.Show("(the program logged: %s)", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logf makes the story the AWS SDK's logger (logging.Logger).
func (s *story) Logf(classification logging.Classification, format string, v ...any) {
	s.Show("(the AWS SDK logged, %s: %s)", classification, fmt.Sprintf(format, v...))
}

// showItem prints an attribute map as DynamoDB holds it, one attribute a
// line in name order, binary values shortened to their first bytes.
func (s *story) showItem(item map[string]types.AttributeValue) {
	names := make([]string, 0, len(item))
	for name := range item {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s.Show("%-11s %s", name, describe(item[name]))
	}
}

// describe renders one stored value briefly: a string quoted, a number as
// is, bytes as their length and first eight bytes in hex.
func describe(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("S %q", v.Value)
	case *types.AttributeValueMemberN:
		return "N " + v.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B %d bytes: %s...", len(v.Value), hex.EncodeToString(v.Value[:min(len(v.Value), 8)]))
	default:
		return fmt.Sprintf("%T", v)
	}
}

// kinds are the error kinds the demo shows, by name.
var kinds = []struct {
	name string
	err  error
}{
	{"ErrIntegrity", dynacrypt.ErrIntegrity},
	{"ErrKeyGone", dynacrypt.ErrKeyGone},
	{"ErrInvalidCursor", dynacrypt.ErrInvalidCursor},
	{"ErrStale", dynacrypt.ErrStale},
	{"ErrExists", dynacrypt.ErrExists},
	{"ErrNotFound", dynacrypt.ErrNotFound},
	{"ErrConflict", dynacrypt.ErrConflict},
}

// brief renders an error as the kind it wraps and its last, most specific
// clause, leaving out the AWS SDK's own error (status codes and request IDs
// say nothing here): "ErrStale: stale version".
func brief(err error) string {
	if err == nil {
		return "no error"
	}
	msg := err.Error()
	if i := strings.Index(msg, ": operation error "); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name + ": " + msg
		}
	}
	return msg
}

// short shortens s to n characters and an ellipsis, for hex strings and
// cursors that matter only as "some long opaque value".
func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
