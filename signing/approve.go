package signing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/motlan/motlan/internal/audit"
)

// The citizen side of a request: reading it for the approval page, approving, rejecting.

// owns reports whether the citizen may see and answer r: its CitizenID once set, else the
// citizen's pairwise subject at the request's client.
func owns(r Request, citizenID string, subjectForClient func(string) string) bool {
	if citizenID == "" {
		return false
	}
	if r.CitizenID != "" {
		return r.CitizenID == citizenID
	}
	return r.Subject != "" && subjectForClient != nil && subjectForClient(r.ClientID) == r.Subject
}

// ForApproval returns the request for the citizen's approval page, in whatever status it
// is; ErrForbidden when it is not theirs. The caller has checked the citizen's fresh
// level-2 login.
func (s *Service) ForApproval(ctx context.Context, id, citizenID string, subjectForClient func(clientID string) string) (Request, error) {
	r, err := s.cfg.Store.GetSigningRequest(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if !owns(r, citizenID, subjectForClient) {
		return Request{}, ErrForbidden
	}
	return s.expireIfDue(ctx, r)
}

// OriginalPDF returns a document as submitted, for the citizen to read before approving.
func (s *Service) OriginalPDF(ctx context.Context, id string, index int, citizenID string, subjectForClient func(string) string) ([]byte, error) {
	r, err := s.ForApproval(ctx, id, citizenID, subjectForClient)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(r.Documents) {
		return nil, fmt.Errorf("signing: no document %d: %w", index, ErrNotFound)
	}
	return s.cfg.Store.OriginalPDF(ctx, id, index)
}

// Approve is the citizen's approval of exactly the documents whose hashes they were shown
// (hashes[i] is Documents[i].SHA256, hex, any case): ErrMismatch otherwise. Of racing
// approvals one wins; the rest get ErrNotPending (ErrExpired past ExpiresAt). The winner
// starts the signing run, under a context that the caller's cancellation does not end,
// and gets the request signed or failed when the run ends within ApprovalWait; otherwise
// (or when the caller goes away) the request still signing, while the run goes on. When
// signing hits a passing fault (the vault, the TSA, the store), the request stays signing
// and Resume finishes it later; Approve then returns it, signing, without error.
func (s *Service) Approve(ctx context.Context, id, citizenID string, subjectForClient func(string) string, hashes []string) (Request, error) {
	return s.ApproveWith(ctx, id, citizenID, subjectForClient, hashes, Activation{})
}

// ApproveWith is Approve with what the citizen typed for the backend's own step (a PIN or
// an OTP, see ActivationFor); act is never stored. A backend that authorises at the
// approval (Authorizer) gets it now: a wrong or missing code returns the request still
// pending with a *BackendError (FailureAuth, FailureActivation), so the page can ask again; the authorisation is sealed
// on the request, and the signing run only signs.
func (s *Service) ApproveWith(ctx context.Context, id, citizenID string, subjectForClient func(string) string, hashes []string, act Activation) (Request, error) {
	r, err := s.ForApproval(ctx, id, citizenID, subjectForClient)
	if err != nil {
		return Request{}, err
	}
	approved, err := matchHashes(r, hashes)
	if err != nil {
		return Request{}, err
	}
	pre, err := s.authorizeApproval(ctx, r, citizenID, approved, act)
	if err != nil {
		return s.approvalRefused(ctx, r, citizenID, err)
	}
	worker := s.newWorker()
	now := s.now()
	r, err = s.answer(ctx, id, func(old Request) (Request, error) {
		old.Status, old.CitizenID, old.ApprovedHashes = StatusSigning, citizenID, approved
		old.Worker, old.LeaseUntil, old.Attempts = worker, now.Add(s.cfg.Lease), 1
		pre.apply(&old)
		return old, nil
	}, recordAct{audit.KindSigningApprove, audit.Citizen(citizenID), StatusSigning})
	if err != nil {
		return r, err
	}
	s.log.InfoContext(ctx, "signing request approved", "request", id)
	s.notify(id)
	return s.signAnswering(ctx, r, worker, act)
}

// signAnswering runs the approval's signing and waits for it at most ApprovalWait: past
// that, or when the caller goes away, the request is returned still signing (the page
// says "đang ký") and the run goes on in the background. The run ignores the caller's
// cancellation; Close cancels it, and the interrupted run hands the request back for
// Resume.
func (s *Service) signAnswering(ctx context.Context, r Request, worker string, act Activation) (Request, error) {
	type result struct {
		r   Request
		err error
	}
	signCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	stopOnClose := context.AfterFunc(s.bg, cancel)
	run := func() result {
		defer cancel()
		defer stopOnClose()
		out, err := s.sign(signCtx, r, worker, act)
		return result{out, err}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		res := run()
		return res.r, res.err
	}
	done := make(chan result, 1)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		done <- run()
	}()
	wait := time.NewTimer(s.cfg.ApprovalWait)
	defer wait.Stop()
	select {
	case res := <-done:
		return res.r, res.err
	case <-wait.C:
	case <-ctx.Done():
	}
	s.log.InfoContext(ctx, "signing goes on after the approval's answer", "request", r.ID)
	return r, nil
}

// Reject is the citizen's refusal; the same checks as Approve.
func (s *Service) Reject(ctx context.Context, id, citizenID string, subjectForClient func(string) string) (Request, error) {
	if _, err := s.ForApproval(ctx, id, citizenID, subjectForClient); err != nil {
		return Request{}, err
	}
	r, err := s.answer(ctx, id, func(old Request) (Request, error) {
		old.Status, old.CitizenID = StatusRejected, citizenID
		return old, nil
	}, recordAct{audit.KindSigningReject, audit.Citizen(citizenID), StatusRejected})
	if err != nil {
		return r, err
	}
	s.log.InfoContext(ctx, "signing request rejected", "request", id)
	s.ended(r)
	return r, nil
}

// answer moves a pending request on with fn, recording act with it, or expires it when
// its time is up.
func (s *Service) answer(ctx context.Context, id string, fn func(Request) (Request, error), act recordAct) (Request, error) {
	now := s.now()
	r, err := s.updateRecorded(ctx, id, func(old Request) (Request, error) {
		if old.Status != StatusPending {
			return old, ErrNotPending
		}
		if !now.Before(old.ExpiresAt) {
			old.Status = StatusExpired
			return old, nil
		}
		return fn(old)
	}, act)
	switch {
	case errors.Is(err, ErrFinal):
		if cur, gerr := s.cfg.Store.GetSigningRequest(ctx, id); gerr == nil && cur.Status == StatusExpired {
			return Request{}, ErrExpired
		}
		return Request{}, ErrNotPending
	case err != nil:
		return Request{}, err
	case r.Status == StatusExpired:
		s.ended(r)
		return Request{}, ErrExpired
	}
	return r, nil
}

func matchHashes(r Request, hashes []string) ([]string, error) {
	if len(hashes) != len(r.Documents) {
		return nil, fmt.Errorf("signing: %d hashes for %d documents: %w", len(hashes), len(r.Documents), ErrMismatch)
	}
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = strings.ToLower(strings.TrimSpace(h))
		if out[i] != r.Documents[i].SHA256 {
			return nil, fmt.Errorf("signing: document %d: %w", i, ErrMismatch)
		}
	}
	return out, nil
}
