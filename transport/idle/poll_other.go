//go:build !linux

package idle

const pollSupported = false

// poller is not available on this platform: Watch never starts one.
type poller struct{}

func newPoller() (*poller, error)              { return nil, ErrNotRunning }
func (p *poller) add(fd int, gen uint32) error { return ErrNotRunning }
func (p *poller) del(fd int)                   {}
func (p *poller) interrupt()                   {}

func (g *Group) pollLoop(in *instance) { in.wg.Done() }
