// Package router is Switchyard's WAMP router: realms, sessions, the broker
// (PubSub) and the dealer (RPC).
//
// # Data path
//
// Each session has two goroutines: the transport's writer, and the reader
// that runs [Router.ServePeer]. The reader decodes a message and routes it
// inline, calling straight into the realm's broker or dealer; there is no
// central actor goroutine and no channel hop per message. Everything a
// session sends to another goes through the recipient's bounded outbound
// queue (transport.Peer.Send), which never blocks. An EVENT is encoded once
// per (publication, serializer) and the same bytes are queued to every
// subscriber using that serializer.
//
// Idle connections are the exception (a deliberate departure from "a reader
// goroutine per session"): a transport that parks them (transport.Parker,
// RawSocket and WebSocket on Linux) returns transport.ErrParked from Recv,
// the reader returns and its goroutine ends; the transport resumes the connection's
// read loop (conn.read, whose state lives in conn, not on the stack) on a
// fresh goroutine when input arrives. A parked session holds no goroutine;
// a busy one is read exactly as above.
//
// # Locks
//
// Lock order, outermost first:
//
//	Realm.routeMu → Router.mu → Realm.mu → broker.mu / dealer.mu → session.mu → call.mu
//
// Realm.routeMu is held shared while one message is routed and exclusively
// only by a shutdown (Realm.closeAll), which must see routing at rest.
// broker.mu and dealer.mu are never held together. session.mu guards a
// session's in-flight calls and is never held while taking another
// session's mu: a call's completion is decided by an atomic flag on the call,
// and each side's map is updated under its own lock in turn. No lock is held
// across I/O: Peer.Send only appends to a queue. Authentication runs before a
// session exists, under no lock. A dynamic authorizer's call (through the
// realm's internal session) waits with Realm.routeMu held shared and nothing
// else, so a shutdown waits at most for that call's timeout.
//
// A realm's ClusterLink (nil on a single node) takes its own lock below
// Realm.mu and broker.mu (SessionKnown is called under Realm.mu,
// RemoveInterest and the ClusterMeta subscription hooks under broker.mu) and
// never calls back into the realm while holding it; AddInterest, Publish and the session meta calls run under no
// realm lock but Realm.routeMu held shared. A LocalSession
// (the HTTP bridge's) routes its requests under Realm.routeMu shared, like a
// reader, but waits for the answers with no lock held; its localPeer.mu is a
// leaf, and its event handlers run under broker.mu (read) and must only queue.
//
// The counters (stats.go) are atomics, except realmStats.mu and
// errorCounts.mu, leaves taken during handshakes and for ERRORs only. A
// reload (reload.go) swaps a realm's authentication and authorization with
// one atomic store: routing reads Realm.auth once per decision and never
// waits for a reload; Reload.Commit takes Router.mu only to change the realm
// map, and builds nothing under it.
package router
