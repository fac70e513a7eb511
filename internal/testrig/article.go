package testrig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// ArticleUserPut stores a user as the original article's userPut does, on
// aws-sdk-go-v2: KMS Encrypt of the token under keyID with no encryption
// context, then PutItem of id, username and the raw ciphertext blob. Tests
// use it to make the legacy items that migration must read.
func ArticleUserPut(ctx context.Context, ddb *dynamodb.Client, k *kms.Client, table, keyID, id, username, token string) error {
	out, err := k.Encrypt(ctx, &kms.EncryptInput{Plaintext: []byte(token), KeyId: aws.String(keyID)})
	if err != nil {
		return err
	}
	_, err = ddb.PutItem(ctx, &dynamodb.PutItemInput{
		Item: map[string]types.AttributeValue{
			"id":       &types.AttributeValueMemberS{Value: id},
			"token":    &types.AttributeValueMemberB{Value: out.CiphertextBlob},
			"username": &types.AttributeValueMemberS{Value: username},
		},
		TableName: aws.String(table),
	})
	return err
}
