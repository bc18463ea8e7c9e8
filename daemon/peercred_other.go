//go:build !linux && !darwin && !freebsd

package daemon

func socketPeerUID(uintptr) (int, error) { return 0, errNoPeerCred }
