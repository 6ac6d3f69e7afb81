package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/serializer"
	"github.com/switchyard/switchyard/spec"
)

// What crosses between nodes. Control messages (a few per second and per
// subscription change) are small JSON documents: easy to read with `nats
// sub`. A publication is a WAMP PUBLISH in MessagePack whose Request field
// is the publication ID, with the cluster's own fields under x_sy_* keys of
// its options; it is decoded by the same (fuzzed) decoder as a client's.
// Its payload is the publisher's own bytes when the router kept them raw
// (payload.go).
// Every node decodes what it receives as untrusted input: a malformed
// message is logged and dropped.

const (
	kindHeartbeat = "hb"
	kindInterest  = "int"
	kindBye       = "bye"
	kindAck       = "ack"
	kindJoined    = "sj" // a session joined the sending node
	kindLeft      = "sl" // a session left it
	kindPropose   = "rp" // a new registration, to acknowledge (rpc.go)
	kindReg       = "rg" // a registration's callee count on the sending node
)

// control is a heartbeat, an interest change, an acknowledgement or a
// goodbye.
type control struct {
	Kind  string `json:"k"`
	Name  string `json:"n"`
	Token string `json:"t"`
	Seq   uint64 `json:"s"`
	Realm string `json:"r,omitempty"`
	Match string `json:"m,omitempty"`
	Topic string `json:"u,omitempty"`
	Add   bool   `json:"a,omitempty"`
	// Said, on a removal, says the sender said wamp.subscription.on_delete;
	// if not, At is when its last subscriber left (submeta.go).
	Said bool  `json:"d,omitempty"`
	At   int64 `json:"at,omitempty"`
	// Session, AuthID and AuthRole identify a session that joined or left.
	Session  uint64 `json:"i,omitempty"`
	AuthID   string `json:"ai,omitempty"`
	AuthRole string `json:"ar,omitempty"`
	// Invoke and Callees describe a registration (Topic is its procedure);
	// Refuse is an acknowledgement that refuses a proposal.
	Invoke  string `json:"iv,omitempty"`
	Callees int    `json:"c,omitempty"`
	Refuse  bool   `json:"no,omitempty"`
	// First and Last: when the node's first and last callee registered.
	First int64 `json:"f,omitempty"`
	Last  int64 `json:"l,omitempty"`
}

func (c *control) encode() []byte {
	b, _ := json.Marshal(c) // cannot fail: strings and numbers only
	return b
}

func decodeControl(b []byte) (*control, error) {
	var c control
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cluster: control message: %w", err)
	}
	if c.Token == "" || c.Kind == "" {
		return nil, errors.New("cluster: control message without kind or node")
	}
	if c.Kind == kindInterest && (c.Realm == "" || !validMatch(c.Match)) {
		return nil, errors.New("cluster: interest change without realm or with an unknown match policy")
	}
	if (c.Kind == kindPropose || c.Kind == kindReg) && (c.Realm == "" || !validMatch(c.Match) || c.Topic == "" || c.Invoke == "" || c.Callees < 0) {
		return nil, errors.New("cluster: registration change without realm, procedure or invocation policy")
	}
	if (c.Kind == kindJoined || c.Kind == kindLeft) && (c.Realm == "" || c.Session == 0 || c.Session > uint64(spec.MaxID)) {
		return nil, errors.New("cluster: session change without realm or with a bad session ID")
	}
	return &c, nil
}

func validMatch(m string) bool {
	return m == spec.MatchExact || m == spec.MatchPrefix || m == spec.MatchWildcard
}

// snapshot is a node's whole interest.
type snapshot struct {
	Name     string        `json:"n"`
	Seq      uint64        `json:"s"`
	Interest []pattern     `json:"i"`
	Sessions []snapSession `json:"ss,omitempty"`
	Regs     []snapReg     `json:"rg,omitempty"`
}

type snapSession struct {
	Realm    string `json:"r"`
	ID       uint64 `json:"i"`
	AuthID   string `json:"ai"`
	AuthRole string `json:"ar"`
}

type pattern struct {
	Realm string `json:"r"`
	Match string `json:"m"`
	Topic string `json:"u"`
}

func (s *snapshot) encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

