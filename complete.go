package gatehouse

// Authentication is a verified credential on its way to becoming a session.
// Every sign-in method builds one and hands it to Complete; none creates a
// session any other way.
type Authentication struct {
	// User is the account the credential proved.
	User User
	// AMR lists the methods the credential used (RFC 8176: "pwd", …); AAL is
	// the assurance level they reach (1: one factor, 2: two).
	AMR []string
	AAL int
	// Client describes the device signing in.
	Client Client
	// Replaces is the session the device presented, if any; it is revoked
	// when the new one is issued, so a planted cookie never becomes
	// authenticated and a browser never holds two sessions.
	Replaces string
}

// Client describes the device behind a request, as recorded on its session.
type Client struct {
	IP        string
	UserAgent string
	// Device is an opaque, random identifier the device keeps (the web
	// edge's device cookie), used to recognize devices seen before. Empty
	// when the client keeps none.
	Device string
	// Languages is the client's Accept-Language header; mail triggered by
	// the request is written in the best matching language.
	Languages string
}

// Status is the outcome of Complete.
type Status string

// Outcomes of Complete.
const (
	// StatusSignedIn: a session was issued.
	StatusSignedIn Status = "signed_in"
	// StatusMFARequired: a hook asked for another factor; no session yet.
	StatusMFARequired Status = "mfa_required"
	// StatusVerificationRequired: sign-up in VerificationRequired mode; no
	// session, and a mail went to the address (a verification link, or an
	// "account exists" notice to an existing owner — the answer is the same).
	StatusVerificationRequired Status = "verification_required"
)

// Result is what sign-up and sign-in return. Token is the new session's
// secret, to be set in the cookie; it is empty unless Status is
// StatusSignedIn and must never be logged.
type Result struct {
	Status  Status
	User    User
	Session Session
	Token   string
	// Methods lists the acceptable next steps for StatusMFARequired.
	Methods []string
}
