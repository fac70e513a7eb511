package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/walkcheckpoint"
)

// parseShare parses reencrypt's -segment, FIRST-LAST or one segment N, of
// a walk of total segments; nil for "", every segment. Its errors say
// what is wrong, for an operator who typed the flag.
func parseShare(s string, total int) (*dynacrypt.SegmentShare, error) {
	if total < 1 || total > walkcheckpoint.MaxSegments {
		return nil, fmt.Errorf("-segments %d: DynamoDB scans a table in 1 to %d segments", total, walkcheckpoint.MaxSegments)
	}
	if s == "" {
		return nil, nil
	}
	firstText, lastText, isRange := strings.Cut(s, "-")
	if !isRange {
		lastText = firstText
	}
	first, err1 := segmentNumber(firstText)
	last, err2 := segmentNumber(lastText)
	switch {
	case err1 != nil || err2 != nil:
		return nil, fmt.Errorf("-segment %q: want FIRST-LAST, two segment numbers (0 to %d), or one", s, total-1)
	case first > last:
		return nil, fmt.Errorf("-segment %q: the first segment comes after the last", s)
	case last >= total:
		return nil, fmt.Errorf("-segment %q: -segments %d numbers the segments 0 to %d", s, total, total-1)
	}
	return &dynacrypt.SegmentShare{First: first, Last: last}, nil
}

// segmentNumber parses a segment number: decimal digits only.
func segmentNumber(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a segment number", s)
	}
	return strconv.Atoi(s)
}

// shareName names the segments a checkpoint file covers, for messages:
// "segments 8-15 of 64".
func shareName(share string, total int) string {
	if share == "" {
		share = fmt.Sprintf("0-%d", total-1)
	}
	return fmt.Sprintf("segments %s of %d", share, total)
}

// shareState says how far a walk's checkpoint is: "done", or how many of
// its segments are.
func shareState(checkpoint string) string {
	st, err := walkcheckpoint.Decode(checkpoint)
	if err != nil {
		return "not started"
	}
	if left := len(st.Unfinished()); left > 0 {
		return fmt.Sprintf("%d of %d segments done", len(st.Done)-left, len(st.Done))
	}
	return "done"
}
