package dynacrypt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynacrypt/dynacrypt/internal/canonical"
	"github.com/dynacrypt/dynacrypt/internal/schema"
)

type queryConfig struct {
	readConfig
	index                            string
	sortOp                           string
	sortValues                       []any
	filter                           *expression.ConditionBuilder
	limit, pageSize                  int
	descending                       bool
	segment, totalSegments, parallel int
	report                           func(*ItemError) // ReportFailures
}

func queryConfigOf(opts []QueryOption) queryConfig {
	var qc queryConfig
	for _, o := range opts {
		o.applyQuery(&qc)
	}
	return qc
}

// request is a prepared Query or Scan: everything but the start key.
type request struct {
	op          string // "Query", "Scan" or "Lookup"
	query       *dynamodb.QueryInput
	scan        *dynamodb.ScanInput
	qc          queryConfig
	fingerprint []byte // what a cursor binds to
	// match, if set, keeps only the items whose verified, decrypted
	// attributes it accepts: Lookup's removal of false positives.
	match func(map[string]types.AttributeValue) bool
	// tenant, if set, is the only tenant whose items Lookup opens: the
	// others' are dropped unread, keys unfetched.
	tenant string
	// probe, for a Lookup, is the canonical encoding of the values match
	// compares, which its cursors bind to (keyed, in cursorInfo): the
	// fingerprint has only their beacon, which other values share.
	probe []byte
}

// fetch runs one request from start and returns its items and the key to
// continue from (nil at the end).
func (r *request) fetch(ctx context.Context, db DB, start map[string]types.AttributeValue, limit int) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	var lim *int32
	if limit > 0 {
		n := int32(min(limit, 1<<30))
		lim = &n
	}
	if r.query != nil {
		in := *r.query
		in.ExclusiveStartKey, in.Limit = start, lim
		out, err := db.Query(ctx, &in)
		if err != nil {
			return nil, nil, err
		}
		return out.Items, out.LastEvaluatedKey, nil
	}
	in := *r.scan
	in.ExclusiveStartKey, in.Limit = start, lim
	out, err := db.Scan(ctx, &in)
	if err != nil {
		return nil, nil, err
	}
	return out.Items, out.LastEvaluatedKey, nil
}

// Query yields the items whose partition key (of the table, or of the index
// named by UsingIndex) equals key's, in sort key order, optionally limited by
// a sort key condition and a Filter. Pages are fetched as the loop asks for
// items and fetching stops when the loop stops. Each item is verified and
// decrypted; an error is yielded once and ends the sequence, but with
// ReportFailures, which reports an item that fails and goes on.
//
//	for order, err := range orders.Query(ctx, Order{Customer: "c1"}, dynacrypt.SortKeyBeginsWith("2026-")) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (s *Store[T]) Query(ctx context.Context, key T, opts ...QueryOption) iter.Seq2[*T, error] {
	qc := queryConfigOf(opts)
	return func(yield func(*T, error) bool) {
		r, err := s.queryRequest(&key, qc)
		if err != nil {
			yield(nil, s.fail("Query", err))
			return
		}
		s.run(ctx, r, nil, reporting(qc.report, yield))
	}
}

// Scan yields every item of the table (or of the index named by
// UsingIndex), optionally filtered, verified and decrypted. With Parallel(n)
// it reads n segments at once; with Segment(i, n) only one of them.
func (s *Store[T]) Scan(ctx context.Context, opts ...QueryOption) iter.Seq2[*T, error] {
	qc := queryConfigOf(opts)
	return func(yield func(*T, error) bool) {
		if qc.parallel > 1 {
			s.scanParallel(ctx, qc, yield)
			return
		}
		r, err := s.scanRequest(qc)
		if err != nil {
			yield(nil, s.fail("Scan", err))
			return
		}
		s.run(ctx, r, nil, reporting(qc.report, yield))
	}
}

// run yields the items of r from start until the end, the limit, or the
// loop's end; with ReportFailures, it yields an *ItemError for an item that
// fails, and goes on if yield returns true. Reports count toward the limit,
// as the items read they are.
func (s *Store[T]) run(ctx context.Context, r *request, start map[string]types.AttributeValue, yield func(*T, error) bool) {
	yielded := 0
	for {
		want := r.qc.pageSize
		if r.qc.limit > 0 && (want == 0 || r.qc.limit-yielded < want) {
			want = r.qc.limit - yielded
		}
		items, next, err := r.fetch(ctx, s.db, start, want)
		if err != nil {
			yield(nil, s.fail(r.op, err))
			return
		}
		for _, av := range items {
			item, err := s.decodeMatch(ctx, av, r)
			switch {
			case err != nil:
				report := s.itemFailure(r, av, err)
				if report == nil {
					yield(nil, s.fail(r.op, err))
					return
				}
				if !yield(nil, report) {
					return
				}
			case item == nil:
				continue // a false positive of a Lookup
			case !yield(item, nil):
				return
			}
			if yielded++; r.qc.limit > 0 && yielded >= r.qc.limit {
				return
			}
		}
		if next == nil {
			return
		}
		start = next
	}
}

