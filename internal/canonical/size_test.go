package canonical

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestSizeHintIsAppendsSize(t *testing.T) {
	values := sampleValues()
	values["long"] = &types.AttributeValueMemberS{Value: strings.Repeat("x", 100000)}
	values["nested"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"all": &types.AttributeValueMemberL{Value: valuesOf(sampleValues())}}}
	for name, av := range values {
		enc, err := Append(nil, av)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := SizeHint(av); got != len(enc) {
			t.Errorf("%s: SizeHint = %d, Append appends %d", name, got, len(enc))
		}
	}
}

func valuesOf(m map[string]types.AttributeValue) []types.AttributeValue {
	var vs []types.AttributeValue
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// TestSizeHintOfRefusedValues: what Append refuses costs SizeHint no panic
// and no walk below MaxDepth.
func TestSizeHintOfRefusedValues(t *testing.T) {
	for _, v := range append(typedNils, nil, &types.AttributeValueMemberL{Value: typedNils}) {
		SizeHint(v)
	}
	deep := types.AttributeValue(&types.AttributeValueMemberS{Value: strings.Repeat("x", 1000)})
	for range 100 * MaxDepth {
		deep = &types.AttributeValueMemberL{Value: []types.AttributeValue{deep}}
	}
	if n := SizeHint(deep); n > 3*(MaxDepth+1) {
		t.Errorf("SizeHint of lists nested %d deep = %d: it walked below MaxDepth", 100*MaxDepth, n)
	}
}
