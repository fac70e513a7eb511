package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt"
)

// migrationUntil is how long a migrating walk reads items without a header
// (LegacyUntil): it runs now, and no longer than this.
const migrationUntil = 7 * 24 * time.Hour

// migrationFlags say how reencrypt migrates the items without a header
// that a snapshot listed: plaintext items (-plaintext) or legacy per-field
// KMS items (-legacy-key), and the manifest that vouches for them.
type migrationFlags struct {
	manifest     string // -manifest: the file snapshot wrote
	plaintext    bool
	legacyKey    string
	legacyBinary string
	attributes   string
	promoted     string // -promoted: the file of promoted keys
}

func (f *migrationFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.manifest, "manifest", "", "the manifest dynacrypt snapshot wrote: the items without a header it lists, unchanged, are migrated, and any other fails (with -plaintext or -legacy-key)")
	fs.BoolVar(&f.plaintext, "plaintext", false, "with -manifest: items without a header are plaintext items (WithPlaintextItems)")
	fs.StringVar(&f.legacyKey, "legacy-key", "", "with -manifest: items without a header are legacy items, each encrypted attribute a KMS ciphertext under this key (WithLegacyKMS)")
	fs.StringVar(&f.legacyBinary, "legacy-binary", "", "with -legacy-key: comma-separated encrypted attributes whose values are byte strings ([]byte fields); the others are strings")
	fs.StringVar(&f.attributes, "attributes", "", "with -manifest: comma-separated attributes items without a header may hold besides the keys, -encrypted and -unsigned ones: the other fields of the service's item type but the version (LegacyAttributes)")
	fs.StringVar(&f.promoted, "promoted", "", "with -manifest: file the key of every item migrated is appended to, one JSON object a line (default TABLE.promoted)")
}

// migrates reports whether the walk migrates items without a header.
func (f *migrationFlags) migrates() bool { return f.manifest != "" }

// check returns errUsage if the flags contradict each other.
func (f *migrationFlags) check() error {
	switch {
	case f.migrates() != (f.plaintext != (f.legacyKey != "")):
		return errUsage // -manifest with exactly one of -plaintext and -legacy-key, or none of the three
	case f.legacyBinary != "" && f.legacyKey == "", !f.migrates() && (f.attributes != "" || f.promoted != ""):
		return errUsage
	}
	return nil
}

// option returns the Items option of the migration, and the manifest's
// SHA-256, which a checkpoint records. tf names the table's encrypted and
// unsigned attributes; kms is the client of -legacy-key.
func (f *migrationFlags) option(tf tableFlags, kms dynacrypt.KMSClient) (dynacrypt.Option, string, error) {
	manifest, err := os.ReadFile(f.manifest)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(manifest)
	attrs := slices.Concat(list(f.attributes), list(tf.encrypted))
	opts := []dynacrypt.LegacyOption{dynacrypt.LegacyManifest(manifest), dynacrypt.LegacyAttributes(attrs...),
		dynacrypt.LegacyUntil(time.Now().Add(migrationUntil))}
	if f.plaintext {
		return dynacrypt.WithPlaintextItems(dynacrypt.ReadPlaintext, opts...), hex.EncodeToString(sum[:]), nil
	}
	opts = append(opts, dynacrypt.LegacyBinary(list(f.legacyBinary)...))
	return dynacrypt.WithLegacyKMS(kms, f.legacyKey, opts...), hex.EncodeToString(sum[:]), nil
}

// addFlags adds the migration's flags to a walk's (walkFlags), manifest
// its SHA-256: a checkpoint resumes the same migration only.
func (f *migrationFlags) addFlags(flags map[string]string, manifest string) {
	flags["-manifest"] = manifest
	flags["-plaintext"] = strconv.FormatBool(f.plaintext)
	flags["-legacy-key"] = f.legacyKey
	flags["-legacy-binary"] = normalSet(f.legacyBinary)
	flags["-attributes"] = normalSet(f.attributes)
}

// normalSet returns a comma-separated list sorted, without repeats, as
// walkFlags records lists.
func normalSet(s string) string {
	l := list(s)
	slices.Sort(l)
	return strings.Join(slices.Compact(l), ",")
}

// promotedLog appends the keys of migrated items to a file, one JSON
// object a line. It is safe for concurrent use.
type promotedLog struct {
	mu   sync.Mutex
	file *os.File
	err  error // the first failure to write
}

func openPromotedLog(name string) (*promotedLog, error) {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &promotedLog{file: f}, nil
}

// add appends key.
func (l *promotedLog) add(key map[string]types.AttributeValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := fmt.Fprintln(l.file, keyText(key)); err != nil && l.err == nil {
		l.err = err
	}
}

// close closes the file and returns the first failure to write it.
func (l *promotedLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.file.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}
