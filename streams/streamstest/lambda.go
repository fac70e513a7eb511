package streamstest

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaEvent returns records as a Lambda handler receives them: the event
// of [LambdaPayload], decoded by aws-lambda-go as the Lambda runtime
// decodes it. It panics if an attribute value cannot be rendered, as
// LambdaPayload does.
func LambdaEvent(records ...Record) events.DynamoDBEvent {
	var event events.DynamoDBEvent
	if err := json.Unmarshal(LambdaPayload(records...), &event); err != nil {
		panic("streamstest: decoding the Lambda event: " + err.Error())
	}
	return event
}
