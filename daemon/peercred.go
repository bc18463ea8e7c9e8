package daemon

import (
	"errors"
	"net"
)

// errNoPeerCred means the platform cannot tell who serves a socket.
var errNoPeerCred = errors.New("this platform cannot check a unix socket's peer")

// peerUID is the user id of the process on the other end of a unix socket.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var uid int
	var serr error
	if err := raw.Control(func(fd uintptr) { uid, serr = socketPeerUID(fd) }); err != nil {
		return 0, err
	}
	return uid, serr
}
