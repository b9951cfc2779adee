package cscserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/signing"
	wire "github.com/motlan/motlan/signing/csc"
)

// handleInfo answers info (11.1): no authentication, GET or POST.
func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, wire.ErrInvalidRequest, "use POST")
		return
	}
	methods := []string{wire.MethodInfo, wire.MethodList, wire.MethodCredInfo, wire.MethodChall, wire.MethodAuthz, wire.MethodSignHash}
	if s.cfg.Timestamp != nil {
		methods = append(methods, wire.MethodTS)
	}
	writeJSON(w, http.StatusOK, wire.InfoResponse{
		Specs: wire.SpecsVersion, Name: s.cfg.Name, Logo: "", Region: "VN", Lang: "vi",
		Description: "Ký số từ xa bằng khóa của công dân trong kho khóa Motlan",
		AuthType:    []string{"oauth2code", "oauth2client"}, OAuth2: s.cfg.OAuth2, Methods: methods,
	})
}

// handleList answers credentials/list (11.4): the citizen's one credential.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, c Caller, body []byte) {
	var in wire.ListRequest
	if !decodeInto(w, body, &in) {
		return
	}
	if !certsOK(w, in.Certificates) {
		return
	}
	cid, ok := s.listedCitizen(w, r, c, in.UserID)
	if !ok {
		return
	}
	out := wire.ListResponse{CredentialIDs: []string{}}
	if cid == "" {
		writeJSON(w, http.StatusOK, out)
		return
	}
	id := s.credentialID(cid)
	out.CredentialIDs = []string{id}
	if in.CredentialInfo {
		cred, _, ok := s.credential(w, r, c, id)
		if !ok {
			return
		}
		ci := s.describe(cred, in.Certificates, in.CertInfo, in.AuthInfo)
		ci.CredentialID = id
		out.CredentialInfos = []wire.CredentialInfo{ci}
	}
	writeJSON(w, http.StatusOK, out)
}

// listedCitizen is whose credentials credentials/list shows: the token's citizen (userID
// must then be absent, CSC 11.4), or for a client's own token the citizen whose CCCD is
// userID ("CCCD:" prefix optional); "" when there is none.
func (s *Server) listedCitizen(w http.ResponseWriter, r *http.Request, c Caller, userID string) (string, bool) {
	if c.CitizenID != "" {
		if userID != "" {
			writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "userID must not be given with a user-specific service authorization")
			return "", false
		}
		return c.CitizenID, true
	}
	if userID == "" {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Missing (or invalid type) string parameter userID")
		return "", false
	}
	cid, err := s.cfg.Citizens.CitizenIDByCCCD(r.Context(), strings.TrimPrefix(userID, "CCCD:"))
	if err != nil {
		s.log.InfoContext(r.Context(), "credentials/list: no citizen for that userID", "err", err)
		return "", true
	}
	return cid, true
}

// handleCredInfo answers credentials/info (11.5).
func (s *Server) handleCredInfo(w http.ResponseWriter, r *http.Request, c Caller, body []byte) {
	var in wire.InfoRequest
	if !decodeInto(w, body, &in) {
		return
	}
	if !certsOK(w, in.Certificates) {
		return
	}
	cred, _, ok := s.credential(w, r, c, in.CredentialID)
	if !ok {
		return
	}
	// authInfo defaults to true in credentials/info.
	auth := true
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) == nil && probe["authInfo"] != nil {
		auth = in.AuthInfo
	}
	writeJSON(w, http.StatusOK, s.describe(cred, in.Certificates, in.CertInfo, auth))
}

// certsOK checks the certificates parameter, answering 400 when it is none of its values.
func certsOK(w http.ResponseWriter, v string) bool {
	if v == "" || v == wire.CertsNone || v == wire.CertsSingle || v == wire.CertsChain {
		return true
	}
	writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Invalid parameter certificates")
	return false
}

