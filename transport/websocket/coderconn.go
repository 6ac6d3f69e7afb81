package websocket

import (
	"context"
	"io"
	"time"

	ws "github.com/coder/websocket"

	"github.com/switchyard/switchyard/transport/internal/bufpool"
)

// coderConn is the client side's msgConn: coder/websocket, which masks the
// frames it writes and answers pings and close frames from within reads.
type coderConn struct {
	c   *ws.Conn
	typ ws.MessageType
}

func (c *coderConn) readMessage() (*[]byte, error) {
	_, r, err := c.c.Reader(context.Background())
	if err != nil {
		if status := ws.CloseStatus(err); status != -1 {
			return nil, &closeError{code: int(status)}
		}
		return nil, err
	}
	bp := bufpool.Get(readChunk)
	buf := *bp
	for {
		if len(buf) == cap(buf) {
			nb := bufpool.Get(2 * cap(buf))
			*nb = append(*nb, buf...)
			*bp = buf
			bufpool.Put(bp)
			bp, buf = nb, *nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = buf
			bufpool.Put(bp)
			if status := ws.CloseStatus(err); status != -1 {
				return nil, &closeError{code: int(status)}
			}
			return nil, err
		}
	}
	*bp = buf
	return bp, nil
}

func (c *coderConn) ping(ctx context.Context) error { return c.c.Ping(ctx) }

func (c *coderConn) closeHandshake(code int, reason string, _ time.Time) {
	c.c.Close(ws.StatusCode(code), reason)
}

func (c *coderConn) write(b []byte) error { return c.c.Write(context.Background(), c.typ, b) }

func (c *coderConn) closeNow() { c.c.CloseNow() }
