package bench

import (
	"errors"
	"net"
	"time"
)

// acceptLoop accepts connections on ln until it is closed and hands each to
// admit. A failure other than the listener's closing (out of file
// descriptors and the like) is waited out with a growing pause. admit
// reports false when its server is closing: the connection is closed and
// the loop ends.
func acceptLoop(ln net.Listener, admit func(net.Conn) bool) {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return
		}
		backoff = 0
		if !admit(nc) {
			nc.Close()
			return
		}
	}
}
