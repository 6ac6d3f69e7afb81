//go:build !linux

package websocket

// writeLast writes p, the last bytes the connection carries before it is
// closed; w.mu is held (see the Linux version, which sends them with the
// FIN).
func (w *wire) writeLast(p []byte) error {
	_, err := w.conn.Write(p)
	return err
}
