package transport

import (
	"net"
	"strconv"
	"sync"
)

// ConnLimiter bounds concurrent connections router-wide and per remote IP
// address. One limiter is shared by every listener, so the bounds hold
// across WebSocket and RawSocket alike: a client reconnecting in a tight
// loop, or one address opening thousands of sessions, cannot take the
// router's memory and file descriptors from everybody else.
//
// The zero value limits nothing. Safe for concurrent use.
type ConnLimiter struct {
	// MaxTotal bounds all connections; 0 means unlimited.
	MaxTotal int
	// MaxPerAddr bounds the connections of one IP address; 0 means
	// unlimited. Unix socket clients have no address and are counted only
	// in the total.
	MaxPerAddr int

	mu    sync.Mutex // guards the fields below
	total int
	per   map[string]int
}

// Acquire takes a slot for a connection from remote ("ip:port" or a socket
// path). It reports false, taking nothing, when a bound is reached; every
// true must be paired with a Release of the same remote.
func (l *ConnLimiter) Acquire(remote string) bool {
	if l == nil {
		return true
	}
	key := addrKey(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.MaxTotal > 0 && l.total >= l.MaxTotal {
		return false
	}
	if key != "" && l.MaxPerAddr > 0 && l.per[key] >= l.MaxPerAddr {
		return false
	}
	l.total++
	if key != "" {
		if l.per == nil {
			l.per = make(map[string]int)
		}
		l.per[key]++
	}
	return true
}

// Release returns the slot Acquire took for remote.
func (l *ConnLimiter) Release(remote string) {
	if l == nil {
		return
	}
	key := addrKey(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if key != "" {
		if l.per[key] <= 1 {
			delete(l.per, key)
		} else {
			l.per[key]--
		}
	}
}

// Count returns the connections held now.
func (l *ConnLimiter) Count() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// addrKey is the IP of an "ip:port" address, or "" for anything else.
func addrKey(remote string) string {
	host, port, err := net.SplitHostPort(remote)
	if err != nil {
		return ""
	}
	if _, err := strconv.Atoi(port); err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return ""
}
