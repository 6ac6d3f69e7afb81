package auth

import (
	"testing"

	"github.com/switchyard/switchyard/internal/leakcheck"
)

// TestMain fails the package if goroutines outlive the tests.
func TestMain(m *testing.M) { leakcheck.Main(m) }
