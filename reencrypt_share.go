package dynacrypt

import (
	"errors"
	"fmt"

	"github.com/dynacrypt/dynacrypt/internal/walkcheckpoint"
)

// SegmentShare is the part of a walk one process does when several walk a
// table between them: segments First to Last, both included, of the
// ReencryptOptions.Segments that DynamoDB's parallel Scan divides the
// table into. Processes whose shares cover segments 0 to Segments-1 once,
// all with the same Segments, read every item once between them, each
// with its own checkpoint: with 64 segments, eight processes take 0 to 7,
// 8 to 15, ..., 56 to 63.
type SegmentShare struct {
	First, Last int
}

// String returns the share as the command's -segment flag takes it: "8-15".
func (s SegmentShare) String() string { return fmt.Sprintf("%d-%d", s.First, s.Last) }

// segmentRange is the segments a walk reads: first to last of total.
type segmentRange struct {
	first, last, total int
}

// segmentsOf returns the segments a walk with opts reads, or why it cannot.
func segmentsOf(opts ReencryptOptions, sc walkScope) (segmentRange, error) {
	share := opts.Share
	if sc.query {
		if share != nil {
			return segmentRange{}, fmt.Errorf("ReencryptOptions.Share does not apply to a walk of tenant %q, which Queries its partition: a Query has no segments", sc.tenant)
		}
		return segmentRange{0, 0, 1}, nil
	}
	total := opts.Segments
	switch {
	case total > walkcheckpoint.MaxSegments:
		return segmentRange{}, fmt.Errorf("ReencryptOptions.Segments is %d: DynamoDB scans a table in at most %d segments", total, walkcheckpoint.MaxSegments)
	case total <= 0 && share != nil:
		return segmentRange{}, errors.New("ReencryptOptions.Share needs Segments, the walk's total number of segments, the same in every share")
	case total <= 0:
		total = 4
	}
	if share == nil {
		return segmentRange{0, total - 1, total}, nil
	}
	if share.First < 0 || share.First > share.Last {
		return segmentRange{}, fmt.Errorf("ReencryptOptions.Share is segments %d to %d: First must be at least 0 and at most Last", share.First, share.Last)
	}
	if share.Last >= total {
		return segmentRange{}, fmt.Errorf("ReencryptOptions.Share is segments %d to %d, but a walk of %d segments numbers them 0 to %d", share.First, share.Last, total, total-1)
	}
	return segmentRange{share.First, share.Last, total}, nil
}

// String names the segments for errors: "segments 8 to 15 of 64".
func (r segmentRange) String() string {
	return fmt.Sprintf("segments %d to %d of %d", r.first, r.last, r.total)
}
