package e2e

import (
	"os"
	"testing"

	"github.com/danmakud/danmakud/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
