package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/export"
)

// Step 9: a stream record decoded.

func (d *demo) streamRecord(ctx context.Context) error {
	d.Step("Decode a stream record: verified and decrypted like an item")
	d.Say("The service rotates ana's token (Update). The table's stream (view NEW_AND_OLD_IMAGES)")
	d.Say("carries the change as a MODIFY record holding both images as stored: ciphertext and header.")
	d.Say("dynalite has no streams, so the record is made from the two images read back, in the JSON")
	d.Say("DynamoDB Streams sends, and fetched with the SDK's Streams client (GetRecords) from a stand-in")
	d.Say("on loopback. A second record is forged: its new image's username edited.")
	old, err := d.rawItem(ctx, d.users.Table(), userKey(d.ana.ID))
	if err != nil {
		return err
	}
	rotated, err := d.users.Update(ctx, User{ID: d.ana.ID}, func(u *User) error {
		u.Token = randomHex(16)
		return nil
	})
	if err != nil {
		return err
	}
	current, err := d.rawItem(ctx, d.users.Table(), userKey(d.ana.ID))
	if err != nil {
		return err
	}
	forged := maps.Clone(current)
	forged["username"] = &types.AttributeValueMemberS{Value: "mallory"}
	records, err := getRecords(ctx, d.story,
		streamRecord{seq: "100", keys: userKey(d.ana.ID), old: old, new: current},
		streamRecord{seq: "101", keys: userKey(d.ana.ID), old: old, new: forged})
	if err != nil {
		return err
	}

	d.Say("The users Store verifies and decrypts each image (UnmarshalItem), as Get does an item:")
	var results []error
	for _, r := range records {
		before, after, part, err := d.openImages(ctx, r)
		results = append(results, err)
		name := fmt.Sprintf("record %s, %s of %s", aws.ToString(r.Dynamodb.SequenceNumber), r.EventName, streamKey(r))
		if err != nil {
			d.Show("%s: %s refused: %s", name, part, brief(err))
			continue
		}
		d.Show("%s: token %s -> %s, version %d -> %d", name, short(before.Token, 8), short(after.Token, 8), before.Version, after.Version)
		if before.Token != d.ana.Token || after.Token != rotated.Token {
			return errors.New("the record's images do not hold the tokens before and after the rotation")
		}
	}
	if len(results) != 2 || results[0] != nil || !errors.Is(results[1], dynacrypt.ErrIntegrity) {
		return fmt.Errorf("decoding the genuine and the forged record: %v, want nil and ErrIntegrity", results)
	}
	d.Say("In a service, package streams (module github.com/dynacrypt/dynacrypt/streams, a module of")
	d.Say("its own so that aws-lambda-go stays out of the library's go.mod) does this for each record")
	d.Say("of a Lambda event or of GetRecords, and also checks the record's Keys against its images.")
	d.ana = *rotated
	return nil
}

// streamKey returns the id in a record's Keys, unverified: for display.
func streamKey(r streamstypes.Record) string {
	if s, ok := r.Dynamodb.Keys["id"].(*streamstypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return "?"
}

// openImages verifies and decrypts a record's old and new images; part
// names the one that failed.
func (d *demo) openImages(ctx context.Context, r streamstypes.Record) (before, after *User, part string, err error) {
	open := func(image map[string]streamstypes.AttributeValue) (*User, error) {
		av, err := attributevalue.FromDynamoDBStreamsMap(image)
		if err != nil {
			return nil, err
		}
		d.count.read(d.users.Table(), av)
		return d.users.UnmarshalItem(ctx, av)
	}
	if before, err = open(r.Dynamodb.OldImage); err != nil {
		return nil, nil, "old image", err
	}
	if after, err = open(r.Dynamodb.NewImage); err != nil {
		return nil, nil, "new image", err
	}
	return before, after, "", nil
}

// streamRecord is a MODIFY record of a NEW_AND_OLD_IMAGES stream to render.
type streamRecord struct {
	seq            string
	keys, old, new map[string]types.AttributeValue
}

// getRecords renders records as the body of a GetRecords response, serves
// it on loopback and fetches it with the SDK's Streams client, so that the
// records go through the decoding (base64 binaries, number strings) real
// ones do.
func getRecords(ctx context.Context, st *story, records ...streamRecord) ([]streamstypes.Record, error) {
	body, err := getRecordsBody(records)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write(body)
	}))
	defer srv.Close()
	client := dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, Logger: st})
	out, err := client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("demo")})
	if err != nil {
		return nil, err
	}
	return out.Records, nil
}

func getRecordsBody(records []streamRecord) ([]byte, error) {
	type change struct {
		ApproximateCreationDateTime int64
		Keys, OldImage, NewImage    map[string]json.RawMessage
		SequenceNumber              string
		SizeBytes                   int
		StreamViewType              string
	}
	type record struct {
		AWSRegion    string `json:"awsRegion"`
		Dynamodb     change `json:"dynamodb"`
		EventID      string `json:"eventID"`
		EventName    string `json:"eventName"`
		EventSource  string `json:"eventSource"`
		EventVersion string `json:"eventVersion"`
	}
	out := struct {
		NextShardIterator string
		Records           []record
	}{NextShardIterator: "next"}
	for _, r := range records {
		c := change{ApproximateCreationDateTime: 1795500000, SequenceNumber: r.seq, StreamViewType: "NEW_AND_OLD_IMAGES"}
		for _, m := range []struct {
			dst *map[string]json.RawMessage
			src map[string]types.AttributeValue
		}{{&c.Keys, r.keys}, {&c.OldImage, r.old}, {&c.NewImage, r.new}} {
			*m.dst = map[string]json.RawMessage{}
			for name, v := range m.src {
				b, err := export.AppendValue(nil, v)
				if err != nil {
					return nil, err
				}
				(*m.dst)[name] = b
				c.SizeBytes += len(name) + len(b)
			}
		}
		out.Records = append(out.Records, record{AWSRegion: "us-east-1", Dynamodb: c, EventID: "event-" + r.seq,
			EventName: "MODIFY", EventSource: "aws:dynamodb", EventVersion: "1.1"})
	}
	return json.Marshal(out)
}
