package export

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/keytext"
)

// An Opener verifies and decrypts the items of an export's table: a
// *dynacrypt.Items is one, O being dynacrypt.ReadOption (DecryptFolder
// infers it).
type Opener[O any] interface {
	// Open verifies a stored item and returns it decrypted.
	Open(ctx context.Context, item map[string]types.AttributeValue, opts ...O) (map[string]types.AttributeValue, error)
	// Key returns the key attributes of a stored item, for reports.
	Key(item map[string]types.AttributeValue) map[string]types.AttributeValue
}

// DecryptOptions configure DecryptFolder.
type DecryptOptions struct {
	// Workers is how many data files are decrypted at once (4 if 0).
	Workers int
	// Output, if set, is called as the decryption of a data file starts and
	// returns where its items go, one line each as Format makes it, in the
	// file's order; DecryptFolder closes it when the file is done. Without
	// it, items are verified and dropped.
	Output func(file *DataFile) (io.WriteCloser, error)
	// Format appends a decrypted item to dst as one line of output:
	// AppendLine if nil, so that a decrypted export is an export again,
	// in DynamoDB JSON, that Items reads and DynamoDB imports.
	Format func(dst []byte, item map[string]types.AttributeValue) ([]byte, error)
	// Failed, if set, is called with every line that is not an item, or
	// whose item fails verification, one call at a time.
	Failed func(*ItemFailure)
	// FileDone, if set, is called as each data file is done, one call at a
	// time.
	FileDone func(*FileResult)
	// Strict stops the decryption at the first failure, of an item or of a
	// file: the data files not done yet are left unread.
	Strict bool
}

// ErrItemCount means a data file did not hold the items the files manifest
// says, or the export not the items the summary says.
var ErrItemCount = errors.New("item count differs from the manifest's")

// ErrChecksum means a data file's MD5 digest is not the files manifest's.
var ErrChecksum = errors.New("MD5 digest differs from the manifest's")

// errStopped is the error of a data file not read to its end because the
// decryption stopped: at a failure, with Strict, or cancelled.
var errStopped = errors.New("not read to its end: the decryption stopped")

// An ItemFailure is a line of a data file that is not an item, or whose item
// failed verification (its Err then wraps dynacrypt.ErrIntegrity). Nothing
// of the item's plaintext is in it.
type ItemFailure struct {
	File string // the data file's name in the folder: data/NAME
	Line int    // from 1
	// Key holds the item's key attributes as the line has them (unverified),
	// nil for a line that is not an item.
	Key map[string]types.AttributeValue
	Err error
}

// Error names the file, the line and the key, then the cause.
func (f *ItemFailure) Error() string {
	key := ""
	if f.Key != nil {
		key = ", key " + keytext.String(f.Key)
	}
	return fmt.Sprintf("export: %s: line %d%s: %v", f.File, f.Line, key, f.Err)
}

// Unwrap returns the cause.
func (f *ItemFailure) Unwrap() error { return f.Err }

// A FileResult is what the decryption of one data file came to.
type FileResult struct {
	File    *DataFile
	Items   int64 // lines read, each an item or meant to be one
	Written int64 // items that verified, decrypted and were written
	Failed  int64 // lines reported to DecryptOptions.Failed
	// Err is nil when the file was read whole and matched the manifest: it
	// wraps ErrItemCount or ErrChecksum for a file that did not, or the
	// read error of one that could not be read whole (a gzip stream cut
	// short, say).
	Err error
}

// A Report is what the decryption of a whole export came to.
type Report struct {
	Files     []FileResult // in the order of the files manifest
	ItemCount int64        // the summary's count
	Items     int64        // lines read in all files
	Written   int64
	Failed    int64
}

// Err returns nil if every data file was read whole and matched the
// manifest, the export held the summary's count of items, and every item
// verified and was written; otherwise an error that says what did not, by
// file.
func (r *Report) Err() error {
	var errs []error
	if r.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d items failed", r.Failed, r.Items))
	}
	for i := range r.Files {
		if f := &r.Files[i]; f.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.File.Name(), f.Err))
		}
	}
	if r.Items != r.ItemCount {
		errs = append(errs, fmt.Errorf("the export holds %d items, the summary says %d: %w", r.Items, r.ItemCount, ErrItemCount))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("export: %w", errors.Join(errs...))
}

