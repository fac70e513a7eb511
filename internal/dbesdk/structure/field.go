package structure

import (
	"fmt"
	"slices"

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
	sc.known = true
	return true, nil
}
