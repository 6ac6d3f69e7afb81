package spec

// Error URIs of the Basic and Advanced Profiles.
const (
	ErrInvalidURI             URI = "wamp.error.invalid_uri"
	ErrNoSuchProcedure        URI = "wamp.error.no_such_procedure"
	ErrProcedureAlreadyExists URI = "wamp.error.procedure_already_exists"
	ErrNoSuchRegistration     URI = "wamp.error.no_such_registration"
	ErrNoSuchSubscription     URI = "wamp.error.no_such_subscription"
	ErrInvalidArgument        URI = "wamp.error.invalid_argument"
	ErrCanceled               URI = "wamp.error.canceled"
	ErrPayloadSizeExceeded    URI = "wamp.error.payload_size_exceeded"
	ErrProtocolViolation      URI = "wamp.error.protocol_violation"
	ErrNotAuthorized          URI = "wamp.error.not_authorized"
	ErrAuthorizationFailed    URI = "wamp.error.authorization_failed"
	ErrNoSuchRealm            URI = "wamp.error.no_such_realm"
	ErrNoSuchRole             URI = "wamp.error.no_such_role"
	ErrNoSuchPrincipal        URI = "wamp.error.no_such_principal"
	ErrAuthenticationFailed   URI = "wamp.error.authentication_failed"
	ErrNoAuthMethod           URI = "wamp.error.no_auth_method"
	ErrTimeout                URI = "wamp.error.timeout"
	ErrOptionNotAllowed       URI = "wamp.error.option_not_allowed"
	ErrDiscloseMeDisallowed   URI = "wamp.error.option_disallowed.disclose_me"
	ErrNetworkFailure         URI = "wamp.error.network_failure"
	ErrUnavailable            URI = "wamp.error.unavailable"
	ErrNoAvailableCallee      URI = "wamp.error.no_available_callee"
	ErrFeatureNotSupported    URI = "wamp.error.feature_not_supported"
	ErrNoSuchSession          URI = "wamp.error.no_such_session"
)

// Close reasons for GOODBYE and ABORT.
const (
	CloseSystemShutdown URI = "wamp.close.system_shutdown"
	CloseRealm          URI = "wamp.close.close_realm"
	CloseGoodbyeAndOut  URI = "wamp.close.goodbye_and_out"
	CloseKilled         URI = "wamp.close.killed"
	CloseNormal         URI = "wamp.close.normal"
)