// DecryptFolder verifies and decrypts every item of the export f through
// items, several data files at once, each in its order, and checks every
// file against the files manifest: its item count, and its MD5 digest if
// the manifest gives one. A line that is not an item, or whose item fails
// verification, is reported to opts.Failed by file, line and key, and the
// decryption goes on (but with opts.Strict); a file that does not match
// the manifest, or cannot be read whole, is reported in its FileResult.
// The report's Err says whether all went well.
//
// The error DecryptFolder returns is of the run, not of the export: a
// cancelled ctx, or an Output that fails; the report then holds what was
// done.
func DecryptFolder[O any](ctx context.Context, f *Folder, items Opener[O], opts DecryptOptions) (*Report, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}
	if opts.Format == nil {
		opts.Format = AppendLine
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d := &decryption[O]{items: items, opts: &opts, cancel: cancel}
	report := &Report{Files: make([]FileResult, len(f.Files)), ItemCount: f.ItemCount}
	next := make(chan int)
	var wg sync.WaitGroup
	var runErr atomic.Pointer[error]
	for range min(workers, len(f.Files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res := &report.Files[i]
				res.File = &f.Files[i]
				if err := d.file(ctx, res); err != nil {
					runErr.CompareAndSwap(nil, &err)
					cancel(err)
				}
				d.done(res)
			}
		}()
	}
	for i := range f.Files {
		select {
		case next <- i:
			continue
		case <-ctx.Done():
		}
		for j := i; j < len(f.Files); j++ { // files never started
			report.Files[j] = FileResult{File: &f.Files[j], Err: errStopped}
		}
		break
	}
	close(next)
	wg.Wait()
	for _, res := range report.Files {
		report.Items += res.Items
		report.Written += res.Written
		report.Failed += res.Failed
	}
	if err := runErr.Load(); err != nil {
		return report, *err
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, errStrict) {
		return report, err
	}
	return report, nil
}

// errStrict is the cause of the cancellation that Strict makes.
var errStrict = errors.New("stopped at the first failure")

// decryption is what DecryptFolder's workers share.
type decryption[O any] struct {
	items  Opener[O]
	opts   *DecryptOptions
	cancel context.CancelCauseFunc
	mu     sync.Mutex // serialises the callbacks
}

// done reports a data file's result.
func (d *decryption[O]) done(res *FileResult) {
	if d.opts.Strict && (res.Err != nil || res.Failed > 0) {
		d.cancel(errStrict)
	}
	if d.opts.FileDone != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.opts.FileDone(res)
	}
}

// failed reports an item's failure.
func (d *decryption[O]) failed(res *FileResult, f *ItemFailure) {
	res.Failed++
	if d.opts.Strict {
		d.cancel(errStrict)
	}
	if d.opts.Failed != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.opts.Failed(f)
	}
}

// file decrypts one data file into res. Its error is the run's (the output
// failed, or ctx ended): what concerns the file alone goes into res.
func (d *decryption[O]) file(ctx context.Context, res *FileResult) (err error) {
	if ctx.Err() != nil {
		res.Err = errStopped
		return nil
	}
	in, err := os.Open(res.File.Path)
	if err != nil {
		res.Err = err
		return nil
	}
	defer in.Close()
	var out *bufio.Writer
	if d.opts.Output != nil {
		w, err := d.opts.Output(res.File)
		if err != nil {
			return fmt.Errorf("export: output of %s: %w", res.File.Name(), err)
		}
		defer func() {
			if ferr := out.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("export: output of %s: %w", res.File.Name(), ferr)
			}
			if cerr := w.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("export: output of %s: %w", res.File.Name(), cerr)
			}
		}()
		out = bufio.NewWriterSize(w, 256<<10)
	}
	sum := md5.New()
	src := io.TeeReader(in, sum)
	var buf []byte
	for line, lerr := range Items(src) {
		if ctx.Err() != nil {
			res.Err = errStopped
			if errors.Is(context.Cause(ctx), errStrict) {
				return nil
			}
			return context.Cause(ctx)
		}
		if lerr != nil && line.Number == 0 { // the file does not read on
			res.Err = lerr
			break
		}
		res.Items++
		if lerr != nil {
			d.failed(res, &ItemFailure{File: res.File.Name(), Line: line.Number, Err: errors.Unwrap(lerr)})
			continue
		}
		item, err := d.items.Open(ctx, line.Item)
		if err == nil {
			buf, err = d.opts.Format(buf[:0], item)
		}
		if err != nil && ctx.Err() != nil {
			continue // the decryption stopped, not the item: see above
		}
		if err != nil {
			d.failed(res, &ItemFailure{File: res.File.Name(), Line: line.Number, Key: d.items.Key(line.Item), Err: err})
			continue
		}
		if out != nil {
			if _, err := out.Write(buf); err != nil {
				return fmt.Errorf("export: output of %s: %w", res.File.Name(), err)
			}
		}
		res.Written++
	}
	if res.Err != nil {
		return nil
	}
	var errs []error
	if res.Items != res.File.ItemCount {
		errs = append(errs, fmt.Errorf("%d items, the manifest says %d: %w", res.Items, res.File.ItemCount, ErrItemCount))
	}
	if res.File.MD5 != nil && subtle.ConstantTimeCompare(sum.Sum(nil), res.File.MD5) != 1 {
		errs = append(errs, ErrChecksum)
	}
	res.Err = errors.Join(errs...)
	return nil
}
