package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/url"
	"path"
	"strings"
)

// keyGUID is appended to the client's Sec-WebSocket-Key before hashing
// (RFC 6455, section 1.3).
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey is the Sec-WebSocket-Accept value answering key (RFC 6455,
// section 4.2.2); bench's floor answers opening handshakes with it too.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(keyGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// validKey reports whether key is a Sec-WebSocket-Key: 16 bytes, base64.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// appendUpgradeResponse appends the 101 response accepting the upgrade
// with key and the subprotocol proto. No extension is accepted: the
// permessage-deflate that browsers offer is declined by not answering it.
func appendUpgradeResponse(dst []byte, key, proto string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, AcceptKey(key)...)
	dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
	dst = append(dst, proto...)
	return append(dst, "\r\n\r\n"...)
}

var errOriginRefused = errors.New("origin not allowed")

// checkOrigin decides whether a browser page from origin may connect to
// host: a request without an Origin header (not from a browser) and one
// from the router's own host always may; otherwise the origin's host (or,
// for a pattern with "://", its scheme and host) must match one of
// patterns (path.Match syntax, case-insensitively). An empty patterns
// list accepts every origin; see ServerOptions.OriginPatterns.
func checkOrigin(origin, host string, patterns []string) error {
	if origin == "" || len(patterns) == 0 {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return errOriginRefused
	}
	if strings.EqualFold(u.Host, host) {
		return nil
	}
	for _, pat := range patterns {
		target := u.Host
		if strings.Contains(pat, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(target)); ok {
			return nil
		}
	}
	return errOriginRefused
}
