package main

import (
	"log/slog"

	"github.com/switchyard/switchyard/bridge"
	"github.com/switchyard/switchyard/router"
)

// newBridge builds the HTTP bridge for the realms whose http_api is
// enabled (from the config file or --http-api), or returns nil when none is.
func newBridge(r *router.Router, realms []router.RealmConfig, log *slog.Logger) (*bridge.Bridge, error) {
	var ros []bridge.RealmOptions
	for _, rc := range realms {
		if rc.Auth == nil || rc.Auth.HTTPAPI == nil || !rc.Auth.HTTPAPI.Enabled {
			continue
		}
		ro := bridge.RealmOptions{Name: rc.Name, API: rc.Auth.HTTPAPI}
		if rc.Auth.Anonymous != nil {
			ro.AnonymousRole = rc.Auth.Anonymous.Role
		}
		ros = append(ros, ro)
	}
	if len(ros) == 0 {
		return nil, nil
	}
	b, err := bridge.New(bridge.Options{Router: r, Realms: ros, Logger: log})
	if err != nil {
		return nil, err
	}
	for _, ro := range ros {
		log.Info("HTTP bridge enabled", "realm", string(ro.Name), "anonymous", ro.API.Anonymous,
			"tokens", len(ro.API.Tokens), "signature_keys", len(ro.API.Signatures),
			"webhooks_in", len(ro.API.WebhooksIn), "webhooks_out", len(ro.API.WebhooksOut))
	}
	return b, nil
}
