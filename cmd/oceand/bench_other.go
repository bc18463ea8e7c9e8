//go:build !unix

package main

import "time"

// selfPeakRSS and selfCPU are not measured where /proc and getrusage do
// not exist.
func selfPeakRSS() int64 { return 0 }

func selfCPU() time.Duration { return 0 }
