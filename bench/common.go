package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyard/switchyard/spec"
	"github.com/switchyard/switchyard/transport"
)

// Common are the options every scenario shares. The zero value means the
// defaults: MessagePack, realm "realm1", the scenario's own count and
// duration.
type Common struct {
	// Serializer is "json", "msgpack" or "cbor" (default "msgpack").
	Serializer string
	// Realm to join (default "realm1"); anonymous access is needed.
	Realm string
	// Count bounds the work: calls, publications, sessions. 0 means the
	// scenario's default.
	Count int64
	// Duration bounds the measured phase; 0 means the scenario's default.
	// The scenario ends at whichever bound it reaches first.
	Duration time.Duration
	// AllowRemote permits a target that is not a loopback address.
	AllowRemote bool
	// TLSConfig is used for wss://, rss:// and tcps:// targets.
	TLSConfig *tls.Config
	// SetupTimeout bounds connecting and subscribing before the measured
	// phase (default 60s).
	SetupTimeout time.Duration
	// Meter, if set, follows the measured phase (for a progress bar).
	Meter *Meter
	// Logger receives the scenario's notes (nil: discard).
	Logger *slog.Logger
}

func (c *Common) setDefaults(count int64, d time.Duration) {
	if c.Serializer == "" {
		c.Serializer = "msgpack"
	}
	if c.Realm == "" {
		c.Realm = "realm1"
	}
	if c.Count <= 0 {
		c.Count = count
	}
	if c.Duration <= 0 {
		c.Duration = d
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// prepare parses and vets the target and returns a dialer for it.
func (c *Common) prepare(ctx context.Context, t Target, topts transport.Options) (endpoint, *dialer, error) {
	ep, err := parseEndpoint(t.URL)
	if err != nil {
		return ep, nil, err
	}
	if !c.AllowRemote {
		if err := checkLoopback(ctx, ep); err != nil {
			return ep, nil, err
		}
	}
	d, err := newDialer(ep, c.Serializer, c.TLSConfig, topts)
	if err != nil {
		return ep, nil, err
	}
	return ep, d, nil
}

// Scenario is a bounded load scenario.
type Scenario interface {
	// Name is the scenario's command name: "rpc", "fanout", ...
	Name() string
	// Run runs the scenario once against t and returns what it measured.
	Run(ctx context.Context, t Target) (*Result, error)
}

// payloadOf returns the n-byte binary payload every message carries.
func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// asInt reads an integer argument as the serializers decode it.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), true
	case float64: // a JSON router that re-encodes through float64
		return int64(n), true
	}
	return 0, false
}

// errorKey names an ERROR for the per-URI error counts.
func errorKey(uri spec.URI) string { return string(uri) }

// ended reports whether ctx is done or its deadline has passed. The two
// differ for a moment: the deadline passes before ctx's timer marks it
// done, and a dial started in that moment fails at once with "i/o
// timeout". A scenario that counted those as failures reported thousands
// of failed dials at the end of a run whose generator had a busy CPU.
func ended(ctx context.Context) bool {
	if ctxDone(ctx) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// ctxDone reports whether ctx has ended, without blocking.
func ctxDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// setupError wraps an error of the setup phase with what was being set up.
func setupError(what string, i int, err error) error {
	return fmt.Errorf("bench: set up %s %d: %w", what, i, err)
}
