package dynacrypttest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KeyMaker is the part of *kms.Client that [KMSKey] and [NewKeyStore] use
// to make a KMS key for a test and schedule its deletion.
type KeyMaker interface {
	CreateKey(ctx context.Context, params *kms.CreateKeyInput, optFns ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, params *kms.ScheduleKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
}

// KMSKey creates a symmetric encryption key in the KMS-compatible server
// (local-kms) at the URL in AWS_ENDPOINT_URL_KMS, for the test alone, and
// returns a client, as [KMS] configures it with optFns, and the key's ARN,
// for [dynacrypt.NewKMSCipher] or [NewKeyStore]. When the test ends the key
// is scheduled for deletion, after the shortest wait KMS allows (7 days).
//
// Like KMS, it skips the test when AWS_ENDPOINT_URL_KMS is unset, or fails
// it when CI is set too. Any other failure fails the test.
func KMSKey(tb testing.TB, optFns ...func(*kms.Options)) (*kms.Client, string) {
	tb.Helper()
	client := KMS(tb, optFns...)
	return client, newKMSKey(tb, client)
}

// newKMSKey creates a key through client and schedules its deletion when
// the test ends.
func newKMSKey(tb testing.TB, client KeyMaker) string {
	tb.Helper()
	ctx := context.Background()
	out, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("dynacrypttest: " + tb.Name())})
	if err != nil {
		tb.Fatalf("dynacrypttest: creating a KMS key: %v", err)
	}
	arn := aws.ToString(out.KeyMetadata.Arn)
	tb.Cleanup(func() {
		if _, err := client.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{
			KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7)}); err != nil {
			tb.Errorf("dynacrypttest: scheduling the deletion of KMS key %s: %v", arn, err)
		}
	})
	return arn
}
