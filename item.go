package dynacrypt

import (
	"context"
	"errors"
	"maps"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MarshalItem returns the attribute map Put would send for item: marshalled
// as attributevalue.MarshalMap does, encrypted, signed, with the header, and
// with a version attribute at item's version plus one. It is for callers
// that send their own requests (PartiQL, hand-made transactions, imports);
// the condition Put would attach is theirs to add (the stored version is
// item's, or for version 0, attribute_not_exists of the partition key).
// item is not changed.
func (s *Store[T]) MarshalItem(ctx context.Context, item *T) (map[string]types.AttributeValue, error) {
	if item == nil {
		return nil, s.fail("MarshalItem", errors.New("nil item"))
	}
	p, err := s.preparePut(ctx, item, writeConfig{}, nil)
	if err != nil {
		return nil, s.fail("MarshalItem", err)
	}
	return p.item, nil
}

// UnmarshalItem verifies and decrypts a stored attribute map, as Get does
// with what GetItem returns, and unmarshals it into a new T. It is for items
// that reach the service by other ways than the Store's calls: stream
// records, exports, the answers to hand-made requests. Its errors are Get's:
// ErrIntegrity for an item that fails verification. av is not changed.
func (s *Store[T]) UnmarshalItem(ctx context.Context, av map[string]types.AttributeValue, opts ...ReadOption) (*T, error) {
	if av == nil {
		return nil, s.fail("UnmarshalItem", errors.New("nil item"))
	}
	item, err := s.decode(ctx, maps.Clone(av), readConfigOf(opts).skipDecrypt)
	if err != nil {
		return nil, s.fail("UnmarshalItem", err)
	}
	return item, nil
}
