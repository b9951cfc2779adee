package web

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/motlan/motlan/idp/store"
)

func TestFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		key    string
	}{
		{"store outage", fmt.Errorf("read session: %w", store.ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
		{"other", errors.New("boom"), http.StatusInternalServerError, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pe := Failure(tt.err); pe.Status != tt.status || pe.Key != tt.key || messages["vi"]["err."+pe.Key] == "" {
				t.Errorf("Failure(%v) = %+v, want %d %s with a message", tt.err, pe, tt.status, tt.key)
			}
		})
	}
}
