package spec

// Role names used in HELLO.Details.roles and WELCOME.Details.roles.
const (
	RolePublisher  = "publisher"
	RoleSubscriber = "subscriber"
	RoleCaller     = "caller"
	RoleCallee     = "callee"
	RoleBroker     = "broker"
	RoleDealer     = "dealer"
)

// Advanced Profile feature names, announced under roles.<role>.features.
const (
	FeatureProgressiveCallResults     = "progressive_call_results"
	FeatureProgressiveCallInvocations = "progressive_call_invocations"
	FeatureCallCanceling              = "call_canceling"
	FeatureCallTimeout                = "call_timeout"
	FeatureCallerIdentification       = "caller_identification"
	FeaturePatternBasedRegistration   = "pattern_based_registration"
	FeatureSharedRegistration         = "shared_registration"
	FeatureRegistrationRevocation     = "registration_revocation"
	FeatureRegistrationMetaAPI        = "registration_meta_api"
	FeatureSubscriberBlackWhiteList   = "subscriber_blackwhite_listing"
	FeaturePublisherExclusion         = "publisher_exclusion"
	FeaturePublisherIdentification    = "publisher_identification"
	FeaturePatternBasedSubscription   = "pattern_based_subscription"
	FeatureEventHistory               = "event_history"
	FeatureEventRetention             = "event_retention"
	FeatureSubscriptionRevocation     = "subscription_revocation"
	FeatureSubscriptionMetaAPI        = "subscription_meta_api"
	FeatureSessionMetaAPI             = "session_meta_api"
	FeatureTestamentMetaAPI           = "testament_meta_api"
	FeaturePayloadPassthruMode        = "payload_passthru_mode"
)

// HasFeature reports whether a HELLO's roles announce feature for role.
// The spelling variant "call_cancelling" counts as call_canceling.
func HasFeature(roles Dict, role, feature string) bool {
	r, _ := roles[role].(map[string]any)
	f, _ := r["features"].(map[string]any)
	if v, _ := f[feature].(bool); v {
		return true
	}
	if feature == FeatureCallCanceling {
		v, _ := f["call_cancelling"].(bool)
		return v
	}
	return false
}

// HasRole reports whether a HELLO's roles include role.
func HasRole(roles Dict, role string) bool {
	_, ok := roles[role]
	return ok
}

// Option keys the router reads.
const (
	OptAcknowledge     = "acknowledge"
	OptExcludeMe       = "exclude_me"
	OptMatch           = "match"
	OptInvoke          = "invoke"
	OptReceiveProgress = "receive_progress"
	OptProgress        = "progress"
	OptTimeout         = "timeout"
	OptDiscloseMe      = "disclose_me"
)

// Match policies of SUBSCRIBE and REGISTER.
const (
	MatchExact    = "exact"
	MatchPrefix   = "prefix"
	MatchWildcard = "wildcard"
)
