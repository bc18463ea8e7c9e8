package port

import (
	"net/http"
	"strings"
	"time"
)

// Observer is told about every HTTP attempt the client makes and every wait
// before a retry, for metrics. Routes are templates
// ("/blueprints/{blueprint}/entities/bulk"), never URLs, so an observer
// keeps a bounded set of series. Implementations must be fast and safe for
// concurrent use; the port package knows nothing of how they count.
type Observer interface {
	// Attempt reports one attempt: status is 0 when no answer came back.
	Attempt(method, route string, status int, elapsed time.Duration)
	// RetryWait reports the wait before a retry of a request that got
	// status (0: no answer).
	RetryWait(method, route string, status int, wait time.Duration)
}

type nopObserver struct{}

func (nopObserver) Attempt(string, string, int, time.Duration)   {}
func (nopObserver) RetryWait(string, string, int, time.Duration) {}

// routeTemplate is the route of r with its variable parts named: the
// template is what metrics and errors group by.
func routeTemplate(r *request) string {
	if r.route != "" {
		return r.route
	}
	segs := strings.Split(strings.TrimPrefix(r.path, "/"), "/")
	switch {
	case len(segs) >= 2 && segs[0] == "blueprints" && segs[1] != "entities":
		segs[1] = "{blueprint}"
		if len(segs) == 4 && segs[2] == "entities" && (r.method == http.MethodDelete || r.method == http.MethodGet) {
			segs[3] = "{entity}"
		}
	case len(segs) >= 2 && segs[0] == "integration" && segs[1] != "provision-enabled":
		segs[1] = "{id}"
		if len(segs) == 5 && segs[2] == "kinds" {
			segs[3] = "{kind}"
		}
	}
	return "/" + strings.Join(segs, "/")
}
