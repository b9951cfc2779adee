package signing

import (
	"strconv"
	"time"
)

// CreateInput is what a relying party asks for when it creates a signing request. The HTTP
// surface (signing/httpapi) fills it from the multipart upload and the caller's token.
type CreateInput struct {
	ClientID    string // the relying party, from its token
	Subject     string // the citizen as the client knows them (pairwise sub)
	CitizenID   string // set when a citizen's own token created the request
	Reason      string
	Location    string
	Level       Level // LevelBT when empty
	CallbackURL string
	// ReturnURL is where the approval page's button sends the citizen afterwards; the HTTP
	// API checks it against the client's registered origins.
	ReturnURL      string
	IdempotencyKey string
	TTL            time.Duration // 0: the service's default (15 minutes)
	Documents      []DocumentInput
}

// DocumentInput is one uploaded PDF with its title and optional visible-signature placement.
type DocumentInput struct {
	Title     string
	PDF       []byte
	Placement *Placement
}

// InputError reports input that cannot be signed: a document (not a PDF, truncated,
// encrypted, broken cross-reference, too large, zero pages) or the request as a whole.
// Code is stable and machine-readable (snake_case, the Code constants); Msg is for
// developers and holds no personal data.
type InputError struct {
	Index int // 0-based index of the document in the request; -1 for the whole request
	Code  string
	Msg   string
}

func (e *InputError) Error() string {
	if e.Index < 0 {
		return "signing: request: " + e.Code + ": " + e.Msg
	}
	return "signing: document " + strconv.Itoa(e.Index) + ": " + e.Code + ": " + e.Msg
}
