package server

import (
	"testing"
	"time"

	"github.com/motlan/motlan/internal/config"
)

func TestMaxTokenLifetime(t *testing.T) {
	tests := []struct {
		name string
		in   config.Tokens
		want time.Duration
	}{
		{"defaults", config.Tokens{}, 10 * time.Minute},
		{"long ID tokens", config.Tokens{IDToken: config.Duration(time.Hour)}, time.Hour},
		{"long access tokens", config.Tokens{AccessToken: config.Duration(30 * time.Minute), IDToken: config.Duration(5 * time.Minute)}, 30 * time.Minute},
		{"short tokens: logout tokens live 2m", config.Tokens{AccessToken: config.Duration(time.Minute), IDToken: config.Duration(time.Minute)}, 2 * time.Minute},
		{"refresh tokens are opaque: not counted", config.Tokens{OfflineRefresh: config.Duration(720 * time.Hour)}, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxTokenLifetime(tt.in); got != tt.want {
				t.Errorf("maxTokenLifetime = %v, want %v", got, tt.want)
			}
		})
	}
}
