package config

import "testing"

func TestAdminValidate(t *testing.T) {
	tests := []struct {
		name, public, admin string
		ok                  bool
	}{
		{"off", ":8080", "", true},
		{"loopback", ":8080", "127.0.0.1:9090", true},
		{"private network", ":8080", "10.0.0.5:9090", true},
		{"free port", "127.0.0.1:0", "127.0.0.1:0", true},
		{"the public port", ":8080", "127.0.0.1:8080", false},
		{"no port", ":8080", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := (Admin{Listen: tt.admin}).validate(tt.public); (len(errs) == 0) != tt.ok {
				t.Errorf("admin.listen %q beside listen %q: %v, want ok %v", tt.admin, tt.public, errs, tt.ok)
			}
		})
	}
}
