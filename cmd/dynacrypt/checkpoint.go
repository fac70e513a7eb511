package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkpointFile is what reencrypt saves to resume a walk: the library's
// checkpoint, and what it is valid for.
type checkpointFile struct {
	Table      string `json:"table"`
	All        bool   `json:"all"`
	Segments   int    `json:"segments"`
	Checkpoint string `json:"checkpoint"`
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

// matches says why a checkpoint cannot resume the walk want describes, if
// it cannot.
func (c *checkpointFile) matches(want checkpointFile) error {
	if c.Table != want.Table || c.All != want.All || c.Segments != want.Segments {
		return fmt.Errorf("the checkpoint file is from a walk of table %s with -all=%t -segments %d, not of %s with -all=%t -segments %d: run that walk, or remove the file to start over",
			c.Table, c.All, c.Segments, want.Table, want.All, want.Segments)
	}
	return nil
}

// save replaces the checkpoint file atomically: a process killed while
// saving leaves the previous one, never half of one.
func (c *checkpointFile) save(file string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// removeCheckpoint removes a checkpoint file, if there is one.
func removeCheckpoint(file string) error {
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
