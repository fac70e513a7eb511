package kmsid

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestConfigured(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{id, id, true},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab", true},
		{"arn:aws:kms:us-east-1:111122223333:key/" + id, id, true},
		{"arn:aws-cn:kms:cn-north-1:111122223333:key/" + id, id, true},
		{"alias/users", "alias/users", false},
		{"arn:aws:kms:us-east-1:111122223333:alias/users", "", false}, // only KMS resolves an alias
		{"arn:aws:s3:us-east-1:111122223333:key/" + id, "", false},
		{"1234ABCD-12AB-34CD-56EF-1234567890AB", "1234ABCD-12AB-34CD-56EF-1234567890AB", false}, // KMS writes lowercase
		{"mrk-1234", "mrk-1234", false},
	} {
		if got, ok := Configured(c.in); ok != c.ok || ok && got != c.want {
			t.Errorf("Configured(%q) = %q, %t; want %q, %t", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestError(t *testing.T) {
	integrity := errors.New("integrity")
	rejected := Error("Decrypt", "alias/k", &types.InvalidCiphertextException{}, integrity)
	if !errors.Is(rejected, integrity) || !Rejected(rejected) || rejected.Error() != "integrity: KMS Decrypt under alias/k: InvalidCiphertextException: " {
		t.Errorf("a rejected ciphertext: %v", rejected)
	}
	throttled := Error("Decrypt", "", errors.New("throttled"), integrity)
	if errors.Is(throttled, integrity) || Rejected(throttled) || throttled.Error() != "KMS Decrypt: throttled" {
		t.Errorf("a throttled call: %v", throttled)
	}
}
