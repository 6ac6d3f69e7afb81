// Command switchyard is a WAMP v2 router.
//
//	switchyard serve     run the router (WebSocket on 127.0.0.1:8080, RawSocket on 127.0.0.1:8081)
//	switchyard reload    make a running router re-read its --config
//	switchyard check     validate a config file; switchyard init writes a starter one
//	switchyard call, publish, subscribe, register, sessions
//	                     talk WAMP to any router, from the shell
//	switchyard version   print the version
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "switchyard",
		Usage:   "a WAMP v2 router: routed RPC and PubSub over WebSocket and RawSocket",
		Version: versionString(),
		Commands: []*cli.Command{
			serveCommand(),
			keygenCommand(),
			deriveCommand(),
			benchCommand(),
			reloadCommand(),
			checkCommand(),
			initCommand(),
			callCommand(),
			publishCommand(),
			subscribeCommand(),
			registerCommand(),
			sessionsCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, "switchyard", versionString())
					return nil
				},
			},
		},
	}
}

func main() {
	app := newApp()
	if err := app.Run(reorderArgs(app, os.Args)); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			if exit.msg != "" {
				fmt.Fprintln(os.Stderr, exit.msg)
			}
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "switchyard:", err)
		os.Exit(1)
	}
}
