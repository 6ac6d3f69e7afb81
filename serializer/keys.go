package serializer

import "github.com/switchyard/switchyard/spec"

// wellKnownKeys holds the dict keys WAMP peers send again and again: the
// roles and features of every HELLO (some 30 keys in autobahn's and our own
// client's) and the options and details of the messages routed after it.
// The JSON and MessagePack decoders take a key's string from here instead
// of allocating one (BenchmarkConnectCycle: 90 → 74 allocations per
// session); a key not listed costs what it did.
var wellKnownKeys = func() map[string]string {
	keys := []string{
		// HELLO, WELCOME, CHALLENGE, AUTHENTICATE details
		"agent", "roles", "features", "realm", "authid", "authrole", "authmethod", "authmethods",
		"authextra", "authprovider",
		spec.RolePublisher, spec.RoleSubscriber, spec.RoleCaller, spec.RoleCallee, spec.RoleBroker, spec.RoleDealer,
		spec.FeatureProgressiveCallResults, spec.FeatureProgressiveCallInvocations, spec.FeatureCallCanceling,
		spec.FeatureCallTimeout, spec.FeatureCallerIdentification, spec.FeaturePatternBasedRegistration,
		spec.FeatureSharedRegistration, spec.FeatureRegistrationRevocation, spec.FeatureRegistrationMetaAPI,
		spec.FeatureSubscriberBlackWhiteList, spec.FeaturePublisherExclusion, spec.FeaturePublisherIdentification,
		spec.FeaturePatternBasedSubscription, spec.FeatureEventHistory, spec.FeatureEventRetention,
		spec.FeatureSubscriptionRevocation, spec.FeatureSubscriptionMetaAPI, spec.FeatureSessionMetaAPI,
		spec.FeatureTestamentMetaAPI, spec.FeaturePayloadPassthruMode,
		"sharded_registration", "sharded_subscription", "payload_transparency", "x_acknowledged_event_delivery",
		// options and details of PUBLISH, SUBSCRIBE, CALL, REGISTER, YIELD, EVENT, RESULT, INVOCATION
		spec.OptAcknowledge, spec.OptExcludeMe, spec.OptMatch, spec.OptInvoke, spec.OptReceiveProgress,
		spec.OptProgress, spec.OptTimeout, spec.OptDiscloseMe,
		"exclude", "exclude_authid", "exclude_authrole", "eligible", "eligible_authid", "eligible_authrole",
		"retain", "get_retained", "topic", "procedure", "caller", "caller_authid", "caller_authrole",
		"publisher", "publisher_authid", "publisher_authrole", "trustlevel", "retained", "mode", "reason",
		"message", "ppt_scheme", "ppt_serializer", "ppt_cipher", "ppt_keyid",
	}
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = k
	}
	return m
}()

// keyString returns b as a string, without allocating when it is a
// well-known key. b must be valid UTF-8 already.
func keyString(b []byte) string {
	if k, ok := wellKnownKeys[string(b)]; ok {
		return k
	}
	return string(b)
}
