package port

import (
	"context"
	"errors"
	"net/http"
)

// KafkaCredentials are the SASL credentials of the organization's Kafka
// topics.
type KafkaCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// GetKafkaCredentials reads the Kafka credentials of the organization.
func (c *Client) GetKafkaCredentials(ctx context.Context) (*KafkaCredentials, error) {
	var out struct {
		Credentials *KafkaCredentials `json:"credentials"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/kafka-credentials"}, &out); err != nil {
		return nil, err
	}
	if out.Credentials == nil || out.Credentials.Username == "" {
		return nil, &Error{Method: http.MethodGet, Route: "/kafka-credentials", Err: errors.New("Port returned no Kafka credentials")}
	}
	return out.Credentials, nil
}
