// Package buildinfo names the oceand build: its version and the VCS revision
// it was built from. The version is part of the User-Agent Port records as an
// entity's datasource, so it must be stable for a given build.
package buildinfo

import "runtime/debug"

// Version is the oceand release. It is sent to Port as the integration
// version and in the User-Agent of every request.
const Version = "0.1.0"

// Revision returns the VCS revision the binary was built from, or "unknown"
// when the build carries no VCS stamp (go run, tests).
func Revision() string {
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
