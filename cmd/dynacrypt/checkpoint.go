package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/internal/walkui"
)

// checkpointFile is what reencrypt saves to resume a walk: the library's
// checkpoint, and the walk it is valid for. A checkpoint says which parts
// of the table a walk has done, and a resumed walk skips them: resumed by
// another walk (last quarter's rotation, left under the default name; a
// walk with other keys, attributes or -all), it would skip what that walk
// never did for it, and report success. So the file records every flag
// that decides what a walk does to an item, and only the same walk
// resumes it.
type checkpointFile struct {
	Table string `json:"table"`
	// TableIdentity is the table's ARN and id (tableInfo.identity): a
	// checkpoint of a table is no use to another of the same name.
	TableIdentity string `json:"table_identity"`
	All           bool   `json:"all"`
	Segments      int    `json:"segments"`
	// Share is the segments the walk reads (-segment, "8-15") when it is
	// one of several processes' shares; "" for every segment. A share's
	// file is kept once it is done, for reencrypt-status.
	Share string `json:"share,omitempty"`
	// Flags are the walk's other flags, normalised (walkFlags); a file
	// without them (an older dynacrypt's) resumes no walk.
	Flags      map[string]string `json:"flags"`
	Checkpoint string            `json:"checkpoint"`
	// Counts are what the walk's runs counted, as of the checkpoint.
	Counts walkCounts `json:"counts"`
}

// walkCounts are what the runs of a walk counted, up to their last save:
// the items a run handled after it, when it was killed, the next run
// counts again, as it finds them.
type walkCounts struct {
	Runs      int   `json:"runs"`
	Scanned   int64 `json:"scanned"`
	Rewritten int64 `json:"rewritten"`
	Promoted  int64 `json:"promoted"`
	Skipped   int64 `json:"skipped"`
	// Failed counts the last run's failures only: each run retries the
	// items that failed before it.
	Failed int64 `json:"failed"`
}

// add returns the counts of the runs before, c, and a run that counted p
// so far.
func (c walkCounts) add(p dynacrypt.ReencryptProgress) walkCounts {
	return walkCounts{Runs: c.Runs + 1, Scanned: c.Scanned + p.Scanned, Rewritten: c.Rewritten + p.Rewritten,
		Promoted: c.Promoted + p.Promoted, Skipped: c.Skipped + p.Skipped, Failed: p.Failed}
}

// walkFlags returns the flags of a walk, but for -table, -all and
// -segments, that decide what it does to an item: which Cipher, with
// which keys, and how items are opened and sealed. Lists are sorted, and
// defaults filled in, so that the same walk spelled otherwise matches.
// -page-size and -checkpoint change nothing a walk does, and are left out.
func walkFlags(tf tableFlags, cf cipherFlags, df dbesdkFlags, version string) map[string]string {
	set := func(s string) string {
		l := list(s)
		slices.Sort(l)
		return strings.Join(slices.Compact(l), ",")
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	suite := "" // the suite a walk writes matters only when it writes DB-ESDK's format
	if df.writes() {
		suite = or(df.suite, "6701")
	}
	keystoreName := ""
	if cf.keystore.table != "" {
		keystoreName = or(cf.keystore.name, cf.keystore.table)
	}
	dbesdkKeystoreName := ""
	if df.keystore.table != "" {
		dbesdkKeystoreName = df.keystore.logical()
	}
	return map[string]string{
		"-encrypted":            set(tf.encrypted),
		"-unsigned":             set(tf.unsigned),
		"-header":               tf.header,
		"-logical-table":        or(tf.logical, tf.table),
		"-tenant":               tf.tenant,
		"-only-tenant":          tf.onlyTenant,
		"-version":              version,
		"-key":                  cf.key,
		"-previous-keys":        set(cf.previousKeys),
		"-keystore":             cf.keystore.table,
		"-keystore-name":        keystoreName,
		"-branch-key":           cf.keystore.branchKey,
		"-branch-key-prefix":    cf.branchKeyPrefix,
		"-to":                   or(df.to, "dynacrypt"),
		"-dbesdk-key-namespace": df.namespace,
		"-dbesdk-key-name":      df.name,
		"-dbesdk-suite":         suite,
		// DB-ESDK's KMS and hierarchical keyrings: key ARNs, which have
		// one spelling each.
		"-dbesdk-kms-key":           df.kmsKey,
		"-dbesdk-keystore":          df.keystore.table,
		"-dbesdk-keystore-name":     dbesdkKeystoreName,
		"-dbesdk-keystore-key":      df.keystore.kmsKey,
		"-dbesdk-branch-key":        df.keystore.branchKey,
		"-dbesdk-branch-key-prefix": df.branchKeyPrefix,
	}
}

// loadCheckpoint reads a checkpoint file; nil, nil if there is none.
func loadCheckpoint(file string) (*checkpointFile, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c checkpointFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", file, err)
	}
	return &c, nil
}

// matches says why the checkpoint file named file cannot resume the walk
// want describes, if it cannot.
func (c *checkpointFile) matches(file string, want checkpointFile) error {
	if c.Table != want.Table || c.All != want.All || c.Segments != want.Segments || c.Share != want.Share {
		return fmt.Errorf("the checkpoint file is from a walk of table %s with -all=%t, %s, not of %s with -all=%t, %s: run that walk to resume it, or delete %s to start over",
			c.Table, c.All, shareName(c.Share, c.Segments), want.Table, want.All, shareName(want.Share, want.Segments), file)
	}
	if c.Flags == nil || c.TableIdentity == "" {
		return fmt.Errorf("the checkpoint file is from a walk of table %s whose flags it does not record (written by an older dynacrypt, or by hand): delete %s to start over",
			c.Table, file)
	}
	if c.TableIdentity != want.TableIdentity {
		return fmt.Errorf("the checkpoint file is from a walk of another table named %s (%s, where this one is %s: in another account or region, or made again since): delete %s to start over",
			c.Table, c.TableIdentity, want.TableIdentity, file)
	}
	var diffs []string
	for _, name := range slices.Sorted(maps.Keys(want.Flags)) {
		if was, now := c.Flags[name], want.Flags[name]; was != now {
			diffs = append(diffs, fmt.Sprintf("%s %q where this command has %q", name, was, now))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Flags)) {
		if _, ok := want.Flags[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %q, which this command does not know", name, c.Flags[name]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the checkpoint file is from a walk of table %s with other flags (%s): run the same command as that walk to resume it, or delete %s to start over",
			c.Table, strings.Join(diffs, "; "), file)
	}
	return nil
}

// save replaces the checkpoint file atomically (walkui.WriteFile).
func (c *checkpointFile) save(file string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return walkui.WriteFile(file, b)
}

// removeCheckpoint removes a checkpoint file, if there is one.
func removeCheckpoint(file string) error {
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
