package custom_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"oceand/config"
	"oceand/sources/custom"
)

// An Ocean custom deployment's variables go through the settings loader
// and the spec into ParseSettings unchanged, and every secret among them
// is masked by config print and the daemon's redactor.
func TestSpecWithOceanVariables(t *testing.T) {
	t.Parallel()
	env := []string{
		"OCEAN__PORT__CLIENT_ID=port-id", "OCEAN__PORT__CLIENT_SECRET=port-secret",
		"OCEAN__INTEGRATION__TYPE=custom",
		"OCEAN__INTEGRATION__CONFIG__BASE_URL= https://api.example.com/v1/ ",
		"OCEAN__INTEGRATION__CONFIG__AUTH_TYPE=custom",
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint": "/oauth/token", "method": "POST", "body": {"client_id": "the-client", "client_secret": "auth-secret-1"}, "reauthenticateIntervalSeconds": 3600}`,
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST_TEMPLATE={"headers": {"Authorization": "Bearer {{.access_token}}"}}`,
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_HEADERS={"X-Org": "org-secret-2"}`,
		"OCEAN__INTEGRATION__CONFIG__PAGINATION_TYPE=cursor",
		"OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=50",
		"OCEAN__INTEGRATION__CONFIG__CURSOR_PATH=meta.next",
		"OCEAN__INTEGRATION__CONFIG__TIMEOUT=15",
		"OCEAN__INTEGRATION__CONFIG__VERIFY_SSL=true",
		"OCEAN__INTEGRATION__CONFIG__MAX_CONCURRENT_REQUESTS=4",
		"OCEAN__INTEGRATION__CONFIG__RATE_LIMIT=2.5",
	}
	s, err := config.Load(config.LoadOptions{Dir: t.TempDir(), Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySpec(custom.SpecYAML); err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) > 0 {
		t.Errorf("warnings: %v", w)
	}
	cs, err := custom.ParseSettings(s.Integration.Config)
	if err != nil {
		t.Fatal(err)
	}
	if cs.BaseURL.String() != "https://api.example.com/v1" || cs.PageSize != 50 || cs.CursorPath != "meta.next" ||
		cs.PaginationParam != "cursor" || cs.SizeParam != "limit" || cs.MaxConcurrentRequests != 4 || cs.RateLimit != 2.5 ||
		cs.CustomAuthRequest.Endpoint != "/oauth/token" || cs.CustomHeaders["X-Org"] != "org-secret-2" || cs.MaxPages != 10000 {
		t.Errorf("settings: %+v", cs)
	}
	b, err := json.Marshal(s.Entries())
	if err != nil {
		t.Fatal(err)
	}
	secrets := s.Secrets()
	for _, secret := range []string{"auth-secret-1", "the-client", "org-secret-2", "Bearer {{.access_token}}"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("config print shows %q", secret)
		}
		if !slices.Contains(secrets, secret) {
			t.Errorf("the daemon's redactor would not mask %q", secret)
		}
	}
}

// Every setting of the spec is one ParseSettings reads: none is declared
// and then ignored.
func TestSpecDefaultsParse(t *testing.T) {
	t.Parallel()
	s := &config.Settings{}
	s.Integration.Config = map[string]any{"base_url": "https://x.io"}
	if err := s.ApplySpec(custom.SpecYAML); err != nil {
		t.Fatal(err)
	}
	// Every key with a default is filled in; each must parse.
	if _, err := custom.ParseSettings(s.Integration.Config); err != nil {
		t.Fatalf("the spec's defaults do not parse: %v", err)
	}
	for _, k := range []string{"auth_type", "pagination_type", "page_size", "start_page", "next_link_path", "header_link_rel",
		"max_pages", "timeout", "verify_ssl", "max_concurrent_requests", "rate_limit", "rate_limit_burst", "api_key_header"} {
		if _, ok := s.Integration.Config[k]; !ok {
			t.Errorf("the spec gives %s no default", k)
		}
	}
}
