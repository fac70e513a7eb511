package structure

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/dynacrypt/dynacrypt/internal/dbesdk/ddbser"
)

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

// reproducedContext appends to dst the encryption context entries a reader
// rebuilds from the item rather than the header: the base context of the
// format version and, in version 2, one entry per
// SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT attribute and their legend. fields
// are the record's signed fields with their actions; sc holds the
// encodings on their way to strings.
func (e *Encryptor) reproducedContext(dst []Pair, sc *scratch, version byte, fields []field) []Pair {
	dst = append(dst, Pair{tableNameKey, e.cfg.TableName}, Pair{partitionNameKey, e.cfg.PartitionKey})
	if e.cfg.SortKey != "" {
		dst = append(dst, Pair{sortNameKey, e.cfg.SortKey})
	}
	if version == 1 {
		for _, key := range [...]string{e.cfg.PartitionKey, e.cfg.SortKey} {
			if f := findField(fields, key); key != "" && f != nil {
				dst = append(dst, Pair{e.layout.contextKey(key), encodeTerminal(sc, f)})
			}
		}
		return dst
	}
	inContext := sc.inContext[:0]
	for i := range fields {
		if fields[i].action == SignAndIncludeInEncryptionContext {
			inContext = append(inContext, int32(i))
		}
	}
	sc.inContext = inContext
	if len(inContext) == 0 {
		return dst
	}
	slices.SortFunc(inContext, func(i, j int32) int { return strings.Compare(fields[i].name, fields[j].name) })
	legend := sc.legend[:0]
	for _, i := range inContext {
		f := &fields[i]
		value, kind := contextValue(sc, f)
		dst = append(dst, Pair{e.layout.contextKey(f.name), value})
		legend = append(legend, kind)
	}
	sc.legend = legend
	return append(dst, Pair{legendKey, string(legend)})
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
func contextValue(sc *scratch, f *field) (string, byte) {
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
	return encodeTerminal(sc, f), 'B'
}

// encodeTerminal returns the base64 of the terminal's type ID and value
// (encrypt-item.md, "Base Context Value Version 1"), encoded in sc.text.
func encodeTerminal(sc *scratch, f *field) string {
	raw := binary.BigEndian.AppendUint16(sc.text[:0], uint16(f.typ))
	raw = append(raw, f.value...)
	sc.text = base64.StdEncoding.AppendEncode(raw, raw)
	return string(sc.text[len(raw):])
}

// mergeContext appends to dst the record's full encryption context: the
// header's and the reproduced entries, which must agree where both have a
// key.
func mergeContext(dst []Pair, stored Context, reproduced []Pair) (Context, error) {
	dst = append(dst, stored...)
	for _, p := range reproduced {
		if v, ok := stored.Get(p.Key); ok {
			if v != p.Value {
				return nil, fmt.Errorf("%w: the header's encryption context disagrees with the item on %q", ErrMalformed, p.Key)
			}
			continue
		}
		dst = append(dst, p)
	}
	ec, err := sortContext(dst)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return ec, nil
}
