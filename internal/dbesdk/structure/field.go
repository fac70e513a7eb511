package structure

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
)

// field is a signed attribute of a record: its terminal (type ID and
// value, as DB-ESDK's structured data holds it) and its canonical path.
type field struct {
	name   string
	action Action
	typ    ddbser.TypeID
	value  []byte // plaintext terminal value, or the encrypted one
	path   []byte
}

// scratch holds a record's working buffers, pooled: its serialized signed
// fields and their paths, and its decrypted values. Nothing in it outlives
// the call that took it, and it is wiped when given back, as it held
// plaintext.
type scratch struct {
	signed  []signedAttr
	order   []int32       // indexes into signed, in canonical path order
	present []presentAttr // configured attributes of the item, in canonical path order
	fields  []field
	offsets []int
	buf     []byte // serialized values and paths
	plain   []byte // decrypted values
	record  []byte // the canonical record
}

// signedAttr is a signed attribute before serialization.
type signedAttr struct {
	name     string
	av       types.AttributeValue
	action   Action
	utf16Len int
}

// presentAttr is a configured attribute of an item being serialized.
type presentAttr struct {
	attr *knownAttr
	av   types.AttributeValue
}

// maxPooledScratch bounds the buffers kept for reuse, so that one large
// item does not pin its memory.
const maxPooledScratch = 64 << 10

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 2048)} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// release wipes sc and returns it to the pool.
func (sc *scratch) release() {
	if cap(sc.buf)+cap(sc.plain)+cap(sc.record) > maxPooledScratch {
		return
	}
	clear(sc.buf[:cap(sc.buf)])
	clear(sc.plain[:cap(sc.plain)])
	clear(sc.record[:cap(sc.record)])
	clear(sc.signed)
	clear(sc.present)
	clear(sc.fields)
	sc.signed, sc.order, sc.present, sc.fields, sc.offsets = sc.signed[:0], sc.order[:0], sc.present[:0], sc.fields[:0], sc.offsets[:0]
	sc.buf, sc.plain, sc.record = sc.buf[:0], sc.plain[:0], sc.record[:0]
	scratchPool.Put(sc)
}

// serializeFields sets sc.fields to the signed fields of item in canonical
// path order, the order of the legend, the field keys and the canonical
// hash: the attributes to which action gives an action other than
// DoNothing, serialized, with their canonical paths. Serialization errors
// wrap kind. extra counts the attributes of item that the caller has
// already seen and that action makes DoNothing without a word (the header
// and footer, when decrypting): with them, an item of configured
// attributes only takes the layout's paths and order.
func (e *Encryptor) serializeFields(sc *scratch, item map[string]types.AttributeValue, kind error, extra int, action func(name string) (Action, error)) error {
	if ok, err := e.serializeKnown(sc, item, kind, extra); ok {
		return err
	}
	for name, av := range item {
		a, err := action(name)
		if err != nil {
			return err
		}
		if a != DoNothing {
			sc.order = append(sc.order, int32(len(sc.signed)))
			sc.signed = append(sc.signed, signedAttr{name: name, av: av, action: a, utf16Len: utf16Len(name)})
		}
	}
	// The indexes sort, not the attributes, which hold pointers the
	// garbage collector would have to follow every move.
	slices.SortFunc(sc.order, func(i, j int32) int {
		a, b := &sc.signed[i], &sc.signed[j]
		return cmpCanonical(a.name, a.utf16Len, b.name, b.utf16Len)
	})
	for _, i := range sc.order {
		attr := &sc.signed[i]
		start := len(sc.buf)
		var typ ddbser.TypeID
		var err error
		if sc.buf, typ, err = ddbser.AppendValue(sc.buf, attr.av); err != nil {
			return fmt.Errorf("%w: attribute %q: %w", kind, attr.name, err)
		}
		mid := len(sc.buf)
		sc.buf = appendPath(sc.buf, e.cfg.TableName, attr.name, attr.utf16Len)
		sc.offsets = append(sc.offsets, start, mid, len(sc.buf))
		sc.fields = append(sc.fields, field{name: attr.name, action: attr.action, typ: typ})
	}
	for i := range sc.fields {
		o := sc.offsets[3*i:]
		sc.fields[i].value, sc.fields[i].path = sc.buf[o[0]:o[1]:o[1]], sc.buf[o[1]:o[2]:o[2]]
	}
	return nil
}

