package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// awsClients are the AWS clients of a command, from the SDK's default
// configuration: region and credentials from the environment or the
// shared files, endpoints from AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_KMS when set.
type awsClients struct {
	dynamodb *dynamodb.Client
	kms      *kms.Client
}

func loadClients(ctx context.Context) (*awsClients, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &awsClients{dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)}, nil
}
