// Package export reads and writes DynamoDB table exports: DynamoDB JSON, one
// {"Item": {...}} object per line, plain or gzip-compressed, as DynamoDB's
// export to S3 writes them. Items come out as the SDK's attribute maps, for
// dynacrypt's Store.UnmarshalItem or Items.Open to verify and decrypt:
//
//	for line, err := range export.Items(file) {
//		if err != nil {
//			return err
//		}
//		u, err := users.UnmarshalItem(ctx, line.Item)
//		...
//	}
//
// A whole export, as DynamoDB writes it to S3 (its manifests and a data
// folder of gzip files) and an operator copies it to disk, is read with
// OpenFolder, which checks the manifests, and decrypted with DecryptFolder,
// several data files at once, each checked against the manifests' item
// counts and MD5 digests, every failure reported by file, line and key:
//
//	folder, err := export.OpenFolder("exports/AWSDynamoDB/01234567890123-a1b2c3d4")
//	...
//	report, err := export.DecryptFolder(ctx, folder, items, export.DecryptOptions{
//		Output: func(f *export.DataFile) (io.WriteCloser, error) { return os.Create(...) },
//		Failed: func(f *export.ItemFailure) { log.Print(f) },
//	})
//	...
//	if err := report.Err(); err != nil { // items failed, or files did not match the manifests
//		...
//	}
package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
)

// Line is one item of an export file and its line number (from 1).
type Line struct {
	Number int
	Item   map[string]types.AttributeValue
}

// maxLine bounds a line: DynamoDB items are at most 400 KB, and their JSON
// (base64 binaries, type keys) is larger, but not 4 times.
const maxLine = 4 << 20

// Items reads an export file, plain or gzip (recognised by its first
// bytes), and yields its items in order. A line that is not an item yields
// an error naming its number, and reading goes on; a read error ends the
// sequence. Blank lines are skipped.
func Items(r io.Reader) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		br := bufio.NewReader(r)
		var src io.Reader = br // the Scanner buffers what it reads
		if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				yield(Line{}, fmt.Errorf("export: %w", err))
				return
			}
			defer zr.Close()
			src = zr
		}
		sc := bufio.NewScanner(src)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		for n := 1; sc.Scan(); n++ {
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			item, err := ParseLine(text)
			if err != nil {
				err = fmt.Errorf("export: line %d: %w", n, err)
			}
			if !yield(Line{Number: n, Item: item}, err) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Line{}, fmt.Errorf("export: %w", err))
		}
	}
}

// ParseLine parses one line of an export: {"Item": {name: value, ...}} in
// DynamoDB JSON.
func ParseLine(b []byte) (map[string]types.AttributeValue, error) {
	var line struct {
		Item map[string]json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&line); err != nil {
		return nil, err
	}
	if line.Item == nil {
		return nil, errors.New(`not an {"Item": {...}} object`)
	}
	return parseMap(line.Item)
}

func parseMap(m map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for name, raw := range m {
		v, err := ParseValue(raw)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// ParseValue parses one attribute value in DynamoDB JSON, such as
// {"S": "text"}, {"N": "1.5"}, {"B": "<base64>"} or {"M": {...}}. Numbers
// keep their text exactly.
func ParseValue(raw json.RawMessage) (types.AttributeValue, error) {
	var typed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &typed); err != nil {
		return nil, err
	}
	if len(typed) != 1 {
		return nil, fmt.Errorf("a value has exactly one type key, not %d", len(typed))
	}
	for kind, v := range typed {
		switch kind {
		case "S":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberS{Value: s}, err
		case "N":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberN{Value: s}, err
		case "B":
			var b []byte // base64, as encoding/json decodes []byte
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberNULL{Value: b}, err
		case "SS":
			var ss []string
			err := json.Unmarshal(v, &ss)
			return &types.AttributeValueMemberSS{Value: ss}, err
		case "NS":
			var ns []string
			err := json.Unmarshal(v, &ns)
			return &types.AttributeValueMemberNS{Value: ns}, err
		case "BS":
			var bs [][]byte
			err := json.Unmarshal(v, &bs)
			return &types.AttributeValueMemberBS{Value: bs}, err
		case "L":
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(list))
			for i, e := range list {
				var err error
				if out[i], err = ParseValue(e); err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, err
			}
			out, err := parseMap(m)
			return &types.AttributeValueMemberM{Value: out}, err
		default:
			return nil, fmt.Errorf("unknown type key %q", kind)
		}
	}
	panic("unreachable")
}

// AppendLine appends item as one line of an export, with its newline.
func AppendLine(dst []byte, item map[string]types.AttributeValue) ([]byte, error) {
	dst = append(dst, `{"Item":`...)
	dst, err := appendMap(dst, item)
	if err != nil {
		return nil, err
	}
	return append(dst, "}\n"...), nil
}

func appendMap(dst []byte, m map[string]types.AttributeValue) ([]byte, error) {
	dst = append(dst, '{')
	for i, name := range canonical.SortedKeys(m) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSON(dst, name)
		dst = append(dst, ':')
		var err error
		if dst, err = AppendValue(dst, m[name]); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
	}
	return append(dst, '}'), nil
}

// AppendValue appends an attribute value in DynamoDB JSON.
func AppendValue(dst []byte, v types.AttributeValue) ([]byte, error) {
	typed := func(kind string, value any) []byte {
		dst = append(dst, `{"`+kind+`":`...)
		dst = appendJSON(dst, value)
		return append(dst, '}')
	}
	if canonical.IsNil(v) {
		return nil, errors.New("nil attribute value")
	}
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return typed("S", v.Value), nil
	case *types.AttributeValueMemberN:
		return typed("N", v.Value), nil
	case *types.AttributeValueMemberB:
		return typed("B", base64.StdEncoding.EncodeToString(v.Value)), nil
	case *types.AttributeValueMemberBOOL:
		return typed("BOOL", v.Value), nil
	case *types.AttributeValueMemberNULL:
		return typed("NULL", v.Value), nil
	case *types.AttributeValueMemberSS:
		return typed("SS", v.Value), nil
	case *types.AttributeValueMemberNS:
		return typed("NS", v.Value), nil
	case *types.AttributeValueMemberBS:
		return typed("BS", v.Value), nil // encoding/json writes []byte as base64
	case *types.AttributeValueMemberL:
		dst = append(dst, `{"L":[`...)
		for i, e := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendValue(dst, e); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return append(dst, "]}"...), nil
	case *types.AttributeValueMemberM:
		dst = append(dst, `{"M":`...)
		dst, err := appendMap(dst, v.Value)
		if err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("unsupported attribute value %T", v)
}

// appendJSON appends v as JSON; v is a string, bool, or a slice of strings
// or byte slices, which cannot fail to encode.
func appendJSON(dst []byte, v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return append(dst, strings.TrimSuffix(b.String(), "\n")...)
}