// scanParallel runs one Scan per segment and yields their items as they
// come. When the loop stops early, the workers are cancelled and waited for.
// Reports (ReportFailures) come through the loop's goroutine, one at a time.
func (s *Store[T]) scanParallel(ctx context.Context, qc queryConfig, yield func(*T, error) bool) {
	if qc.totalSegments != 0 {
		yield(nil, s.fail("Scan", errors.New("Parallel and Segment cannot be combined")))
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		item *T
		err  error
	}
	results := make(chan result)
	var wg sync.WaitGroup
	limit := qc.limit
	qc.limit = 0 // counted here, across segments
	for i := 0; i < qc.parallel; i++ {
		seg := qc
		seg.segment, seg.totalSegments = i, qc.parallel
		r, err := s.scanRequest(seg)
		if err != nil {
			yield(nil, s.fail("Scan", err))
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, r, nil, func(item *T, err error) bool {
				select {
				case results <- result{item, err}:
					return err == nil || isReport(err)
				case <-ctx.Done():
					return false
				}
			})
		}()
	}
	go func() { wg.Wait(); close(results) }()
	defer func() {
		cancel()
		for range results { // let the workers finish
		}
	}()
	yielded := 0
	yield = reporting(qc.report, yield)
	for res := range results {
		if !yield(res.item, res.err) || res.err != nil && !isReport(res.err) {
			return
		}
		if yielded++; limit > 0 && yielded >= limit {
			return
		}
	}
}

// queryRequest prepares a Query for key under qc.
func (s *Store[T]) queryRequest(key *T, qc queryConfig) (*request, error) {
	fields, index, err := s.keysFor(qc.index)
	if err != nil {
		return nil, err
	}
	if qc.totalSegments != 0 || qc.parallel != 0 {
		return nil, errors.New("Segment and Parallel apply to Scan only")
	}
	if fields[0].Index == nil {
		return nil, fmt.Errorf("index %q is keyed by a beacon: use Lookup", qc.index)
	}
	pk, err := marshalKey(key, fields[:1])
	if err != nil {
		return nil, err
	}
	return s.partitionRequest("Query", fields, index, pk[fields[0].Attr], qc)
}

// partitionRequest prepares a Query of the partition whose key is pk, on the
// table or the index with these key fields.
func (s *Store[T]) partitionRequest(op string, fields []*schema.Field, index *string, pk types.AttributeValue, qc queryConfig) (*request, error) {
	var err error
	cond := expression.Key(fields[0].Attr).Equal(exprValue(pk))
	if qc.sortOp != "" {
		if len(fields) < 2 {
			return nil, fmt.Errorf("sort key condition on a table or index without a sort key")
		}
		if cond, err = sortCondition(cond, fields[1].Attr, qc.sortOp, qc.sortValues); err != nil {
			return nil, err
		}
	}
	expr, err := s.build(expression.NewBuilder().WithKeyCondition(cond), qc)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 index,
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            boolPtr(qc.consistent),
		ScanIndexForward:          new(bool),
	}
	*in.ScanIndexForward = !qc.descending
	fp, err := fingerprint(op, index, expr, qc)
	if err != nil {
		return nil, err
	}
	return &request{op: op, query: in, qc: qc, fingerprint: fp}, nil
}

// scanRequest prepares a Scan under qc.
func (s *Store[T]) scanRequest(qc queryConfig) (*request, error) {
	_, index, err := s.keysFor(qc.index)
	if err != nil {
		return nil, err
	}
	if qc.sortOp != "" || qc.descending {
		return nil, errors.New("sort key conditions and Descending apply to Query only")
	}
	in := &dynamodb.ScanInput{TableName: &s.table, IndexName: index, ConsistentRead: boolPtr(qc.consistent)}
	var expr expression.Expression
	if qc.filter != nil {
		if expr, err = s.build(expression.NewBuilder(), qc); err != nil {
			return nil, err
		}
		in.FilterExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = expr.Filter(), expr.Names(), expr.Values()
	}
	if qc.totalSegments != 0 {
		if qc.segment < 0 || qc.segment >= qc.totalSegments {
			return nil, fmt.Errorf("segment %d of %d is out of range", qc.segment, qc.totalSegments)
		}
		seg, total := int32(qc.segment), int32(qc.totalSegments)
		in.Segment, in.TotalSegments = &seg, &total
	}
	fp, err := fingerprint("Scan", index, expr, qc)
	if err != nil {
		return nil, err
	}
	return &request{op: "Scan", scan: in, qc: qc, fingerprint: fp}, nil
}

