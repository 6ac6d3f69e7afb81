//go:build linux

package idle

import (
	"errors"

	"golang.org/x/sys/unix"
)

const pollSupported = true

// poller is an epoll set of parked descriptors plus an eventfd that
// interrupts its wait. Each descriptor is registered one-shot: it fires
// once, then the poller loop deregisters it.
type poller struct {
	epfd, efd int
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, err
	}
	return &poller{epfd: epfd, efd: efd}, nil
}

// add registers fd, tagged with gen, for one readiness event. A descriptor
// that is readable already fires at once.
func (p *poller) add(fd int, gen uint32) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(gen)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// del deregisters fd. It cannot fail for a registered, open descriptor.
func (p *poller) del(fd int) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// interrupt makes the poller loop return.
func (p *poller) interrupt() {
	var one = [8]byte{1}
	unix.Write(p.efd, one[:])
}

// pollLoop is the poller goroutine of in: it waits for parked descriptors
// and calls the wake function of each one that fires, once.
func (g *Group) pollLoop(in *instance) {
	defer in.wg.Done()
	p := in.poll
	defer func() {
		unix.Close(p.efd)
		unix.Close(p.epfd)
	}()
	events := make([]unix.EpollEvent, 128)
	var wakes []func()
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Cannot happen with a valid epoll descriptor; wake everyone
			// rather than strand them.
			g.mu.Lock()
			if g.run == in {
				g.run = nil
			}
			wakes = g.drainLocked(in)
			g.mu.Unlock()
			for _, w := range wakes {
				w()
			}
			return
		}
		stop := false
		g.mu.Lock()
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == p.efd {
				stop = true
				continue
			}
			if pc, ok := g.parked[fd]; ok && g.takeFromLocked(in, fd, uint32(ev.Pad)) {
				wakes = append(wakes, pc.wake)
			}
		}
		g.mu.Unlock()
		for i, w := range wakes {
			w()
			wakes[i] = nil
		}
		wakes = wakes[:0]
		if stop {
			select {
			case <-in.stop:
				return
			default: // a stale interrupt; wait on
			}
		}
	}
}

// takeFromLocked is takeLocked for an event of instance in, which may no
// longer be the Group's current one.
func (g *Group) takeFromLocked(in *instance, fd int, gen uint32) bool {
	pc, ok := g.parked[fd]
	if !ok || pc.gen != gen || gen == 0 {
		return false
	}
	delete(g.parked, fd)
	in.poll.del(fd)
	return true
}
