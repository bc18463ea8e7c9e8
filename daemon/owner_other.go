//go:build !unix

package daemon

import "io/fs"

func ownerUID(fs.FileInfo) (int, bool) { return 0, false }

func currentUID() int { return -1 }
