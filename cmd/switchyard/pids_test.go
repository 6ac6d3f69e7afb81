package main

import (
	"fmt"
	"testing"
)

func TestParsePIDs(t *testing.T) {
	for in, want := range map[string]string{"": "[]", "42": "[42]", "1, 2,3": "[1 2 3]"} {
		got, err := parsePIDs(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("parsePIDs(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "1,-2", "0"} {
		if _, err := parsePIDs(bad); err == nil {
			t.Errorf("parsePIDs(%q) accepted", bad)
		}
	}
}