func decodeSnapshot(b []byte) (*snapshot, error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("cluster: snapshot: %w", err)
	}
	for _, p := range s.Interest {
		if p.Realm == "" || !validMatch(p.Match) {
			return nil, errors.New("cluster: snapshot pattern without realm or with an unknown match policy")
		}
	}
	for _, r := range s.Regs {
		if r.Realm == "" || !validMatch(r.Match) || r.Procedure == "" || r.Invoke == "" || r.Callees < 0 {
			return nil, errors.New("cluster: snapshot registration without realm, procedure or invocation policy")
		}
	}
	for _, ss := range s.Sessions {
		if ss.Realm == "" || ss.ID == 0 || ss.ID > uint64(spec.MaxID) {
			return nil, errors.New("cluster: snapshot session without realm or with a bad ID")
		}
	}
	return &s, nil
}

// Keys of the cluster's own fields in a forwarded PUBLISH's options.
const (
	keyRealm     = "x_sy_realm"
	keyPublisher = "x_sy_pub" // [session ID, authid, authrole, disclose]
)

// encodeEvent encodes a publication for the other nodes.
func encodeEvent(realm string, e *router.RemoteEvent) ([]byte, error) {
	opts := make(spec.Dict, len(e.Options)+3)
	for k, v := range e.Options {
		opts[k] = v
	}
	opts[keyRealm] = realm
	opts[keyPublisher] = []any{int64(e.Publisher), e.PublisherAuthID, e.PublisherAuthRole, e.Disclose}
	putRaw(opts, e.Raw)
	return serializer.MessagePack.Encode(nil, &spec.Publish{
		Request:     e.Publication,
		Options:     opts,
		Topic:       e.Topic,
		Arguments:   e.Arguments,
		ArgumentsKw: e.ArgumentsKw,
	})
}

// decodeEvent decodes what encodeEvent made.
func decodeEvent(b []byte) (string, *router.RemoteEvent, error) {
	m, err := serializer.MessagePack.Decode(b)
	if err != nil {
		return "", nil, fmt.Errorf("cluster: event: %w", err)
	}
	p, ok := m.(*spec.Publish)
	if !ok {
		return "", nil, fmt.Errorf("cluster: event is a %s, not a PUBLISH", m.Type())
	}
	realm, _ := p.Options[keyRealm].(string)
	pub, _ := p.Options[keyPublisher].([]any)
	if realm == "" || len(pub) != 4 {
		return "", nil, errors.New("cluster: event without realm or publisher")
	}
	id, ok1 := spec.AsID(pub[0])
	authID, ok2 := pub[1].(string)
	authRole, ok3 := pub[2].(string)
	disclose, ok4 := pub[3].(bool)
	if !(ok1 || pub[0] == int64(0)) || !ok2 || !ok3 || !ok4 {
		return "", nil, errors.New("cluster: event with a malformed publisher")
	}
	if !spec.ValidURI(p.Topic, spec.Loose, spec.MatchExact) {
		return "", nil, errors.New("cluster: event with an invalid topic")
	}
	args, kwargs, raw, err := takeRaw(p.Options, p.Arguments, p.ArgumentsKw)
	if err != nil {
		return "", nil, fmt.Errorf("cluster: event: %w", err)
	}
	delete(p.Options, keyRealm)
	delete(p.Options, keyPublisher)
	return realm, &router.RemoteEvent{
		Publication:       p.Request,
		Topic:             p.Topic,
		Options:           p.Options,
		Arguments:         args,
		ArgumentsKw:       kwargs,
		Raw:               raw,
		Disclose:          disclose,
		Publisher:         id,
		PublisherAuthID:   authID,
		PublisherAuthRole: authRole,
	}, nil
}

// onEvent delivers a publication from another node to this node's
// subscribers. One goroutine handles them in arrival order, which keeps
// each publisher's order.
func (n *Node) onEvent(m *nats.Msg) {
	realm, e, err := decodeEvent(m.Data)
	if err != nil {
		n.log.Warn("cluster: malformed publication dropped", "error", err)
		return
	}
	n.mu.RLock()
	l := n.realms[spec.URI(realm)]
	n.mu.RUnlock()
	if l == nil {
		return // no such realm here, so nobody to deliver to
	}
	l.realm.DeliverRemote(e)
}
