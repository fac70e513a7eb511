package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dynacrypt/dynacrypt/internal/walkcheckpoint"
)

// reencryptStatus reports what the checkpoint files of a walk's shares
// say: which segments are done, what the shares counted, which segments
// no file covers.
func reencryptStatus(_ context.Context, args []string, std streams) int {
	fs := newFlagSet("reencrypt-status", "FILE|PATTERN...",
		"Reads the checkpoint files of a walk spread over several processes (reencrypt -segment),\n"+
			"each FILE, or each file PATTERN matches (quoted, 'users.segments-*.reencrypt-checkpoint',\n"+
			"as filepath.Match reads it), and reports what they say: each share's segments done and\n"+
			"what its runs counted (items scanned, rewritten, already current, failed in its last run),\n"+
			"and the segments no file covers. It reads files only, no table.\n\n"+
			"Exit code 0: every segment of the walk is done and no item failed; 1: the walk is not done\n"+
			"(segments unfinished or without a file, items failed): run the shares named again; 3: a\n"+
			"file is unreadable, of another walk than the others (another table, flags or -segments),\n"+
			"or says another share than its checkpoint does (edited, or copied from another share's file).", std)
	switch err := fs.Parse(args); { // the arguments are the files
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	}
	if fs.NArg() == 0 {
		return fail(fs, std, usagef("name the checkpoint files, or a pattern of their names"))
	}
	files, err := checkpointFiles(fs.Args())
	if err != nil {
		fmt.Fprintln(std.err, "dynacrypt:", err)
		return exitFailure
	}
	shares := make([]shareStatus, 0, len(files))
	for _, file := range files {
		s, err := readShare(file)
		if err == nil && len(shares) > 0 && !shares[0].file.sameWalk(s.file) {
			err = fmt.Errorf("%s is from another walk than %s (another table, -all, -segments or flags): report on one walk's files at a time", file, shares[0].name)
		}
		if err != nil {
			fmt.Fprintln(std.err, "dynacrypt:", printable(err.Error()))
			return exitFailure
		}
		shares = append(shares, s)
	}
	return reportShares(std, shares)
}

// checkpointFiles returns the files args name, patterns expanded, each once.
func checkpointFiles(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", arg, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no checkpoint file %s", arg)
		}
		files = append(files, matches...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// shareStatus is what one share's checkpoint file says.
type shareStatus struct {
	name        string // the file's
	file        *checkpointFile
	first, last int   // the share's segments
	unfinished  []int // of them, the segments not done
}

// readShare reads a share's checkpoint file, and checks that the file and
// the checkpoint in it say the same share.
func readShare(file string) (shareStatus, error) {
	c, err := loadCheckpoint(file)
	if err == nil && c == nil {
		err = fmt.Errorf("no checkpoint file %s", file)
	}
	if err != nil {
		return shareStatus{}, err
	}
	s := shareStatus{name: file, file: c, first: 0, last: c.Segments - 1}
	if c.Share != "" {
		share, err := parseShare(c.Share, c.Segments)
		if err != nil {
			return shareStatus{}, fmt.Errorf("checkpoint file %s: %w", file, err)
		}
		s.first, s.last = share.First, share.Last
	}
	if c.Checkpoint == "" { // saved before a page was done
		for seg := s.first; seg <= s.last; seg++ {
			s.unfinished = append(s.unfinished, seg)
		}
		return s, nil
	}
	st, err := walkcheckpoint.Decode(c.Checkpoint)
	if err != nil {
		return shareStatus{}, fmt.Errorf("checkpoint file %s: %w", file, err)
	}
	if st.First != s.first || st.Last() != s.last || st.Total() != c.Segments || st.Tenant != c.Flags["-only-tenant"] {
		return shareStatus{}, fmt.Errorf("checkpoint file %s says %s, but the checkpoint in it is of segments %d-%d of %d: edited, or copied from another share's file? Delete it and walk %s again",
			file, shareName(c.Share, c.Segments), st.First, st.Last(), st.Total(), shareName(c.Share, c.Segments))
	}
	s.unfinished = st.Unfinished()
	return s, nil
}

// sameWalk reports whether c and o are files of the same walk's shares.
func (c *checkpointFile) sameWalk(o *checkpointFile) bool {
	return c.Table == o.Table && c.TableIdentity == o.TableIdentity && c.All == o.All && c.Segments == o.Segments && maps.Equal(c.Flags, o.Flags)
}

// reportShares prints what the shares of one walk say, and returns the
// exit code: 0 if every segment is done and no item failed, else 1.
func reportShares(std streams, shares []shareStatus) int {
	first := shares[0].file
	total := first.Segments
	fmt.Fprintf(std.out, "walk of table %s, %d segments: %d checkpoint files\n", first.Table, total, len(shares))
	done := make([]bool, total)
	covered := make([][]string, total) // per segment, the files that cover it
	var sum walkCounts
	complete := true
	for _, s := range shares {
		c := s.file.Counts
		state := "done"
		if len(s.unfinished) > 0 {
			state = fmt.Sprintf("%d of %d segments done, unfinished: %s", s.last-s.first+1-len(s.unfinished), s.last-s.first+1, segmentList(s.unfinished))
			complete = false
		}
		if c.Failed > 0 {
			complete = false
		}
		fmt.Fprintf(std.out, "segments %d-%d: %s; %s: %d scanned, %d rewritten, %d already current, %d failed in the last (%s)\n",
			s.first, s.last, state, runs(c.Runs), c.Scanned, c.Rewritten, c.Skipped, c.Failed, printable(s.name))
		for seg := s.first; seg <= s.last; seg++ {
			covered[seg] = append(covered[seg], s.name)
			done[seg] = done[seg] || !slices.Contains(s.unfinished, seg)
		}
		sum.Scanned, sum.Rewritten, sum.Skipped, sum.Failed = sum.Scanned+c.Scanned, sum.Rewritten+c.Rewritten, sum.Skipped+c.Skipped, sum.Failed+c.Failed
	}
	var missing, overlapping []int
	doneCount := 0
	for seg := range total {
		switch {
		case len(covered[seg]) == 0:
			missing = append(missing, seg)
		case len(covered[seg]) > 1:
			overlapping = append(overlapping, seg)
		}
		if done[seg] {
			doneCount++
		}
	}
	if len(missing) > 0 {
		complete = false
		fmt.Fprintf(std.out, "segments %s: no checkpoint file (a share not run yet, or its file elsewhere)\n", segmentList(missing))
	}
	if len(overlapping) > 0 {
		fmt.Fprintf(std.out, "segments %s: in more than one file (shares that overlap: each walked them)\n", segmentList(overlapping))
	}
	verdict := "the walk is done"
	if !complete {
		verdict = "the walk is not done"
	}
	fmt.Fprintf(std.out, "%d of %d segments done: %d items scanned, %d rewritten, %d already current, %d failed; %s\n",
		doneCount, total, sum.Scanned, sum.Rewritten, sum.Skipped, sum.Failed, verdict)
	if !complete {
		return exitItems
	}
	return exitOK
}

// segmentList writes segment numbers, in order, with runs as ranges:
// "3, 8-15, 20".
func segmentList(segs []int) string {
	var parts []string
	for i := 0; i < len(segs); {
		j := i
		for j+1 < len(segs) && segs[j+1] == segs[j]+1 {
			j++
		}
		part := strconv.Itoa(segs[i])
		if j > i {
			part += "-" + strconv.Itoa(segs[j])
		}
		parts = append(parts, part)
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// runs says how many runs: "1 run", "2 runs".
func runs(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}
