//go:build race

package interop

// raceEnabled: the tests run with -race, so the router under test is built with -race too.
const raceEnabled = true
