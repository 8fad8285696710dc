package deploy

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// composeFile is the subset of the Compose specification compose.yaml uses;
// decoding is strict, so a misspelt key fails here instead of being ignored
// by `docker compose`.
type composeFile struct {
	Name        string                    `json:"name"`
	XParedaoEnv map[string]string         `json:"x-paredao-env"`
	XParedao    composeService            `json:"x-paredao"`
	Services    map[string]composeService `json:"services"`
	Volumes     map[string]*struct{}      `json:"volumes"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build"`
	Command     []string          `json:"command"`
	Restart     string            `json:"restart"`
	ReadOnly    bool              `json:"read_only"`
	Tmpfs       []string          `json:"tmpfs"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	} `json:"healthcheck"`
	StopGracePeriod string `json:"stop_grace_period"`
}

// TestCompose: the services exist, wait for what they need, and set only
// variables the binary knows.
func TestCompose(t *testing.T) {
	b := knownBinary(t)
	path := filepath.Join("compose", "compose.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, s := range []string{"kafka", "postgres", "migrate", "web", "process", "sink"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("no service %s", s)
		}
	}
	kafka, pg := c.Services["kafka"], c.Services["postgres"]

	// Kafka: one KRaft node, no ZooKeeper, healthy when it answers.
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") {
		t.Errorf("kafka image %q, want apache/kafka", kafka.Image)
	}
	roles := strings.Split(kafka.Environment["KAFKA_PROCESS_ROLES"], ",")
	if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES %v, want broker and controller (KRaft)", roles)
	}
	for k := range kafka.Environment {
		if strings.Contains(k, "ZOOKEEPER") {
			t.Errorf("kafka: %s: KRaft has no ZooKeeper", k)
		}
	}
	if !strings.HasPrefix(pg.Image, "postgres:16") {
		t.Errorf("postgres image %q, want postgres:16", pg.Image)
	}
	for name, s := range map[string]composeService{"kafka": kafka, "postgres": pg} {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
			t.Errorf("%s: no healthcheck", name)
		}
	}

	// The paredao services.
	need := map[string]map[string]string{
		"migrate": {"postgres": "service_healthy"},
		"web":     {"kafka": "service_healthy", "migrate": "service_completed_successfully"},
		"process": {"kafka": "service_healthy"},
		"sink":    {"kafka": "service_healthy", "migrate": "service_completed_successfully"},
	}
	for name, deps := range need {
		s := c.Services[name]
		if len(s.Command) != 1 || s.Command[0] != name {
			t.Errorf("%s: command %v, want [%s]", name, s.Command, name)
		}
		if !slices.Contains(b.commands, s.Command[0]) {
			t.Errorf("%s: %q is not a paredao command %v", name, s.Command[0], b.commands)
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: not built from deploy/Dockerfile", name)
		} else {
			ctx := filepath.Join("compose", s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil {
				t.Errorf("%s: build context %s is not the repository root: %v", name, s.Build.Context, err)
			}
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if s.Image != c.Services["web"].Image {
			t.Errorf("%s: image %q differs from web's %q", name, s.Image, c.Services["web"].Image)
		}
		for dep, cond := range deps {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s: depends_on %s condition %q, want %q", name, dep, got, cond)
			}
		}
		env := s.Environment
		for k := range env {
			if !b.env[k] {
				t.Errorf("%s: environment variable %s is not a flag of the binary (%s)", name, k, configFile)
			}
		}
		if name != "migrate" {
			addr := env["PAREDAO_ADMIN_ADDR"]
			if n, loop, ok := listenPort(addr); !ok || loop || n != adminPort {
				t.Errorf("%s: PAREDAO_ADMIN_ADDR=%q: other containers and the published port cannot reach it", name, addr)
			}
			// One broker: the binary's default replication (3) cannot be met.
			if env["PAREDAO_REPLICATION"] != "1" {
				t.Errorf("%s: PAREDAO_REPLICATION=%q with one Kafka broker, want 1", name, env["PAREDAO_REPLICATION"])
			}
			host, port, err := net.SplitHostPort(env["PAREDAO_KAFKA_BROKERS"])
			if err != nil || host != "kafka" || !strings.Contains(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], "//kafka:"+port) {
				t.Errorf("%s: PAREDAO_KAFKA_BROKERS=%q is not kafka's advertised listener %q", name, env["PAREDAO_KAFKA_BROKERS"], kafka.Environment["KAFKA_ADVERTISED_LISTENERS"])
			}
		}
		if name != "process" {
			u, err := url.Parse(env["PAREDAO_DATABASE_URL"])
			if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" || u.User.Username() != pg.Environment["POSTGRES_USER"] || strings.TrimPrefix(u.Path, "/") != pg.Environment["POSTGRES_DB"] {
				t.Errorf("%s: PAREDAO_DATABASE_URL %q does not match the postgres service", name, env["PAREDAO_DATABASE_URL"])
			} else if p, _ := u.User.Password(); p != pg.Environment["POSTGRES_PASSWORD"] {
				t.Errorf("%s: PAREDAO_DATABASE_URL password differs from POSTGRES_PASSWORD", name)
			}
		}
	}
	web := c.Services["web"].Environment
	// The secrets are never in the file: compose takes them from its own
	// environment and refuses to start without them.
	for _, k := range []string{"PAREDAO_SECRET", "PAREDAO_PRODUCTION_TOKEN"} {
		if !strings.HasPrefix(web[k], "${"+k+":?") {
			t.Errorf("web: %s = %q, want ${%s:?...} (required from the environment)", k, web[k], k)
		}
	}
	if c.Services["migrate"].Restart != "no" {
		t.Errorf("migrate: restart %q, want \"no\" (a one-shot)", c.Services["migrate"].Restart)
	}
	if !slices.ContainsFunc(c.Services["process"].Volumes, func(v string) bool {
		return strings.HasSuffix(v, ":"+c.Services["process"].Environment["PAREDAO_DATA_DIR"])
	}) {
		t.Errorf("process: PAREDAO_DATA_DIR is not on a volume: the processors' state would be lost")
	}
}

// TestComposeLoads loads compose.yaml with compose-go, the loader of
// `docker compose`: schema validation, interpolation, merge keys. Without the
// secrets in the environment it must refuse.
func TestComposeLoads(t *testing.T) {
	load := func(env []string) (*types.Project, error) {
		opts, err := cli.NewProjectOptions([]string{filepath.Join("compose", "compose.yaml")},
			cli.WithEnv(env), cli.WithName("paredao"))
		if err != nil {
			return nil, err
		}
		return opts.LoadProject(context.Background())
	}
	secret := strings.Repeat("s", 32)
	p, err := load([]string{"PAREDAO_SECRET=" + secret, "PAREDAO_PRODUCTION_TOKEN=token"})
	if err != nil {
		t.Fatalf("docker compose would reject compose.yaml: %v", err)
	}
	web, err := p.GetService("web")
	if err != nil {
		t.Fatal(err)
	}
	if v := web.Environment["PAREDAO_SECRET"]; v == nil || *v != secret {
		t.Errorf("web: PAREDAO_SECRET is not taken from the environment: %v", v)
	}
	for _, name := range []string{"migrate", "web", "process", "sink"} {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Build == nil || s.Build.Context == "" {
			t.Errorf("%s: no build", name)
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: Dockerfile: %v", name, err)
		}
	}
	if _, err := load(nil); err == nil || !strings.Contains(err.Error(), "PAREDAO_SECRET") {
		t.Errorf("compose.yaml loads without PAREDAO_SECRET (err = %v): the secret must be required", err)
	}
}