// describe is a credential's info: key, certificates as asked, the OTP auth object.
func (s *Server) describe(cred signing.Credential, certs string, certInfo, authInfo bool) wire.CredentialInfo {
	cert := cred.Certificate()
	ci := wire.CredentialInfo{Description: "Khóa ký số cá nhân trong Motlan", SCAL: wire.SCAL2, Multisign: s.cfg.MaxSignatures, Lang: "vi"}
	ci.Key.Status = wire.KeyEnabled
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ci.Key.Algo, ci.Key.Len, ci.Key.Curve = []string{wire.OIDECDSAWithSHA256}, k.Curve.Params().BitSize, "1.2.840.10045.3.1.7"
	case *rsa.PublicKey:
		ci.Key.Algo, ci.Key.Len = []string{wire.OIDSHA256WithRSA, wire.OIDRSAEncryption}, k.N.BitLen()
	}
	ci.Cert.Status = wire.CertValid
	if now := s.cfg.Now(); now.After(cert.NotAfter) {
		ci.Cert.Status = wire.CertExpired
	}
	switch certs {
	case "", wire.CertsSingle:
		ci.Cert.Certificates = []string{b64(cert.Raw)}
	case wire.CertsChain:
		ci.Cert.Certificates = []string{b64(cert.Raw)}
		for _, c := range cred.Chain() {
			ci.Cert.Certificates = append(ci.Cert.Certificates, b64(c.Raw))
		}
	}
	if certInfo {
		ci.Cert.IssuerDN, ci.Cert.SubjectDN = dn(cert.RawIssuer), dn(cert.RawSubject)
		ci.Cert.SerialNumber = cert.SerialNumber.Text(16)
		ci.Cert.ValidFrom, ci.Cert.ValidTo = genTime(cert.NotBefore), genTime(cert.NotAfter)
	}
	if authInfo {
		ci.Auth = wire.AuthInfo{Mode: wire.AuthExplicit, Expression: wire.IDOTP, Objects: []wire.AuthObject{{
			Type: wire.ObjectOTP, ID: wire.IDOTP, Format: "N", Label: "Mã xác nhận Motlan",
			Description: "Đăng nhập lại bằng định danh điện tử mức 2 tại trang /csc/otp để nhận mã",
		}}}
	}
	return ci
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// genTime is X.509 GeneralizedTime as CSC shows validFrom and validTo.
func genTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// handleChallenge answers credentials/getChallenge: the code is on /csc/otp, nothing is sent.
func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request, c Caller, body []byte) {
	var in wire.ChallengeRequest
	if !decodeInto(w, body, &in) {
		return
	}
	if _, _, ok := s.credential(w, r, c, in.CredentialID); ok {
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

// checkHashes checks numSignatures, hashes and hashAlgorithmOID as SCAL2 needs them, and
// returns the digests.
func (s *Server) checkHashes(num int, hashes []string, alg string) ([][]byte, error) {
	if alg != wire.OIDSHA256 {
		return nil, errors.New("Invalid parameter hashAlgorithmOID (only SHA-256, 2.16.840.1.101.3.4.2.1)")
	}
	if len(hashes) == 0 {
		return nil, errors.New("Missing (or invalid type) array parameter hashes")
	}
	if num < 1 || num > s.cfg.MaxSignatures {
		return nil, fmt.Errorf("Invalid parameter numSignatures (1 to %d)", s.cfg.MaxSignatures)
	}
	if num != len(hashes) {
		return nil, errors.New("Invalid parameter numSignatures: SCAL2 needs one hash per signature")
	}
	out := make([][]byte, len(hashes))
	for i, h := range hashes {
		d, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(d) != 32 {
			return nil, fmt.Errorf("Invalid Base64 hashes string parameter (hash %d)", i)
		}
		out[i] = d
	}
	return out, nil
}

// handleSignHash answers signatures/signHash (11.10) for the hashes the SAD binds.
func (s *Server) handleSignHash(w http.ResponseWriter, r *http.Request, c Caller, body []byte) {
	var in wire.SignHashRequest
	if !decodeInto(w, body, &in) {
		return
	}
	cred, cid, ok := s.credential(w, r, c, in.CredentialID)
	if !ok {
		return
	}
	if in.SAD == "" {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Missing (or invalid type) string parameter SAD")
		return
	}
	digests, err := s.checkHashes(len(in.Hashes), in.Hashes, in.HashAlgorithmOID)
	if err == nil {
		err = checkSignAlgo(cred.Certificate(), in.SignAlgo)
	}
	if err == nil && in.OperationMode != "" && in.OperationMode != wire.OperationSync {
		err = errors.New("Invalid parameter operationMode (only S)")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, err.Error())
		return
	}
	if code, desc := s.spendSAD(r, c.ClientID, cid, in.CredentialID, in.SAD, in.Hashes); code != "" {
		writeError(w, http.StatusBadRequest, code, desc)
		return
	}
	sigs, err := cred.SignHashes(r.Context(), digests, signing.Activation{})
	if err != nil {
		s.log.ErrorContext(r.Context(), "signHash", "err", err)
		writeError(w, http.StatusInternalServerError, wire.ErrServer, "signing failed")
		return
	}
	s.audit(r, AuditEvent{Signed: true, CitizenID: cid, ClientID: c.ClientID, Credential: in.CredentialID, Hashes: in.Hashes})
	out := wire.SignHashResponse{Signatures: make([]string, len(sigs))}
	for i, sig := range sigs {
		out.Signatures[i] = b64(sig)
	}
	writeJSON(w, http.StatusOK, out)
}

// checkSignAlgo accepts the signature algorithms of the key, for SHA-256 digests.
func checkSignAlgo(cert *x509.Certificate, algo string) error {
	var ok []string
	switch cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ok = []string{wire.OIDECDSAWithSHA256, wire.OIDECPublicKey}
	case *rsa.PublicKey:
		ok = []string{wire.OIDSHA256WithRSA, wire.OIDRSAEncryption}
	}
	if algo == "" {
		return errors.New("Missing (or invalid type) string parameter signAlgo")
	}
	if !slices.Contains(ok, algo) {
		return fmt.Errorf("Invalid parameter signAlgo (the key takes %s)", strings.Join(ok, " or "))
	}
	return nil
}

