// Package bench is Switchyard's load generator: bounded scenarios that drive
// any WAMP v2 router by URL, and a baseline relay that shows what the
// machine itself can carry, so a router's figures can be read as a fraction
// of that limit.
//
// # Scenarios
//
//   - [RPC]: C callers call one procedure registered by one or more callees,
//     each caller keeping a window of W calls outstanding.
//   - [Fanout]: P publishers publish to one topic with S subscribers; every
//     subscriber checks each publisher's sequence numbers.
//   - [Connect]: sessions opened and closed per second (dial, HELLO/WELCOME,
//     GOODBYE).
//   - [Idle]: N sessions held open; with a pid, the router's resident memory
//     per session.
//   - [Slow]: a subscriber that stops reading must be disconnected while
//     every other subscriber keeps receiving every event.
//
// Every scenario is bounded by a count and a duration, and every goroutine
// it starts is joined before Run returns. When the target's pid is known,
// the router's CPU time (from /proc/PID/stat) is sampled before and after the
// measured phase and reported per operation: on a shared two-core machine
// absolute rates swing from day to day, CPU per operation much less.
//
// # The generator's client
//
// The data path of RPC, Fanout and Slow does not use package client: it
// drives transport peers directly with the serializer (encode a message,
// Send; Recv, which decodes). That keeps the generator's own cost per
// message small and fixed, so that on a machine it shares with the router
// it measures the router rather than itself. Connect and Idle do use package
// client: their subject is session setup, which the client performs exactly
// as a user's program would.
//
// # The baseline relay
//
// [Relay] speaks the RawSocket handshake and then forwards frames between
// connections without decoding them. It reads only each message's head —
// the type code, the request ID, the options and the topic or procedure,
// which it skips without building values — and writes the head the
// recipient expects in front of the arguments, copied as raw bytes: a CALL
// becomes an INVOCATION for a callee, the callee's YIELD a RESULT for the
// caller, a PUBLISH an EVENT for every subscriber (one buffer shared by all
// their queues, as the router shares one encoded EVENT) and a PUBLISHED for
// its publisher. A router cannot do less and still be a router; so the
// generator receives the same messages, of nearly the same bytes, from the
// relay as from the router, and does the same work in both runs.
//
// The relay routes YIELDs by order rather than by a table: it remembers,
// per callee, whom each INVOCATION came from, and the generator's callees
// answer in order. It knows one procedure and one topic. Session setup
// (HELLO, REGISTER, SUBSCRIBE, GOODBYE) is decoded and answered, since it is
// not what the data-path scenarios measure. Its connections are built like
// the router's — a reader goroutine, a writer goroutine, the same bounded
// transport.Queue, the same buffer sizes — so that the difference between
// the two runs is the router's decoding, routing, authorization and
// encoding.
//
// # The connect floor
//
// [Floor] is to the connect scenario what the relay is to the others: it
// answers the RawSocket or WebSocket handshake, a HELLO with a WELCOME and
// a GOODBYE with a GOODBYE, from bytes encoded once at start, on one
// goroutine per connection. It decodes, authenticates and keeps nothing,
// so its CPU per session is what the system calls, the loopback's TCP work
// and the Go runtime cost on this machine; a router's session read against
// it (bench connect --versus) shows how much of the session is the
// router's own work.
package bench
