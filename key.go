package dynacrypt

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/schema"
)

// keyFields looks up a partition key and a sort key ("" for none) in the
// schema, or in extra (beacon attributes), and checks their types.
func keyFields(sch *schema.Schema, extra map[string]*schema.Field, partitionKey, sortKey string) ([]*schema.Field, error) {
	var fields []*schema.Field
	for i, attr := range []string{partitionKey, sortKey} {
		if attr == "" {
			continue
		}
		f, ok := sch.Field(attr)
		if !ok {
			f, ok = extra[attr]
		}
		if !ok {
			return nil, fmt.Errorf("key attribute %q is not a field of %v, whose attributes are %s", attr, sch.Type, sch.AttributeList())
		}
		kt, err := f.KeyType()
		if err != nil {
			return nil, err
		}
		if i == 1 && kt == "S" && f.Type == reflect.TypeFor[time.Time]() {
			return nil, fmt.Errorf("%s: sort key %q is a time.Time, which attributevalue stores as RFC 3339 text with a fraction of varying length, so it does not sort as time does; add the unixtime option (dynamodbav:\"%s,unixtime\") to store Unix seconds, or use a string of fixed width", f.Path, f.Attr, f.Attr)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// keyOf returns the key attributes of key, marshalled as attributevalue would.
func (s *Store[T]) keyOf(key *T) (map[string]types.AttributeValue, error) {
	return marshalKey(key, s.keyAttrs)
}

// marshalKey returns the given key attributes of key, checked.
func marshalKey[T any](key *T, fields []*schema.Field) (map[string]types.AttributeValue, error) {
	km := make(map[string]types.AttributeValue, len(fields))
	var whole map[string]types.AttributeValue
	rv := reflect.ValueOf(key).Elem()
	for _, f := range fields {
		if f.Plain() {
			fv := rv.FieldByIndex(f.Index)
			if v, ok := scalarKey(fv); ok {
				km[f.Attr] = v
				continue
			}
			v, err := attributevalue.Marshal(fv.Interface())
			if err != nil {
				return nil, err
			}
			km[f.Attr] = v
			continue
		}
		// Tag options such as ",string" change how the field marshals;
		// only marshalling the struct applies them.
		if whole == nil {
			var err error
			if whole, err = attributevalue.MarshalMap(key); err != nil {
				return nil, err
			}
		}
		km[f.Attr] = whole[f.Attr]
	}
	if err := checkKey(km, fields); err != nil {
		return nil, err
	}
	return km, nil
}

// scalarKey marshals a key field of a string, integer or []byte kind as
// attributevalue does, without its encoder; ok is false for other kinds
// (time.Time, floats), which attributevalue marshals. New refused key types
// with their own marshallers.
func scalarKey(v reflect.Value) (types.AttributeValue, bool) {
	switch v.Kind() {
	case reflect.String:
		return &types.AttributeValueMemberS{Value: v.String()}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v.Int(), 10)}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &types.AttributeValueMemberN{Value: strconv.FormatUint(v.Uint(), 10)}, true
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 && !v.IsNil() {
			return &types.AttributeValueMemberB{Value: v.Bytes()}, true
		}
	}
	return nil, false
}

// checkKey rejects key attributes that are missing or empty, which DynamoDB
// would reject with a less clear message.
func checkKey(item map[string]types.AttributeValue, fields []*schema.Field) error {
	for _, f := range fields {
		switch v := item[f.Attr].(type) {
		case nil:
			return fmt.Errorf("key attribute %q (%s) is missing", f.Attr, f.Path)
		case *types.AttributeValueMemberS:
			if v.Value == "" {
				return fmt.Errorf("key attribute %q (%s) is empty", f.Attr, f.Path)
			}
			if !utf8.ValidString(v.Value) {
				return fmt.Errorf("key attribute %q (%s) is not valid UTF-8: DynamoDB would store U+FFFD in place of the invalid bytes", f.Attr, f.Path)
			}
		case *types.AttributeValueMemberB:
			if len(v.Value) == 0 {
				return fmt.Errorf("key attribute %q (%s) is empty", f.Attr, f.Path)
			}
		case *types.AttributeValueMemberN:
		default:
			return fmt.Errorf("key attribute %q (%s) marshals to %T; keys must be S, N or B", f.Attr, f.Path, v)
		}
	}
	return nil
}
