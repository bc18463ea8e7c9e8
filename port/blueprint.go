package port

import (
	"context"
	"net/http"
	"net/url"
)

// Blueprint is a blueprint definition as Port stores it. It is kept as a
// generic object: oceand passes the source's definitions through unchanged.
type Blueprint map[string]any

// Identifier returns the blueprint identifier.
func (b Blueprint) Identifier() string {
	s, _ := b["identifier"].(string)
	return s
}

func blueprintPath(id string) string { return "/blueprints/" + url.PathEscape(id) }

// GetBlueprint reads a blueprint; a missing one matches ErrNotFound.
func (c *Client) GetBlueprint(ctx context.Context, id string) (Blueprint, error) {
	var out struct {
		Blueprint Blueprint `json:"blueprint"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: blueprintPath(id)}, &out); err != nil {
		return nil, err
	}
	return out.Blueprint, nil
}

// CreateBlueprint creates a blueprint. It is retried only when Port surely
// did not process it (429, no connection): a replay would answer 409.
func (c *Client) CreateBlueprint(ctx context.Context, bp Blueprint) (Blueprint, error) {
	var out struct {
		Blueprint Blueprint `json:"blueprint"`
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/blueprints", body: bp, unsafe: true}, &out); err != nil {
		return nil, err
	}
	return out.Blueprint, nil
}

// PatchBlueprint merges patch into a blueprint. A merge gives the same
// blueprint however often it is applied, so it is retried.
func (c *Client) PatchBlueprint(ctx context.Context, id string, patch Blueprint) (Blueprint, error) {
	var out struct {
		Blueprint Blueprint `json:"blueprint"`
	}
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: blueprintPath(id), body: patch}, &out); err != nil {
		return nil, err
	}
	return out.Blueprint, nil
}

// DeleteBlueprint deletes a blueprint. A replay after a lost answer gets
// 404, which matches ErrNotFound.
func (c *Client) DeleteBlueprint(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: blueprintPath(id)}, nil)
	return err
}
