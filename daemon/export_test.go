package daemon

// ViaShortPath lets tests reach a socket under a deep directory as the
// daemon and its client do.
var ViaShortPath = viaShortPath

// TrustedPeer is the client's check of who serves the control socket.
var TrustedPeer = trustedPeer
