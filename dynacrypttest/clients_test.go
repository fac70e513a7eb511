package dynacrypttest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dynacrypt/dynacrypt/dynacrypttest"
)

// outcome records how a client helper ended a test: skipped or failed, and
// why. Skipf and Fatalf end the goroutine as testing's do.
type outcome struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (o *outcome) Helper() {}

func (o *outcome) Skipf(format string, args ...any) {
	o.skipped, o.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (o *outcome) Fatalf(format string, args ...any) {
	o.failed, o.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recording TB on its own goroutine, so that Skipf and
// Fatalf can end it.
func run(t *testing.T, f func(testing.TB)) *outcome {
	o := &outcome{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(o)
	}()
	<-done
	return o
}

// env sets the variables the helpers read, with no shared config files, so
// that the developer's own AWS setup does not leak in. "" leaves a variable
// empty, which counts as unset.
func env(t *testing.T, endpoint, region, ci string) {
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
	t.Setenv("AWS_ENDPOINT_URL_KMS", endpoint)
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("CI", ci)
}

// helpers are the client helpers under test, each returning the endpoint and
// region of the client it built.
var helpers = []struct {
	name, envVar string
	call         func(testing.TB) (endpoint, region string)
}{
	{"DynamoDB", "AWS_ENDPOINT_URL_DYNAMODB", func(tb testing.TB) (string, string) {
		o := dynacrypttest.DynamoDB(tb, func(o *dynamodb.Options) { o.AppID = "mine" }).Options()
		if o.AppID != "mine" {
			tb.Fatalf("option not applied")
		}
		return aws.ToString(o.BaseEndpoint), o.Region
	}},
	{"KMS", "AWS_ENDPOINT_URL_KMS", func(tb testing.TB) (string, string) {
		o := dynacrypttest.KMS(tb, func(o *kms.Options) { o.AppID = "mine" }).Options()
		if o.AppID != "mine" {
			tb.Fatalf("option not applied")
		}
		return aws.ToString(o.BaseEndpoint), o.Region
	}},
}

func TestClients(t *testing.T) {
	const url = "http://127.0.0.1:1"
	for _, h := range helpers {
		t.Run(h.name, func(t *testing.T) {
			t.Run("set", func(t *testing.T) {
				env(t, url, "eu-west-3", "true")
				t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true") // the helper still uses the URL it checked
				var endpoint, region string
				o := run(t, func(tb testing.TB) { endpoint, region = h.call(tb) })
				if o.skipped || o.failed || endpoint != url || region != "eu-west-3" {
					t.Errorf("skipped %v, failed %v (%s), endpoint %q, region %q; want a client for %s in eu-west-3",
						o.skipped, o.failed, o.msg, endpoint, region, url)
				}
			})
			t.Run("unset", func(t *testing.T) {
				env(t, "", "eu-west-3", "")
				if o := run(t, func(tb testing.TB) { h.call(tb) }); !o.skipped || o.failed || !strings.Contains(o.msg, h.envVar) {
					t.Errorf("skipped %v, failed %v, %q; want skipped, naming %s", o.skipped, o.failed, o.msg, h.envVar)
				}
			})
			t.Run("unset under CI", func(t *testing.T) {
				env(t, "", "eu-west-3", "true")
				if o := run(t, func(tb testing.TB) { h.call(tb) }); o.skipped || !o.failed || !strings.Contains(o.msg, h.envVar) || !strings.Contains(o.msg, "CI") {
					t.Errorf("skipped %v, failed %v, %q; want failed, naming %s and CI", o.skipped, o.failed, o.msg, h.envVar)
				}
			})
			t.Run("no region", func(t *testing.T) {
				env(t, url, "", "")
				if o := run(t, func(tb testing.TB) { h.call(tb) }); o.skipped || !o.failed || !strings.Contains(o.msg, "AWS_REGION") {
					t.Errorf("skipped %v, failed %v, %q; want failed, naming AWS_REGION", o.skipped, o.failed, o.msg)
				}
			})
		})
	}
}
