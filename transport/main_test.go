package transport

import (
	"testing"

	"github.com/switchyard/switchyard/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