// keysFor returns the key fields of the table or of a declared index.
func (s *Store[T]) keysFor(index string) ([]*schema.Field, *string, error) {
	if index == "" {
		return s.keyAttrs, nil, nil
	}
	fields, ok := s.indexes[index]
	if !ok {
		return nil, nil, fmt.Errorf("index %q is not declared with WithIndex", index)
	}
	return fields, &index, nil
}

// build adds the filter to b and builds the expression, refusing filters on
// attributes that are encrypted or the header.
func (s *Store[T]) build(b expression.Builder, qc queryConfig) (expression.Expression, error) {
	if qc.filter != nil {
		b = b.WithFilter(*qc.filter)
	}
	expr, err := b.Build()
	if err != nil {
		return expr, err
	}
	for _, name := range expr.Names() {
		if _, enc := s.codec.encrypted[name]; enc || name == s.codec.headerAttr || (s.codec.format != nil && name == s.codec.formatHeader) {
			return expr, fmt.Errorf("filter on %q: encrypted attributes and the header are ciphertext in the table", name)
		}
	}
	return expr, nil
}

func sortCondition(cond expression.KeyConditionBuilder, attr, op string, values []any) (expression.KeyConditionBuilder, error) {
	avs := make([]types.AttributeValue, len(values))
	for i, v := range values {
		av, err := attributevalue.Marshal(v)
		if err != nil {
			return cond, fmt.Errorf("sort key value: %w", err)
		}
		avs[i] = av
	}
	k := expression.Key(attr)
	var sc expression.KeyConditionBuilder
	switch op {
	case "=":
		sc = k.Equal(exprValue(avs[0]))
	case "<":
		sc = k.LessThan(exprValue(avs[0]))
	case "<=":
		sc = k.LessThanEqual(exprValue(avs[0]))
	case ">":
		sc = k.GreaterThan(exprValue(avs[0]))
	case ">=":
		sc = k.GreaterThanEqual(exprValue(avs[0]))
	case "between":
		sc = k.Between(exprValue(avs[0]), exprValue(avs[1]))
	case "begins_with":
		s, ok := avs[0].(*types.AttributeValueMemberS)
		if !ok {
			return cond, errors.New("SortKeyBeginsWith takes a string")
		}
		sc = k.BeginsWith(s.Value)
	}
	return cond.And(sc), nil
}

// exprValue passes an attribute value to the expression builder, which
// takes the member types by value (a pointer would be marshalled as a map).
func exprValue(av types.AttributeValue) expression.ValueBuilder {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return expression.Value(*v)
	case *types.AttributeValueMemberN:
		return expression.Value(*v)
	case *types.AttributeValueMemberB:
		return expression.Value(*v)
	}
	return expression.Value(av)
}

// fingerprint identifies a request for the cursors it hands out: the
// operation, index, expressions with their names and values, direction,
// segment, and ReportFailures. A cursor from one request does not resume
// another.
func fingerprint(op string, index *string, expr expression.Expression, qc queryConfig) ([]byte, error) {
	h := sha256.New()
	buf := canonical.AppendName(nil, op)
	for _, part := range []*string{index, expr.KeyCondition(), expr.Filter()} {
		buf = canonical.AppendName(buf, valueOr(part))
	}
	names := map[string]types.AttributeValue{}
	for k, v := range expr.Names() {
		names[k] = &types.AttributeValueMemberS{Value: v}
	}
	var err error
	if buf, err = canonical.Append(buf, &types.AttributeValueMemberM{Value: names}); err != nil {
		return nil, err
	}
	values := expr.Values()
	if values == nil {
		values = map[string]types.AttributeValue{}
	}
	if buf, err = canonical.Append(buf, &types.AttributeValueMemberM{Value: values}); err != nil {
		return nil, err
	}
	buf = fmt.Appendf(buf, "%t/%d/%d", qc.descending, qc.segment, qc.totalSegments)
	if qc.report != nil {
		// A tolerant listing's cursor may stand past an item that failed:
		// it must not resume a strict listing, which would never see it.
		buf = append(buf, "/reports failures"...)
	}
	h.Write(buf)
	return h.Sum(nil), nil
}
