package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/router"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "validate a config file without serving",
		Description: `Loads the file as "serve --config" does, and builds its TLS settings and
realms, without opening a listener: a mistake prints the same
file:line: field: problem messages serve would stop with, and exits 1.
Warnings (a ticket on a listener without TLS, ...) print too, and do not
fail the check.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: env("CONFIG"), Usage: "the config file to check", Required: true},
		},
		Action: func(c *cli.Context) error {
			path := c.String("config")
			cfg, err := checkConfig(path)
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(c.App.ErrWriter, "warning:", w)
			}
			fmt.Fprintf(c.App.Writer, "%s: OK (%d listener(s), %d realm(s))\n", path, len(cfg.Listeners), len(cfg.Realms))
			return nil
		},
	}
}

// checkConfig runs the config-file steps of serve that can fail: loading
// and validating the file, loading each listener's certificates, and
// building the realms in a router that never listens.
func checkConfig(path string) (*auth.Config, error) {
	cfg, err := auth.LoadConfig(path)
	if err != nil {
		return nil, err // names the file, line and field, as serve does
	}
	var errs []error
	for _, cl := range cfg.Listeners {
		if _, err := cl.TLSConfig(); err != nil {
			errs = append(errs, fmt.Errorf("config listener %s: %w", cl.Name, err))
		}
	}
	realms := make([]router.RealmConfig, len(cfg.Realms))
	for i, rc := range cfg.Realms {
		realms[i] = router.RealmConfig{Name: rc.Name, Auth: rc}
	}
	r, err := router.New(router.Options{Realms: realms, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		errs = append(errs, err)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r.Shutdown(ctx)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}
