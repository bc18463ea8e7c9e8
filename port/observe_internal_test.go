package port

import (
	"net/http"
	"testing"
)

func TestRouteTemplate(t *testing.T) {
	for _, tc := range []struct {
		method, path, want string
	}{
		{http.MethodPost, blueprintPath("svc/a") + "/entities/bulk", "/blueprints/{blueprint}/entities/bulk"},
		{http.MethodDelete, blueprintPath("svc") + "/entities/bulk", "/blueprints/{blueprint}/entities/{entity}"},
		{http.MethodPost, "/blueprints/entities/datasource-entities", "/blueprints/entities/datasource-entities"},
		{http.MethodPatch, integrationPath("my-int") + "/resync-state", "/integration/{id}/resync-state"},
		{http.MethodPost, integrationPath("my-int") + "/kinds/fake-person/examples", "/integration/{id}/kinds/{kind}/examples"},
		{http.MethodGet, "/integration/provision-enabled", "/integration/provision-enabled"},
		{http.MethodPost, "/auth/access_token", "/auth/access_token"},
	} {
		r := &request{method: tc.method, path: tc.path}
		if got := routeTemplate(r); got != tc.want {
			t.Errorf("%s %s: route %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
