package streams

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// FromLambda converts the attribute values of a Lambda stream event (Keys,
// NewImage or OldImage of an events.DynamoDBStreamRecord) to the DynamoDB
// client's types, which [dynacrypt.Store.UnmarshalItem] verifies. The
// conversion is exact, since the signature covers every byte: numbers stay
// the strings DynamoDB sent, binaries the bytes Lambda decoded from base64,
// sets keep their order, and lists and maps are converted all the way down.
// The result shares byte slices with av.
//
// It fails on a value that holds no type (the zero
// events.DynamoDBAttributeValue), naming the attribute, never its value.
func FromLambda(av map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	return convertMap(av, fromLambda)
}

// FromStreams converts the attribute values of a DynamoDB Streams API
// record (Keys, NewImage or OldImage of a types.StreamRecord from
// GetRecords) to the DynamoDB client's types, exactly, as [FromLambda] does.
// The two SDK packages describe the same wire format with distinct Go types.
//
// It is attributevalue.FromDynamoDBStreamsMap, except that a nil map stays
// nil (a record's missing image, not an empty item) and that errors name the
// attribute: it fails on a union member the SDK did not know
// (*UnknownUnionMember) or a nil value (typed nil pointers included).
func FromStreams(av map[string]streamstypes.AttributeValue) (map[string]types.AttributeValue, error) {
	return convertMap(av, fromStreams)
}

// convertMap converts every value of m with conv. Empty maps and lists come
// out non-nil, as the DynamoDB client decodes them.
func convertMap[V any](m map[string]V, conv func(V) (types.AttributeValue, error)) (map[string]types.AttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for name, v := range m {
		c, err := conv(v)
		if err != nil {
			return nil, within(err, name, -1)
		}
		out[name] = c
	}
	return out, nil
}

func convertList[V any](l []V, conv func(V) (types.AttributeValue, error)) ([]types.AttributeValue, error) {
	out := make([]types.AttributeValue, len(l))
	for i, v := range l {
		c, err := conv(v)
		if err != nil {
			return nil, within(err, "", i)
		}
		out[i] = c
	}
	return out, nil
}

// convError is a value that could not be converted, at path in its item:
// "tags"[2], "address"."street". The path is built as the error goes up
// through the maps and lists that hold the value, so that a conversion that
// succeeds builds none.
type convError struct {
	path string
	what string
}

func (e *convError) Error() string { return "attribute " + e.path + ": " + e.what }

func failed(format string, args ...any) error {
	return &convError{what: fmt.Sprintf(format, args...)}
}

// within puts err's path inside the map element name, or if index is not
// negative, inside the list element index.
func within(err error, name string, index int) error {
	ce, ok := err.(*convError)
	if !ok {
		return err
	}
	switch {
	case index >= 0:
		ce.path = "[" + strconv.Itoa(index) + "]" + ce.path
	case ce.path == "" || ce.path[0] == '[':
		ce.path = strconv.Quote(name) + ce.path
	default:
		ce.path = strconv.Quote(name) + "." + ce.path
	}
	return ce
}

func fromLambda(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		// The zero DynamoDBAttributeValue claims to be a binary and holds
		// nothing; Binary would panic on it.
		if v.IsNull() {
			return nil, failed("empty attribute value (no type)")
		}
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l, err := convertList(v.List(), fromLambda)
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case events.DataTypeMap:
		m, err := convertMap(v.Map(), fromLambda)
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]types.AttributeValue{}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, failed("unknown Lambda data type %d", v.DataType())
}

func fromStreams(v streamstypes.AttributeValue) (types.AttributeValue, error) {
	if rv := reflect.ValueOf(v); v != nil && rv.Kind() == reflect.Pointer && rv.IsNil() {
		// (*AttributeValueMemberS)(nil) and the like: Go code can build
		// one, GetRecords never returns one.
		return nil, failed("nil %T", v)
	}
	switch v := v.(type) {
	case *streamstypes.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberBS:
		return &types.AttributeValueMemberBS{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberL:
		l, err := convertList(v.Value, fromStreams)
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case *streamstypes.AttributeValueMemberM:
		m, err := convertMap(v.Value, fromStreams)
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]types.AttributeValue{}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case *streamstypes.UnknownUnionMember:
		return nil, failed("attribute value of a type this SDK does not know (%q)", v.Tag)
	case nil:
		return nil, failed("nil attribute value")
	}
	return nil, failed("unexpected attribute value type %T", v)
}
