package config_test

import (
	"slices"
	"testing"

	"oceand/config"
)

// What an Ocean custom user sets that is no secret must not be masked in
// every log line, CLI output and raw data example: the name of the header
// or query parameter that carries the API key, the token endpoint's URL,
// and the re-authentication interval.
func TestSecretsSkipSettingsThatNameACredential(t *testing.T) {
	t.Parallel()
	const spec = `configurations:
  - name: apiKey
    type: string
    sensitive: true
  - name: apiKeyHeader
    type: string
    default: X-API-Key
  - name: apiKeyQueryParam
    type: string
  - name: tokenUrl
    type: url
  - name: customAuthRequest
    type: object
    sensitive: true
`
	s, problems := read(t, input{env: []string{
		"OCEAN__INTEGRATION__CONFIG__API_KEY=key-secret-1",
		"OCEAN__INTEGRATION__CONFIG__API_KEY_QUERY_PARAM=api_key",
		"OCEAN__INTEGRATION__CONFIG__TOKEN_URL=https://login.example.com/oauth2/token",
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"/oauth/token","body":{"password":"p4ssw0rd","pin":12345678},"reauthenticateIntervalSeconds":3600}`,
	}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if err := s.ApplySpec([]byte(spec)); err != nil {
		t.Fatal(err)
	}
	got := s.Secrets()
	for _, want := range []string{"key-secret-1", "p4ssw0rd", "12345678", "/oauth/token"} {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %q: %q", want, got)
		}
	}
	for _, not := range []string{"X-API-Key", "api_key", "https://login.example.com/oauth2/token", "3600"} {
		if slices.Contains(got, not) {
			t.Errorf("Secrets() has %q, which is no secret: %q", not, got)
		}
	}
	for _, key := range []string{"apiKeyHeader", "api_key_query_param", "tokenUrl", "reauthenticateIntervalSeconds"} {
		if config.SensitiveKey(key) {
			t.Errorf("SensitiveKey(%q) = true", key)
		}
	}
	for _, key := range []string{"apiKey", "api_token", "clientSecret", "x-api-key", "authorizationHeader", "cookieHeader"} {
		if !config.SensitiveKey(key) {
			t.Errorf("SensitiveKey(%q) = false", key)
		}
	}
}

func TestSecretsSkipContentNegotiationHeaders(t *testing.T) {
	t.Parallel()
	const spec = `configurations:
  - name: customHeaders
    type: object
    sensitive: true
  - name: customAuthRequest
    type: object
    sensitive: true
`
	s, problems := read(t, input{env: []string{
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_HEADERS={"Accept":"application/json","X-Tenant-Token":"tenant-secret-1"}`,
		`OCEAN__INTEGRATION__CONFIG__CUSTOM_AUTH_REQUEST={"endpoint":"/oauth/token","headers":{"Content-Type":"application/x-www-form-urlencoded","X-Key":"client-key-1"}}`,
	}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if err := s.ApplySpec([]byte(spec)); err != nil {
		t.Fatal(err)
	}
	got := s.Secrets()
	for _, want := range []string{"tenant-secret-1", "client-key-1"} {
		if !slices.Contains(got, want) {
			t.Errorf("Secrets() lacks %q: %q", want, got)
		}
	}
	for _, not := range []string{"application/json", "application/x-www-form-urlencoded"} {
		if slices.Contains(got, not) {
			t.Errorf("Secrets() has %q, which is no secret: %q", not, got)
		}
	}
}
