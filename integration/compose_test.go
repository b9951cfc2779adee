package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/motlan/motlan/internal/config"
)

// composeFile is what TestComposeFile reads of docker-compose.yml.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		NetworkMode string            `yaml:"network_mode"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// TestComposeFile checks docker-compose.yml without a Docker engine: two Motlan replicas
// with valid configurations on one PostgreSQL, nginx balancing over exactly their public
// listeners, Prometheus scraping exactly their admin listeners, every mounted file in the
// repository, and no secret in any committed file (only ${VAR} references to .env, which
// git ignores; .env.example holds placeholders).
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"db", "proxy", "motlan-1", "motlan-2", "prometheus", "eid", "portal"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	mounts := map[string]string{} // container path -> repository file, per service below
	var listens, admins []string
	for name, svc := range c.Services {
		if svc.NetworkMode != "" && svc.NetworkMode != "service:proxy" {
			t.Errorf("%s: network_mode %q", name, svc.NetworkMode)
		}
		if svc.NetworkMode != "" && len(svc.Ports) > 0 {
			t.Errorf("%s: ports belong on the proxy, whose network namespace it shares", name)
		}
		clear(mounts)
		for _, v := range svc.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			dst, _, _ = strings.Cut(dst, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
				mounts[dst] = filepath.Join("..", src)
			}
		}
		for k, v := range svc.Environment {
			if secretName(k) && !strings.Contains(v, "${") {
				t.Errorf("%s: %s is a literal in docker-compose.yml; take it from .env", name, k)
			}
		}
		if !strings.HasPrefix(name, "motlan-") {
			continue
		}
		if svc.Build == nil || len(svc.Command) < 3 || svc.Command[0] != "serve" || svc.Command[1] != "--config" {
			t.Fatalf("%s: not built here or not `serve --config`: %v", name, svc.Command)
		}
		file, ok := mounts[svc.Command[2]]
		if !ok {
			t.Fatalf("%s: its configuration %s is not mounted from the repository", name, svc.Command[2])
		}
		for _, env := range []string{"MOTLAN_DB_DSN", "MOTLAN_MASTER_KEY", "MOTLAN_EID_CLIENT_SECRET", "MOTLAN_PORTAL_SECRET"} {
			t.Setenv(env, strings.Repeat("x", 40)) // a stand-in long enough for config.Load
		}
		cfg, err := config.Load(file)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, file, err)
		}
		if cfg.Storage.Driver != "postgres" || cfg.Storage.DSN.Env != "MOTLAN_DB_DSN" || cfg.Secrets.MasterKey.Env != "MOTLAN_MASTER_KEY" {
			t.Errorf("%s: store %s (%+v), master key %+v: the replicas must share PostgreSQL and the master key from the environment",
				name, cfg.Storage.Driver, cfg.Storage.DSN, cfg.Secrets.MasterKey)
		}
		if cfg.Admin.Listen == "" {
			t.Errorf("%s: no admin listener", name)
		}
		listens, admins = append(listens, cfg.Listen), append(admins, cfg.Admin.Listen)
	}
	if len(listens) != 2 {
		t.Fatalf("%d Motlan replicas, want 2", len(listens))
	}
	if listens[0] == listens[1] || admins[0] == admins[1] {
		t.Errorf("the replicas share a network namespace and must not share ports: %v %v", listens, admins)
	}

	checkNginx(t, listens)
	checkPrometheus(t, admins)
	checkEnvExample(t)
}

// checkNginx: nginx balances over exactly the replicas' public listeners.
func checkNginx(t *testing.T, listens []string) {
	t.Helper()
	nginx, err := os.ReadFile("../deploy/compose/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	upstream := regexp.MustCompile(`(?s)upstream motlan \{(.*?)\}`).FindSubmatch(nginx)
	if upstream == nil {
		t.Fatal("nginx.conf has no upstream motlan")
	}
	var servers []string
	for _, m := range regexp.MustCompile(`server\s+(\S+?)[\s;]`).FindAllSubmatch(upstream[1], -1) {
		servers = append(servers, string(m[1]))
	}
	sameSet(t, "nginx upstream servers vs the replicas' listen", servers, listens)
}

// checkPrometheus: Prometheus scrapes exactly the replicas' admin listeners.
func checkPrometheus(t *testing.T, admins []string) {
	t.Helper()
	var prom struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	praw, err := os.ReadFile("../deploy/compose/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(praw, &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	sameSet(t, "Prometheus targets vs the replicas' admin.listen", targets, admins)
}

// checkEnvExample: .env.example holds placeholders only, and .env is git-ignored.
func checkEnvExample(t *testing.T) {
	t.Helper()
	env, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(v, "replace-me") {
			t.Errorf(".env.example: %s must be a replace-me placeholder", k)
		}
	}
	if out, err := exec.Command("git", "check-ignore", "-q", "../.env").CombinedOutput(); err != nil {
		t.Errorf(".env is not git-ignored: %v %s", err, out)
	}
}

// secretName reports whether an environment variable holds a secret.
func secretName(k string) bool {
	for _, s := range []string{"SECRET", "PASSWORD", "KEY", "DSN"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// sameSet compares host:port lists, a wildcard host matching loopback.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	norm := func(in []string) []string {
		var out []string
		for _, a := range in {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				t.Errorf("%s: %q is not host:port", what, a)
			}
			if host == "" || host == "0.0.0.0" || host == "localhost" {
				host = "127.0.0.1"
			}
			out = append(out, net.JoinHostPort(host, port))
		}
		slices.Sort(out)
		return out
	}
	if g, w := norm(got), norm(want); !slices.Equal(g, w) {
		t.Errorf("%s: %v, want %v", what, g, w)
	}
}
