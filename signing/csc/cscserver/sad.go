package cscserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	wire "github.com/motlan/motlan/signing/csc"
)

// sad is what a SAD binds; it travels sealed, so the server keeps nothing until it is spent.
type sad struct {
	Citizen string   `json:"c"`
	Client  string   `json:"cl"`
	Cred    string   `json:"cr"`
	Hashes  []string `json:"h"`
	Num     int      `json:"n"`
	Exp     int64    `json:"e"`
	ID      string   `json:"i"`
}

const sadKID = "csc-sad"

// handleAuthorize answers credentials/authorize (11.6): with the citizen's OTP, a SAD for
// exactly numSignatures signatures of exactly these hashes.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, c Caller, body []byte) {
	var in wire.AuthorizeRequest
	if !decodeInto(w, body, &in) {
		return
	}
	_, cid, ok := s.credential(w, r, c, in.CredentialID)
	if !ok {
		return
	}
	if _, err := s.checkHashes(in.NumSignatures, in.Hashes, in.HashAlgorithmOID); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, err.Error())
		return
	}
	if !s.throttle(w, r, cid) {
		return
	}
	otp := ""
	for _, a := range in.AuthData {
		if a.ID == wire.IDOTP {
			otp = a.Value
		}
	}
	if otp == "" {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Missing authData OTP")
		return
	}
	now := s.cfg.Now()
	if !s.otpValid(cid, in.CredentialID, otp, now) {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidOTP, "The OTP is invalid")
		return
	}
	// One OTP, one SAD: the record outlives both windows the code is accepted in.
	if err := s.cfg.Once(r.Context(), "otp:"+cid+":"+otp, now.Add(2*otpWindow)); err != nil {
		if errors.Is(err, ErrUsed) {
			writeError(w, http.StatusBadRequest, wire.ErrInvalidOTP, "The OTP was used already")
			return
		}
		s.log.ErrorContext(r.Context(), "otp record", "err", err)
		writeError(w, http.StatusInternalServerError, wire.ErrServer, "try again")
		return
	}
	v := sad{Citizen: cid, Client: c.ClientID, Cred: in.CredentialID, Hashes: in.Hashes, Num: in.NumSignatures,
		Exp: now.Add(sadLife).Unix(), ID: rand.Text()}
	plain, _ := json.Marshal(v)
	sealed, err := s.sealer.Seal(sadKID, plain)
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.ErrServer, "try again")
		return
	}
	s.audit(r, AuditEvent{CitizenID: cid, ClientID: c.ClientID, Credential: in.CredentialID, Hashes: in.Hashes})
	writeJSON(w, http.StatusOK, wire.AuthorizeResponse{SAD: base64.RawURLEncoding.EncodeToString(sealed), ExpiresIn: int64(sadLife.Seconds())})
}

func (s *Server) audit(r *http.Request, e AuditEvent) {
	if s.cfg.Audit != nil {
		s.cfg.Audit(r.Context(), e)
	}
}

// throttle counts an authorisation attempt for the citizen; past the limit it answers 429.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, citizenID string) bool {
	if s.cfg.Throttle == nil {
		return true
	}
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte("throttle\x00" + citizenID))
	ok, err := s.cfg.Throttle(r.Context(), "csc-authorize:"+hex.EncodeToString(m.Sum(nil)[:16]), authorizeLimit, authorizeWindow)
	switch {
	case err != nil:
		s.log.ErrorContext(r.Context(), "authorize throttle", "err", err)
		writeError(w, http.StatusServiceUnavailable, wire.ErrServer, "try again later")
		return false
	case !ok:
		w.Header().Set("Retry-After", strconv.Itoa(int(authorizeWindow.Seconds())))
		writeError(w, http.StatusTooManyRequests, "temporarily_unavailable", "too many authorizations for this credential; try again later")
		return false
	}
	return true
}

// spendSAD checks the SAD against the call and spends it; it returns an error code and
// description, or "" when signing may go ahead.
func (s *Server) spendSAD(r *http.Request, clientID, citizenID, credID, token string, hashes []string) (code, desc string) {
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return wire.ErrInvalidRequest, "Invalid parameter SAD"
	}
	plain, err := s.sealer.Open(sadKID, sealed)
	var v sad
	if err != nil || json.Unmarshal(plain, &v) != nil {
		return wire.ErrInvalidRequest, "Invalid parameter SAD"
	}
	now := s.cfg.Now()
	switch {
	case v.Citizen != citizenID || v.Client != clientID || v.Cred != credID:
		return wire.ErrInvalidRequest, "Invalid parameter SAD" // another user's, client's or credential's
	case now.Unix() >= v.Exp:
		return wire.ErrExpiredSAD, "SAD expired"
	case len(hashes) != v.Num || !slices.Equal(hashes, v.Hashes):
		return wire.ErrInvalidRequest, "hashes differ from those the SAD authorizes"
	}
	if err := s.cfg.Once(r.Context(), "sad:"+v.ID, time.Unix(v.Exp, 0).Add(time.Minute)); err != nil {
		if errors.Is(err, ErrUsed) {
			return wire.ErrExpiredSAD, "SAD already used"
		}
		s.log.ErrorContext(r.Context(), "sad record", "err", err)
		return wire.ErrServer, "try again"
	}
	return "", ""
}

// otpPerWindow bounds the codes the OTP page issues a citizen in one window.
const otpPerWindow = 20

// otp is the citizen's k-th code of one window: 8 digits of an HMAC over the citizen, the
// credential, the window number and k.
func (s *Server) otp(citizenID, credID string, window int64, k int) string {
	m := hmac.New(sha256.New, s.cfg.Key)
	fmt.Fprintf(m, "otp\x00%s\x00%s\x00%d\x00%d", citizenID, credID, window, k)
	return fmt.Sprintf("%08d", binary.BigEndian.Uint32(m.Sum(nil)[:4])%100_000_000)
}

// otpValid accepts any code of this window and of the one before (a code read just
// before a window ends); each is good once (the caller records it).
func (s *Server) otpValid(citizenID, credID, code string, now time.Time) bool {
	w := now.Unix() / int64(otpWindow.Seconds())
	ok := false
	for _, win := range []int64{w, w - 1} {
		for k := range otpPerWindow {
			ok = hmac.Equal([]byte(code), []byte(s.otp(citizenID, credID, win, k))) || ok
		}
	}
	return ok
}

// issueOTP gives the citizen the next unissued code of this window, so every visit of the
// OTP page (each a fresh level-2 login) yields a new code; errOTPsExhausted past the bound.
func (s *Server) issueOTP(r *http.Request, citizenID string) (string, error) {
	now := s.cfg.Now()
	w := now.Unix() / int64(otpWindow.Seconds())
	cred := s.credentialID(citizenID)
	for k := range otpPerWindow {
		err := s.cfg.Once(r.Context(), fmt.Sprintf("otp-issued:%s:%d:%d", citizenID, w, k), now.Add(2*otpWindow))
		switch {
		case err == nil:
			return s.otp(citizenID, cred, w, k), nil
		case !errors.Is(err, ErrUsed):
			return "", err
		}
	}
	return "", errOTPsExhausted
}

var errOTPsExhausted = errors.New("cscserver: every code of this window was issued")