// serializeKnown is serializeFields for an item whose attributes, but for
// extra, are all configured: it takes their paths and order from the
// layout, with their configured actions. It reports false, with sc
// unchanged, for any other item, which the caller serializes the general
// way: its errors (an unconfigured attribute) come before serialization
// errors.
func (e *Encryptor) serializeKnown(sc *scratch, item map[string]types.AttributeValue, kind error, extra int) (bool, error) {
	l := &e.layout
	if !l.fast || len(item) > len(l.signed)+len(l.unsigned)+extra {
		return false, nil
	}
	n := extra
	for _, name := range l.unsigned {
		if _, ok := item[name]; ok {
			n++
		}
	}
	for i := range l.signed {
		if av, ok := item[l.signed[i].name]; ok {
			sc.present = append(sc.present, presentAttr{attr: &l.signed[i], av: av})
		}
	}
	if n+len(sc.present) != len(item) {
		clear(sc.present)
		sc.present = sc.present[:0]
		return false, nil
	}
	for _, p := range sc.present {
		start := len(sc.buf)
		var typ ddbser.TypeID
		var err error
		if sc.buf, typ, err = ddbser.AppendValue(sc.buf, p.av); err != nil {
			return true, fmt.Errorf("%w: attribute %q: %w", kind, p.attr.name, err)
		}
		sc.offsets = append(sc.offsets, start, len(sc.buf))
		sc.fields = append(sc.fields, field{name: p.attr.name, action: p.attr.action, typ: typ, path: p.attr.path})
	}
	for i := range sc.fields {
		o := sc.offsets[2*i:]
		sc.fields[i].value = sc.buf[o[0]:o[1]:o[1]]
	}
	return true, nil
}

// Encryption context keys DB-ESDK adds (encrypt-item.md, "DynamoDB Item
// Base Context"; encrypt-path-structure.md, "Create New Encryption Context
// and CMM").
const (
	tableNameKey     = "aws-crypto-table-name"
	partitionNameKey = "aws-crypto-partition-name"
	sortNameKey      = "aws-crypto-sort-name"
	attrKeyPrefix    = "aws-crypto-attr."
	legendKey        = "aws-crypto-legend"
)

// reproducedContext returns the encryption context entries a reader rebuilds
// from the item rather than the header: the base context of the format
// version and, in version 2, one entry per
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attribute and their legend. fields
// are the record's signed fields with their actions.
func (e *Encryptor) reproducedContext(version byte, fields []field) []Pair {
	pairs := make([]Pair, 0, 8)
	pairs = append(pairs, Pair{tableNameKey, e.cfg.TableName}, Pair{partitionNameKey, e.cfg.PartitionKey})
	if e.cfg.SortKey != "" {
		pairs = append(pairs, Pair{sortNameKey, e.cfg.SortKey})
	}
	if version == 1 {
		for _, key := range []string{e.cfg.PartitionKey, e.cfg.SortKey} {
			if f := findField(fields, key); f != nil {
				pairs = append(pairs, Pair{attrKeyPrefix + key, encodeTerminal(f)})
			}
		}
		return pairs
	}
	var inContext []*field
	for i := range fields {
		if fields[i].action == SignAndIncludeInEncryptionContext {
			inContext = append(inContext, &fields[i])
		}
	}
	if len(inContext) == 0 {
		return pairs
	}
	slices.SortFunc(inContext, func(a, b *field) int { return strings.Compare(a.name, b.name) })
	legend := make([]byte, 0, len(inContext))
	for _, f := range inContext {
		value, kind := contextValue(f)
		pairs = append(pairs, Pair{attrKeyPrefix + f.name, value})
		legend = append(legend, kind)
	}
	return append(pairs, Pair{legendKey, string(legend)})
}

func findField(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	return nil
}

// contextValue returns a version 2 context value and its legend character
// (encrypt-item.md, "Base Context Value Version 2").
func contextValue(f *field) (string, byte) {
	switch f.typ {
	case ddbser.TypeString:
		return string(f.value), 'S'
	case ddbser.TypeNumber:
		return string(f.value), 'N'
	case ddbser.TypeNull:
		return "null", 'L'
	case ddbser.TypeBool:
		if len(f.value) == 1 && f.value[0] != 0 {
			return "true", 'L'
		}
		return "false", 'L'
	}
	return encodeTerminal(f), 'B'
}

// encodeTerminal returns the base64 of the terminal's type ID and value
// (encrypt-item.md, "Base Context Value Version 1").
func encodeTerminal(f *field) string {
	raw := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(f.value)), uint16(f.typ))
	return base64.StdEncoding.EncodeToString(append(raw, f.value...))
}
