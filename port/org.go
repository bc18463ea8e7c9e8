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