// handleTimestamp answers signatures/timestamp (11.12) from Motlan's TSA.
func (s *Server) handleTimestamp(w http.ResponseWriter, r *http.Request, _ Caller, body []byte) {
	if s.cfg.Timestamp == nil {
		writeError(w, http.StatusNotFound, wire.ErrInvalidRequest, "no such method")
		return
	}
	var in wire.TimestampRequest // "hash" is this method's v2 parameter: no v1 check
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "a parameter has the wrong type: "+typeErr(err))
		return
	}
	d, err := base64.StdEncoding.DecodeString(in.Hash)
	switch {
	case in.HashAlgorithmOID != wire.OIDSHA256:
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Invalid parameter hashAlgorithmOID (only SHA-256)")
		return
	case err != nil || len(d) != 32:
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Invalid Base64 hash string parameter")
		return
	}
	tok, err := s.cfg.Timestamp(r.Context(), d, crypto.SHA256)
	if err != nil {
		s.log.ErrorContext(r.Context(), "timestamp", "err", err)
		writeError(w, http.StatusBadGateway, wire.ErrServer, "the time-stamp authority failed")
		return
	}
	writeJSON(w, http.StatusOK, wire.TimestampResponse{Timestamp: b64(tok)})
}

// rdnNames are the short names of the attributes Vietnamese certificates carry; Go's
// pkix.Name.String shows UID as a hex OID, which a client cannot match a CCCD in.
var rdnNames = map[string]string{"2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.3": "CN", "2.5.4.5": "SERIALNUMBER", "0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "E"}

// dn is an RFC 4514 string of a DER Name, the last RDN first; unknown attributes as OIDs.
func dn(der []byte) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return ""
	}
	parts := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		for _, atv := range seq[i] {
			k := rdnNames[atv.Type.String()]
			if k == "" {
				k = atv.Type.String()
			}
			parts = append(parts, k+"="+escapeRDN(fmt.Sprint(atv.Value)))
		}
	}
	return strings.Join(parts, ",")
}

func escapeRDN(v string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, "+", `\+`, `"`, `\"`, "<", `\<`, ">", `\>`, ";", `\;`, "=", `\=`).Replace(v)
}
