package custom

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSettingsDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pagination  string
		param, size string
	}{
		{"none", "", ""},
		{"page", "page", "size"},
		{"offset", "offset", "limit"},
		{"cursor", "cursor", "limit"},
		{"next_link", "", ""},
		{"header_link", "", ""},
	}
	for _, tt := range tests {
		s, err := ParseSettings(map[string]any{"base_url": " https://api.example.com/v1/ \n", "pagination_type": tt.pagination})
		if err != nil {
			t.Fatal(err)
		}
		if s.BaseURL.String() != "https://api.example.com/v1" {
			t.Errorf("baseUrl = %q, want trimmed", s.BaseURL)
		}
		if s.PaginationParam != tt.param || s.SizeParam != tt.size {
			t.Errorf("%s: params %q/%q, want %q/%q", tt.pagination, s.PaginationParam, s.SizeParam, tt.param, tt.size)
		}
		if s.PageSize != 100 || s.StartPage != 1 || s.MaxPages != 10000 || s.NextLinkPath != "@odata.nextLink" ||
			s.HeaderLinkRel != "next" || s.MaxConcurrentRequests != 10 || s.Timeout != 60*time.Second ||
			s.SkipTLSVerify || s.AuthType != "none" || s.APIKeyHeader != "X-API-Key" {
			t.Errorf("defaults: %+v", s)
		}
	}
}

