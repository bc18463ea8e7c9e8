package port

import (
	"context"
	"net/http"
)

// Organization is the part of the organization record oceand reads.
type Organization struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	FeatureFlags []string `json:"featureFlags"`
}

// GetOrganization reads the organization (id and feature flags).
func (c *Client) GetOrganization(ctx context.Context) (*Organization, error) {
	var out struct {
		Organization Organization `json:"organization"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/organization"}, &out); err != nil {
		return nil, err
	}
	return &out.Organization, nil
}

// KafkaCredentials are the SASL credentials of the organization's Kafka
// topics (used by the KAFKA event listener).
type KafkaCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// GetKafkaCredentials reads the organization's Kafka credentials.
func (c *Client) GetKafkaCredentials(ctx context.Context) (*KafkaCredentials, error) {
	var out struct {
		Credentials *KafkaCredentials `json:"credentials"`
	}
	r := request{method: http.MethodGet, path: "/kafka-credentials"}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	if out.Credentials == nil {
		return nil, &Error{Method: r.method, Route: r.path, Status: http.StatusOK, Message: "no credentials in the answer"}
	}
	return out.Credentials, nil
}
