package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNSAPI is the part of the SNS client this package uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput,
		opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNSSender publishes notifications to a topic, whose subscriptions (email,
// SMS, a mailer queue) deliver them, filtered by the kind and user
// attributes. On a FIFO topic the event id is the deduplication id, so a
// redelivered event within SNS's five-minute window is sent once.
//
// NOTE: a standard topic delivers a redelivered event again; use a FIFO
// topic where a duplicate message matters.
type SNSSender struct {
	api   SNSAPI
	topic string
}

var _ Sender = (*SNSSender)(nil)

// NewSNSSender returns a sender to a topic ARN.
func NewSNSSender(api SNSAPI, topicARN string) *SNSSender {
	return &SNSSender{api: api, topic: topicARN}
}

// NewSNSClient builds a client from the SDK's default chain.
func NewSNSClient(ctx context.Context) (*sns.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return sns.NewFromConfig(cfg), nil
}

// Send publishes one message with the notification's kind, sale and user
// as message attributes.
func (s *SNSSender) Send(ctx context.Context, n Notification) error {
	attr := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"),
			StringValue: aws.String(v)}
	}
	in := &sns.PublishInput{
		TopicArn: aws.String(s.topic),
		Subject:  aws.String(n.Subject),
		Message:  aws.String(n.Body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind": attr(string(n.Kind)), "sale_id": attr(n.SaleID),
		},
	}
	if n.UserID != "" {
		in.MessageAttributes["user_id"] = attr(n.UserID)
	}
	if strings.HasSuffix(s.topic, ".fifo") {
		in.MessageDeduplicationId = aws.String(n.ID)
		in.MessageGroupId = aws.String(n.SaleID)
	}
	if _, err := s.api.Publish(ctx, in); err != nil {
		return fmt.Errorf("sns publish: %w", err)
	}
	return nil
}
