package main

import (
	"slices"
	"strings"
	"testing"
)

func TestReorderArgsMovesFlagsBeforePositionals(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want string }{
		{"sy call com.x 3 4 --url ws://h/", "sy call --url ws://h/ com.x 3 4"},
		{"sy call com.x --kwargs {} -3 --insecure 4", "sy call --kwargs {} --insecure com.x -3 4"},
		{"sy call com.x --timeout=2s 1", "sy call --timeout=2s com.x 1"},
		{"sy register com.x --concurrency 2 -- sh -c --url", "sy register --concurrency 2 com.x -- sh -c --url"},
		{"sy init dir --ws 127.0.0.1:1", "sy init --ws 127.0.0.1:1 dir"},
		{"sy serve --ws x", "sy serve --ws x"},
		{"sy bench rpc --url x", "sy bench rpc --url x"}, // has subcommands: left alone
		{"sy", "sy"},
	}
	for _, c := range cases {
		got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("%q → %q, want %q", c.in, got, c.want)
		}
	}
	in := []string{"sy", "call", "x"}
	if out := reorderArgs(app, in); !slices.Equal(out, in) {
		t.Errorf("no flags: %v", out)
	}
}
