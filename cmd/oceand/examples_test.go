package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"oceand/internal/apifixture"
)

// TestCustomExamples runs `oceand source test` with each example of
// examples/custom (its config.yaml and mapping, unchanged) against a server
// answering with that API's recorded shapes (testdata/apis), and checks
// that every page is fetched, nothing unrecorded is asked for and no secret
// is printed.
func TestCustomExamples(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	tests := []struct {
		api      string
		env      []string // the example's variables
		secret   string
		items    int
		entities int
	}{
		{"github", []string{"GITHUB_TOKEN=ghp_exampletoken"}, "ghp_exampletoken", 5, 5},
		{"jira", []string{"JIRA_EMAIL=jira-bot@example.com", "JIRA_API_TOKEN=jira-api-token", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=3"}, "jira-api-token", 7, 7},
		{"slack", []string{"SLACK_BOT_TOKEN=xoxb-example-token", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"}, "xoxb-example-token", 5, 4},
		{"hubspot", []string{"HUBSPOT_TOKEN=pat-na1-example", "OCEAN__INTEGRATION__CONFIG__PAGE_SIZE=2"}, "pat-na1-example", 5, 5},
		{"zendesk", []string{"ZENDESK_USER=agent@example.com/token", "ZENDESK_API_TOKEN=zendesk-token"}, "zendesk-token", 3, 3},
		{"odata", []string{"ENTRA_CLIENT_ID=contoso-app", "ENTRA_CLIENT_SECRET=entra-client-secret"}, "entra-client-secret", 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			t.Parallel()
			api := apifixture.Serve(t, root, tt.api)
			dir := filepath.Join(root, "examples", "custom", tt.api)
			env := append([]string{
				"PORT_CLIENT_ID=example-id", "PORT_CLIENT_SECRET=example-secret",
				"OCEAN__STATE_DIR=" + t.TempDir(),
				"OCEAN__INTEGRATION__CONFIG__BASE_URL=" + api.URL,
				"OCEAN__INTEGRATION__CONFIG__TOKEN_URL=" + api.URL + "/contoso-tenant/oauth2/v2.0/token",
				"OCEAN__INTEGRATION__CONFIG__RATE_LIMIT=0",
			}, tt.env...)
			code, out, errOut := runCLI(t, env, "source", "test", "--config", filepath.Join(dir, "config.yaml"),
				"--mapping", filepath.Join(dir, "port-app-config.yml"), "--pages", "10", "--json")
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			if u := api.Unmatched(); len(u) > 0 {
				t.Errorf("requests the API does not answer: %v", u)
			}
			var got struct {
				Resources []sourceTrial `json:"resources"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			items, entities := 0, 0
			for _, r := range got.Resources {
				if r.More || r.Error != "" {
					t.Errorf("%s: more pages %v, error %q", r.KindID, r.More, r.Error)
				}
				items += len(r.Items)
				entities += r.Trial.Totals.Entities
			}
			if items != tt.items || entities != tt.entities {
				t.Errorf("%d items, %d entities; want %d and %d\n%s", items, entities, tt.items, tt.entities, out)
			}
			if strings.Contains(out+errOut, tt.secret) {
				t.Errorf("the secret %q appears in the output", tt.secret)
			}
		})
	}
}
