// Package buildinfo names the oceand build: its version and the VCS revision
// it was built from. The version is part of the User-Agent Port records as an
// entity's datasource, so it must be stable for a given build.
package buildinfo

import "runtime/debug"

// Version is the oceand release. It is sent to Port as the integration
// version and in the User-Agent of every request.
const Version = "0.1.0"

// revision is set at link time by builds that carry no VCS stamp, such as
// the Dockerfile's (its context has no .git):
// -ldflags "-X oceand/buildinfo.revision=<commit>".
var revision string

// Revision returns the VCS revision the binary was built from: the one set
// at link time, else the Go toolchain's VCS stamp, else "unknown" (go run,
// tests, -buildvcs=false).
func Revision() string {
	if revision != "" {
		return revision
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return "unknown"
}