func TestParseSettingsOceanStrings(t *testing.T) {
	t.Setenv("CUSTOM_TEST_TOKEN", "env-token-value")
	// As Ocean's env variables give them: every number a string, objects
	// as JSON strings.
	s, err := ParseSettings(map[string]any{
		"base_url": "https://api.example.com", "auth_type": "bearer_token", "api_token": "tok-12345",
		"page_size": "50", "start_page": "0", "timeout": "5", "verify_ssl": "false",
		"max_concurrent_requests": "3", "rate_limit": "2.5", "rate_limit_burst": "4", "max_pages": "7",
		"pagination_type": "page", "pagination_param": "p", "size_param": "per_page",
		"custom_headers": `{"X-Team": "a", "X-Token": "${CUSTOM_TEST_TOKEN}"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.PageSize != 50 || s.StartPage != 0 || s.Timeout != 5*time.Second || !s.SkipTLSVerify || s.MaxConcurrentRequests != 3 ||
		s.RateLimit != 2.5 || s.RateLimitBurst != 4 || s.MaxPages != 7 || s.PaginationParam != "p" || s.SizeParam != "per_page" {
		t.Errorf("settings: %+v", s)
	}
	if s.CustomHeaders["X-Token"] != "env-token-value" || s.CustomHeaders["X-Team"] != "a" {
		t.Errorf("customHeaders = %v", s.CustomHeaders)
	}
	secrets := s.Secrets()
	for _, want := range []string{"tok-12345", "env-token-value", "${CUSTOM_TEST_TOKEN}"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets() lacks %q: %q", want, secrets)
		}
	}
}

func TestParseSettingsErrors(t *testing.T) {
	t.Parallel()
	base := "https://api.example.com"
	tests := []struct {
		name   string
		config map[string]any
		want   []string
	}{
		{"no baseUrl", map[string]any{}, []string{"baseUrl: required"}},
		{"bad baseUrl", map[string]any{"base_url": "ftp://x"}, []string{"baseUrl: must be an http(s) URL"}},
		{"unknown authType", map[string]any{"base_url": base, "auth_type": "token"},
			[]string{`authType: unknown value "token"; valid values: none, bearer_token, basic, api_key, custom, oauth2`}},
		{"unknown paginationType", map[string]any{"base_url": base, "paginationType": "pages"},
			[]string{`paginationType: unknown value "pages"; valid values: none, offset, page, cursor, next_link, header_link`}},
		{"bearer_token without apiToken", map[string]any{"base_url": base, "auth_type": "bearer_token"}, []string{"apiToken: required with authType bearer_token"}},
		{"basic without password", map[string]any{"base_url": base, "auth_type": "basic", "username": "me"}, []string{"password: required with authType basic"}},
		{"api_key without apiKey", map[string]any{"base_url": base, "auth_type": "api_key"}, []string{"apiKey: required with authType api_key"}},
		{"custom without its objects", map[string]any{"base_url": base, "auth_type": "custom"},
			[]string{"customAuthRequest: required with authType custom", "customAuthRequestTemplate: required with authType custom"}},
		{"oauth2 without client", map[string]any{"base_url": base, "auth_type": "oauth2", "token_url": "https://id.example.com/token"},
			[]string{"clientId: required with authType oauth2", "clientSecret: required with authType oauth2"}},
		{"numbers", map[string]any{"base_url": base, "page_size": "ten", "timeout": 0, "max_concurrent_requests": -1, "rate_limit": "-1"},
			[]string{"pageSize: must be an integer, got a string", "timeout: must be 1 or more", "maxConcurrentRequests: must be 1 or more", "rateLimit: must be a number of 0 or more"}},
		{"verifySsl", map[string]any{"base_url": base, "verify_ssl": "maybe"}, []string{"verifySsl: must be a boolean"}},
		{"customHeaders not an object", map[string]any{"base_url": base, "custom_headers": "X-A: b"}, []string{"customHeaders: must be an object"}},
		{"customHeaders unset variable", map[string]any{"base_url": base, "custom_headers": map[string]any{"X-A": "${CUSTOM_TEST_UNSET_VAR}"}},
			[]string{"customHeaders.X-A: reads environment variable CUSTOM_TEST_UNSET_VAR, which is not set"}},
		{"custom auth request fields", map[string]any{"base_url": base, "auth_type": "custom",
			"custom_auth_request":          map[string]any{"method": "FETCH", "body": map[string]any{"a": "b"}, "bodyForm": "a=b", "extra": 1, "reauthenticateIntervalSeconds": 0},
			"custom_auth_request_template": map[string]any{"headers": map[string]any{"Authorization": "Bearer {{.access_token | }}"}, "cookies": map[string]any{}},
		}, []string{
			`customAuthRequest.method: unknown method "FETCH"`, "customAuthRequest.extra: unknown field",
			"customAuthRequest.reauthenticateIntervalSeconds: must be a number of seconds of 1 or more",
			"customAuthRequest.endpoint: required", "customAuthRequest: body and bodyForm are exclusive",
			"customAuthRequestTemplate.cookies: unknown field",
			"customAuthRequestTemplate.headers.Authorization: {{.access_token |}} is not a jq expression",
		}},
		{"the docs' name of the template", map[string]any{"base_url": base, "auth_type": "custom",
			"custom_auth_request": `{"endpoint": "/token"}`, "custom_auth_response": `{"headers": {"A": "{{.t}}"}}`},
			[]string{"customAuthRequestTemplate: required with authType custom (customAuthResponse is set: Ocean's docs use that name"}},
		{"empty template", map[string]any{"base_url": base, "auth_type": "custom",
			"custom_auth_request": `{"endpoint": "/token"}`, "custom_auth_request_template": `{}`},
			[]string{"customAuthRequestTemplate: needs at least one of headers, queryParams, body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSettings(tt.config)
			var se *SettingsError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SettingsError", err)
			}
			for _, want := range tt.want {
				if !slices.ContainsFunc(se.Problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
					t.Errorf("problems lack %q:\n%s", want, strings.Join(se.Problems, "\n"))
				}
			}
			if len(se.Problems) != len(tt.want) {
				t.Errorf("problems = %q, want %d", se.Problems, len(tt.want))
			}
		})
	}
}

func TestParseSettingsNeverShowsValues(t *testing.T) {
	t.Parallel()
	_, err := ParseSettings(map[string]any{"base_url": "https://x.io", "auth_type": "bearer_token", "api_token": map[string]any{"t": "tok-secret-1"}})
	if err == nil || strings.Contains(err.Error(), "tok-secret-1") || !strings.Contains(err.Error(), "apiToken: must be a string, got an object") {
		t.Errorf("err = %v", err)
	}
}

func TestCustomAuthSettings(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings(map[string]any{
		"base_url": "https://api.example.com", "auth_type": "custom",
		"custom_auth_request": `{"endpoint": "/oauth/token", "method": "post", "body": {"client_id": "me", "client_secret": "cs-9876"},
			"queryParams": {"audience": "api"}, "reauthenticateIntervalSeconds": "3600"}`,
		"custom_auth_request_template": map[string]any{
			"headers": map[string]any{"Authorization": "Bearer {{ .access_token }}"},
			"body":    map[string]any{"auth": map[string]any{"token": "{{.data.token}}"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.CustomAuthRequest
	if r.Method != "POST" || r.Endpoint != "/oauth/token" || r.QueryParams["audience"] != "api" || r.ReauthenticateInterval != time.Hour {
		t.Errorf("customAuthRequest = %+v", r)
	}
	// Every string inside the auth objects is a secret, but the method.
	secrets := s.Secrets()
	for _, want := range []string{"cs-9876", "/oauth/token", "Bearer {{ .access_token }}", "{{.data.token}}"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets() lacks %q: %q", want, secrets)
		}
	}
	if slices.Contains(secrets, "POST") {
		t.Errorf("Secrets() has the method: %q", secrets)
	}
}
