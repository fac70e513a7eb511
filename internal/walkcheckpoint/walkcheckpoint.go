// Package walkcheckpoint is the encoding of a re-encryption walk's
// checkpoint (dynacrypt.ReencryptProgress.Checkpoint): which of a parallel
// Scan's segments it covers, which of them are done, and where each of the
// others goes on. The root package writes and resumes checkpoints; the
// command reads them to report on the shares of a walk spread over
// processes.
package walkcheckpoint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxSegments is the most segments DynamoDB scans a table in.
const MaxSegments = 1_000_000

// State is what a checkpoint says. A checkpoint without Segments (written
// before walks had shares) is of a walk of every segment: len(Done).
type State struct {
	// Tenant is the tenant walked; "" for every item.
	Tenant string `json:"tenant,omitempty"`
	// Segments is the walk's total of segments, in every share alike.
	Segments int `json:"segments,omitempty"`
	// First is the first segment of the share; Done and Starts hold one
	// entry per segment of the share, from First on.
	First int `json:"first,omitempty"`
	// Done says, per segment, whether it is walked to its end.
	Done []bool `json:"done"`
	// Starts holds, per segment, the canonical encoding of the key to go
	// on after (nil: from the segment's start, or done).
	Starts [][]byte `json:"starts"`
}

// Total is the walk's total of segments.
func (s State) Total() int {
	if s.Segments == 0 {
		return len(s.Done)
	}
	return s.Segments
}

// Last is the last segment of the share.
func (s State) Last() int { return s.First + len(s.Done) - 1 }

// Unfinished returns the segments of the share not walked to their end,
// in order.
func (s State) Unfinished() []int {
	var out []int
	for i, done := range s.Done {
		if !done {
			out = append(out, s.First+i)
		}
	}
	return out
}

// Encode returns the checkpoint of s.
func (s State) Encode() string {
	b, _ := json.Marshal(s) // of bools, ints, strings and bytes: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns what checkpoint says, if it is well formed: a share of at
// least one segment, within the walk's total and DynamoDB's limit.
func Decode(checkpoint string) (State, error) {
	var s State
	b, err := base64.RawURLEncoding.DecodeString(checkpoint)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		return State{}, errors.New("checkpoint is malformed")
	}
	if len(s.Done) == 0 || len(s.Starts) != len(s.Done) || s.First < 0 || s.Segments < 0 || s.Total() > MaxSegments || s.Last() >= s.Total() {
		return State{}, fmt.Errorf("checkpoint is malformed: %d segments from %d of %d", len(s.Done), s.First, s.Total())
	}
	return s, nil
}
