package deploy

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	adminPort     = 9090
	adminPortName = "admin"
	httpPort      = 8080
	httpPortName  = "http"
	// day in milliseconds: the streams' retention is counted in days.
	day = 24 * 60 * 60 * 1000
	// monitoringNamespace may scrape the admin port.
	monitoringNamespace = "monitoring"
)

// overlays are the kustomizations an operator applies, with what each must
// produce. Zero means "not set": an autoscaler owns the count.
var overlays = []struct {
	dir            string
	webReplicas    int32 // fixed web replicas (no HPA)
	hpaMin, hpaMax int32
	processors     int32 // StatefulSet replicas (no KEDA)
	kedaMin        int32
	kedaMax        int32
	partitions     int
	sinks          int32
	externalSecret bool // secrets from an ExternalSecret, no placeholder
}{
	{dir: "overlays/dev", webReplicas: 1, processors: 1, partitions: 12, sinks: 1},
	{dir: "overlays/prod", hpaMin: 4, hpaMax: 40, processors: 6, partitions: 48, sinks: 2, externalSecret: true},
	{dir: "overlays/prod-keda", hpaMin: 4, hpaMax: 40, kedaMin: 6, kedaMax: 48, partitions: 48, sinks: 2, externalSecret: true},
}

// workload is a Deployment, StatefulSet or Job with its pod template.
type workload struct {
	kind, name  string
	command     string // first argument of the paredao container
	labels      map[string]string
	pod         corev1.PodSpec
	replicas    *int32
	longRunning bool            // probes required
	claims      map[string]bool // volumeClaimTemplates (StatefulSet)
}

func (r *rendered) workloads() []workload {
	var out []workload
	for _, d := range r.deployments {
		out = append(out, workload{kind: "Deployment", name: d.Name, labels: d.Spec.Template.Labels, pod: d.Spec.Template.Spec, replicas: d.Spec.Replicas, longRunning: true})
	}
	for _, s := range r.statefulSets {
		claims := map[string]bool{}
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims[c.Name] = true
		}
		out = append(out, workload{kind: "StatefulSet", name: s.Name, labels: s.Spec.Template.Labels, pod: s.Spec.Template.Spec, replicas: s.Spec.Replicas, longRunning: true, claims: claims})
	}
	for _, j := range r.jobs {
		out = append(out, workload{kind: "Job", name: j.Name, labels: j.Spec.Template.Labels, pod: j.Spec.Template.Spec})
	}
	for i := range out {
		for _, c := range out[i].pod.Containers {
			if len(c.Args) > 0 && out[i].command == "" {
				out[i].command = c.Args[0]
			}
		}
	}
	return out
}

// only returns the one workload of kind running command, failing otherwise.
func only(t *testing.T, ws []workload, kind, command string) workload {
	t.Helper()
	var found []workload
	for _, w := range ws {
		if w.kind == kind && w.command == command {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s running `paredao %s`, got %d", kind, command, len(found))
	}
	return found[0]
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return false
	}
	return s.Matches(labels.Set(podLabels))
}

func (r *rendered) configMap(name string) *corev1.ConfigMap {
	for i := range r.configMaps {
		if r.configMaps[i].Name == name {
			return &r.configMaps[i]
		}
	}
	return nil
}

// env is the environment a container starts with: envFrom, then env (which
// wins). Values from Secrets are "<secret NAME/KEY>".
func (r *rendered) env(t *testing.T, where string, c corev1.Container) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := r.configMap(from.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("%s: envFrom ConfigMap %q is not rendered", where, from.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				out[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			keys, err := r.secretKeys(from.SecretRef.Name)
			if err != nil {
				t.Errorf("%s: envFrom: %v", where, err)
			}
			for _, k := range keys {
				out[from.Prefix+k] = "<secret " + from.SecretRef.Name + "/" + k + ">"
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if err := r.secretHasKey(ref.Name, ref.Key); err != nil {
				t.Errorf("%s: env %s: %v", where, e.Name, err)
			}
			out[e.Name] = "<secret " + ref.Name + "/" + ref.Key + ">"
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := r.configMap(ref.Name)
			if cm == nil {
				t.Errorf("%s: env %s: ConfigMap %q is not rendered", where, e.Name, ref.Name)
				continue
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				t.Errorf("%s: env %s: ConfigMap %q has no key %q", where, e.Name, ref.Name, ref.Key)
			}
			out[e.Name] = v
		default:
			out[e.Name] = "<field>"
		}
	}
	return out
}

// cnpgAppKeys are the keys CloudNativePG writes into the <cluster>-app Secret.
var cnpgAppKeys = []string{"username", "password", "host", "port", "dbname", "uri", "jdbc-uri", "pgpass", "fqdn-uri", "fqdn-jdbc-uri"}

// secretKeys lists the keys of a Secret that will exist in the cluster: one
// rendered here, one an ExternalSecret creates, or CloudNativePG's app Secret.
func (r *rendered) secretKeys(secret string) ([]string, error) {
	for _, s := range r.secrets {
		if s.Name == secret {
			var keys []string
			for k := range s.Data {
				keys = append(keys, k)
			}
			for k := range s.StringData {
				keys = append(keys, k)
			}
			return keys, nil
		}
	}
	for _, es := range r.custom["ExternalSecret"] {
		target := pathString(es, "spec", "target", "name")
		if target == "" {
			target = name(es)
		}
		if target != secret {
			continue
		}
		var keys []string
		for _, d := range pathList(es, "spec", "data") {
			if m, ok := d.(map[string]any); ok {
				keys = append(keys, pathString(m, "secretKey"))
			}
		}
		return keys, nil
	}
	for _, c := range r.custom["Cluster"] {
		if name(c)+"-app" == secret {
			return cnpgAppKeys, nil
		}
	}
	return nil, &missingSecretError{secret}
}

type missingSecretError struct{ name string }

func (e *missingSecretError) Error() string {
	return "Secret " + e.name + " is neither rendered, nor an ExternalSecret's target, nor a CloudNativePG app Secret"
}

func (r *rendered) secretHasKey(name, key string) error {
	keys, err := r.secretKeys(name)
	if err != nil {
		return err
	}
	if !contains(keys, key) {
		return &missingKeyError{name, key, keys}
	}
	return nil
}

type missingKeyError struct {
	name, key string
	keys      []string
}

func (e *missingKeyError) Error() string {
	return "Secret " + e.name + " has no key " + e.key + " (has " + strings.Join(e.keys, ", ") + ")"
}

func containerPort(c corev1.Container, port intstr.IntOrString) (int32, bool) {
	for _, p := range c.Ports {
		if port.Type == intstr.String && p.Name == port.StrVal {
			return p.ContainerPort, true
		}
		if port.Type == intstr.Int && p.ContainerPort == port.IntVal {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func hasPort(c corev1.Container, name string, number int32) bool {
	for _, p := range c.Ports {
		if p.Name == name && p.ContainerPort == number {
			return true
		}
	}
	return false
}

// listenPort checks a listen address such as "0.0.0.0:9090" or ":8080" and
// returns its port; loopback tells whether only the pod itself could connect.
func listenPort(addr string) (port int, loopback bool, ok bool) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false, false
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0, false, false
	}
	if host == "localhost" {
		return n, true, true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return n, true, true
	}
	return n, false, true
}

func TestOverlays(t *testing.T) {
	b := knownBinary(t)
	top := readTopology(t)
	for _, o := range overlays {
		t.Run(filepath.Base(o.dir), func(t *testing.T) {
			r := render(t, o.dir)
			ws := r.workloads()
			web := only(t, ws, "Deployment", "web")
			proc := only(t, ws, "StatefulSet", "process")
			sink := only(t, ws, "Deployment", "sink")
			only(t, ws, "Job", "migrate")

			t.Run("namespace", func(t *testing.T) { checkNamespaced(t, r) })
			t.Run("containers", func(t *testing.T) { checkContainers(t, r, ws, b) })
			t.Run("services", func(t *testing.T) { checkServices(t, r, ws, web) })
			t.Run("networkpolicy", func(t *testing.T) { checkNetworkPolicies(t, r, ws) })
			t.Run("web scaling", func(t *testing.T) {
				checkWebScaling(t, r, web, o.webReplicas, o.hpaMin, o.hpaMax)
				if got := replicas(sink.replicas); got != o.sinks {
					t.Errorf("sink replicas = %d, want %d", got, o.sinks)
				}
			})
			t.Run("disruption budgets", func(t *testing.T) { checkPDBs(t, r, ws, web, proc) })
			t.Run("kafka", func(t *testing.T) { checkKafka(t, r, proc, top, o.partitions, o.processors, o.kedaMin, o.kedaMax) })
			t.Run("postgres", func(t *testing.T) { checkPostgres(t, r, ws) })
			t.Run("secrets", func(t *testing.T) { checkSecrets(t, r, o.externalSecret) })
			t.Run("podmonitor", func(t *testing.T) { checkPodMonitors(t, r, ws) })
		})
	}
}

func replicas(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func checkNamespaced(t *testing.T, r *rendered) {
	ns := func(kind, name, got string) {
		if got != r.namespace {
			t.Errorf("%s %s: namespace %q, want %q", kind, name, got, r.namespace)
		}
	}
	for _, x := range r.serviceAccounts {
		ns("ServiceAccount", x.Name, x.Namespace)
	}
	for _, x := range r.configMaps {
		ns("ConfigMap", x.Name, x.Namespace)
	}
	for _, x := range r.secrets {
		ns("Secret", x.Name, x.Namespace)
	}
	for _, x := range r.services {
		ns("Service", x.Name, x.Namespace)
	}
	for _, x := range r.deployments {
		ns("Deployment", x.Name, x.Namespace)
	}
	for _, x := range r.statefulSets {
		ns("StatefulSet", x.Name, x.Namespace)
	}
	for _, x := range r.jobs {
		ns("Job", x.Name, x.Namespace)
	}
	for _, x := range r.hpas {
		ns("HorizontalPodAutoscaler", x.Name, x.Namespace)
	}
	for _, x := range r.pdbs {
		ns("PodDisruptionBudget", x.Name, x.Namespace)
	}
	for _, x := range r.netpols {
		ns("NetworkPolicy", x.Name, x.Namespace)
	}
	for kind, list := range r.custom {
		for _, x := range list {
			ns(kind, name(x), pathString(x, "metadata", "namespace"))
		}
	}
}

// checkContainers: what every paredao container must satisfy.
func checkContainers(t *testing.T, r *rendered, ws []workload, b binary) {
	var image string
	for _, w := range ws {
		if w.pod.SecurityContext == nil || w.pod.SecurityContext.RunAsNonRoot == nil || !*w.pod.SecurityContext.RunAsNonRoot {
			t.Errorf("%s %s: pod securityContext.runAsNonRoot must be true", w.kind, w.name)
		}
		if sc := w.pod.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
			t.Errorf("%s %s: pod securityContext.runAsUser must be 65532 (distroless nonroot)", w.kind, w.name)
		}
		if w.pod.ServiceAccountName != "" {
			found := false
			for _, sa := range r.serviceAccounts {
				found = found || sa.Name == w.pod.ServiceAccountName
			}
			if !found {
				t.Errorf("%s %s: ServiceAccount %q is not rendered", w.kind, w.name, w.pod.ServiceAccountName)
			}
		}
		if w.kind == "Job" && w.pod.RestartPolicy != corev1.RestartPolicyOnFailure && w.pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("Job %s: restartPolicy %q", w.name, w.pod.RestartPolicy)
		}
		mounts := map[string]string{} // mount path -> volume
		for _, c := range append(append([]corev1.Container{}, w.pod.InitContainers...), w.pod.Containers...) {
			where := w.kind + " " + w.name + " container " + c.Name
			if image == "" {
				image = c.Image
			}
			if c.Image != image {
				t.Errorf("%s: image %q, other containers run %q: all tiers must run the same build", where, c.Image, image)
			}
			if i := strings.LastIndex(c.Image, ":"); i < 0 || strings.Contains(c.Image[i:], "/") || c.Image[i+1:] == "latest" {
				t.Errorf("%s: image %q has no fixed tag", where, c.Image)
			}
			if len(c.Command) > 0 {
				t.Errorf("%s: command %v replaces the image's ENTRYPOINT /paredao; use args", where, c.Command)
			}
			if len(c.Args) == 0 || !contains(b.commands, c.Args[0]) {
				t.Errorf("%s: args %v: the first must be a paredao command %v", where, c.Args, b.commands)
			}
			sc := c.SecurityContext
			if sc == nil {
				t.Errorf("%s: no securityContext", where)
			} else {
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Errorf("%s: readOnlyRootFilesystem must be true", where)
				}
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s: allowPrivilegeEscalation must be false", where)
				}
				if sc.Capabilities == nil || !contains(sc.Capabilities.Drop, corev1.Capability("ALL")) {
					t.Errorf("%s: capabilities must drop ALL", where)
				}
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("%s: no %s request", where, res)
				}
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				t.Errorf("%s: no memory limit", where)
			}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}

			env := r.env(t, where, c)
			for k := range env {
				if !b.env[k] {
					t.Errorf("%s: environment variable %s is not a flag of the binary (%s)", where, k, configFile)
				}
			}
			checkProbes(t, where, c, w.longRunning)
			checkListeners(t, where, c, env)
			checkDataDir(t, where, w, mounts, env)
			checkCommandEnv(t, where, c.Args, env)
		}
	}
}

// checkProbes: every probe asks the admin listener over HTTP (the image has
// no shell for exec probes, and the public port serves no health endpoints).
func checkProbes(t *testing.T, where string, c corev1.Container, required bool) {
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
	wantPath := map[string]string{"liveness": "/healthz", "readiness": "/readyz", "startup": "/healthz"}
	for kind, p := range probes {
		if p == nil {
			if required && kind != "startup" {
				t.Errorf("%s: no %s probe", where, kind)
			}
			continue
		}
		if p.HTTPGet == nil {
			t.Errorf("%s: %s probe is not an httpGet on the admin port", where, kind)
			continue
		}
		port := p.HTTPGet.Port
		ok := (port.Type == intstr.String && port.StrVal == adminPortName) || (port.Type == intstr.Int && port.IntVal == adminPort)
		if !ok {
			t.Errorf("%s: %s probe targets port %s, want %q or %d", where, kind, port.String(), adminPortName, adminPort)
		}
		if n, found := containerPort(c, port); !found || n != adminPort {
			t.Errorf("%s: %s probe port %s is not the container's admin port %d", where, kind, port.String(), adminPort)
		}
		if p.HTTPGet.Path != wantPath[kind] {
			t.Errorf("%s: %s probe path %q, want %q", where, kind, p.HTTPGet.Path, wantPath[kind])
		}
	}
}

// checkListeners: the ports the binary listens on are the ports the
// container declares, and the admin listener is not bound to loopback (the
// binary's default), or probes and Prometheus could not reach it.
func checkListeners(t *testing.T, where string, c corev1.Container, env map[string]string) {
	for _, p := range c.Ports {
		switch p.Name {
		case adminPortName:
			addr, ok := env["PAREDAO_ADMIN_ADDR"]
			if !ok {
				t.Errorf("%s: declares the admin port but PAREDAO_ADMIN_ADDR is unset (default 127.0.0.1:9090)", where)
				continue
			}
			n, loop, ok := listenPort(addr)
			if !ok || n != int(p.ContainerPort) || loop || p.ContainerPort != adminPort {
				t.Errorf("%s: PAREDAO_ADMIN_ADDR=%q does not listen on the pod IP at port %d", where, addr, p.ContainerPort)
			}
		case httpPortName:
			addr := env["PAREDAO_HTTP_ADDR"]
			if addr == "" {
				addr = ":8080"
			}
			n, loop, ok := listenPort(addr)
			if !ok || n != int(p.ContainerPort) || loop || p.ContainerPort != httpPort {
				t.Errorf("%s: PAREDAO_HTTP_ADDR=%q does not listen on the pod IP at port %d", where, addr, p.ContainerPort)
			}
		default:
			t.Errorf("%s: unexpected container port %q", where, p.Name)
		}
	}
}

// checkDataDir: with a read-only root filesystem, PAREDAO_DATA_DIR must be on
// a volume; the processors' must be on a volumeClaimTemplate, or their state
// is lost with the pod.
func checkDataDir(t *testing.T, where string, w workload, mounts map[string]string, env map[string]string) {
	dir, ok := env["PAREDAO_DATA_DIR"]
	if !ok || !strings.HasPrefix(dir, "/") {
		t.Errorf("%s: PAREDAO_DATA_DIR=%q must be an absolute path on a volume (root filesystem is read-only)", where, dir)
		return
	}
	volume := ""
	best := ""
	for mp, v := range mounts {
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, volume = mp, v
		}
	}
	if volume == "" {
		t.Errorf("%s: PAREDAO_DATA_DIR=%s is on no volume mount", where, dir)
		return
	}
	if w.kind == "StatefulSet" && !w.claims[volume] {
		t.Errorf("%s: PAREDAO_DATA_DIR=%s is on volume %q, not on a volumeClaimTemplate", where, dir, volume)
	}
}

// checkCommandEnv: what each command needs to start (cmd/paredao/config.go
// Validate, and the tiers' dependencies).
func checkCommandEnv(t *testing.T, where string, args []string, env map[string]string) {
	if len(args) == 0 {
		return
	}
	need := map[string][]string{
		"web":     {"PAREDAO_KAFKA_BROKERS", "PAREDAO_SECRET", "PAREDAO_PRODUCTION_TOKEN", "PAREDAO_DATABASE_URL", "PAREDAO_PARTITIONS"},
		"process": {"PAREDAO_KAFKA_BROKERS", "PAREDAO_PARTITIONS"},
		"sink":    {"PAREDAO_KAFKA_BROKERS", "PAREDAO_DATABASE_URL"},
		"migrate": {"PAREDAO_DATABASE_URL"},
	}[args[0]]
	for _, k := range need {
		if env[k] == "" {
			t.Errorf("%s: `paredao %s` needs %s", where, args[0], k)
		}
	}
	// Secrets never appear as plain values in a manifest.
	for _, k := range []string{"PAREDAO_SECRET", "PAREDAO_PRODUCTION_TOKEN", "PAREDAO_DATABASE_URL"} {
		if v, ok := env[k]; ok && !strings.HasPrefix(v, "<secret ") {
			t.Errorf("%s: %s is a plain value, want a secretKeyRef", where, k)
		}
	}
}

func podsSelectedBy(ws []workload, sel *metav1.LabelSelector) []workload {
	var out []workload
	for _, w := range ws {
		if selects(sel, w.labels) {
			out = append(out, w)
		}
	}
	return out
}

func checkServices(t *testing.T, r *rendered, ws []workload, web workload) {
	webServices := 0
	for _, s := range r.services {
		sel := &metav1.LabelSelector{MatchLabels: s.Spec.Selector}
		pods := podsSelectedBy(ws, sel)
		if len(pods) == 0 {
			t.Errorf("Service %s selects no pods (selector %v)", s.Name, s.Spec.Selector)
			continue
		}
		isWeb := false
		for _, p := range pods {
			isWeb = isWeb || p.name == web.name && p.kind == web.kind
		}
		if isWeb {
			webServices++
		}
		external := s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort
		for _, port := range s.Spec.Ports {
			target := port.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(port.Port)
			}
			for _, p := range pods {
				n, ok := containerPort(p.pod.Containers[0], target)
				if !ok {
					t.Errorf("Service %s port %s: target %s is no port of %s %s", s.Name, port.Name, target.String(), p.kind, p.name)
					continue
				}
				if n == adminPort && external {
					t.Errorf("Service %s (type %s) exposes the admin port", s.Name, s.Spec.Type)
				}
				if isWeb && n != httpPort {
					t.Errorf("Service %s selects the web pods and exposes port %d: only http (%d) may be", s.Name, n, httpPort)
				}
			}
		}
	}
	if webServices != 1 {
		t.Errorf("want one Service for the web pods, got %d", webServices)
	}
	for _, s := range r.statefulSets {
		var svc *corev1.Service
		for i := range r.services {
			if r.services[i].Name == s.Spec.ServiceName {
				svc = &r.services[i]
			}
		}
		if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("StatefulSet %s: serviceName %q must name a headless Service", s.Name, s.Spec.ServiceName)
			continue
		}
		if !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, s.Spec.Template.Labels) {
			t.Errorf("StatefulSet %s: headless Service %s does not select its pods", s.Name, svc.Name)
		}
	}
}

// npPortMatches tells whether a NetworkPolicy port admits the container port
// (number and name).
func npPortMatches(p networkingv1.NetworkPolicyPort, number int32, portName string) bool {
	if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
		return false
	}
	if p.Port == nil {
		return true
	}
	if p.Port.Type == intstr.String {
		return p.Port.StrVal == portName
	}
	if p.EndPort != nil {
		return p.Port.IntVal <= number && number <= *p.EndPort
	}
	return p.Port.IntVal == number
}

func ruleAdmits(rule networkingv1.NetworkPolicyIngressRule, number int32, portName string) bool {
	if len(rule.Ports) == 0 {
		return true
	}
	for _, p := range rule.Ports {
		if npPortMatches(p, number, portName) {
			return true
		}
	}
	return false
}

func checkNetworkPolicies(t *testing.T, r *rendered, ws []workload) {
	ingress := func(np networkingv1.NetworkPolicy) bool {
		return len(np.Spec.PolicyTypes) == 0 || contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
	// The admin port: only from this namespace or the monitoring namespace.
	for _, np := range r.netpols {
		for i, rule := range np.Spec.Ingress {
			where := "NetworkPolicy " + np.Name + " ingress[" + strconv.Itoa(i) + "]"
			if len(rule.From) == 0 {
				// Open to every source: only the public port.
				if len(rule.Ports) == 0 {
					t.Errorf("%s: every port from everywhere", where)
				}
				for _, p := range rule.Ports {
					if !npPortMatches(p, httpPort, httpPortName) || npPortMatches(p, adminPort, adminPortName) {
						t.Errorf("%s: open to every source on port %v: only http may be", where, p.Port)
					}
				}
				continue
			}
			if !ruleAdmits(rule, adminPort, adminPortName) {
				continue
			}
			for _, peer := range rule.From {
				switch {
				case peer.IPBlock != nil:
					t.Errorf("%s: admin port open to the address block %s", where, peer.IPBlock.CIDR)
				case peer.NamespaceSelector == nil:
					// A podSelector alone: pods of the policy's own namespace.
				default:
					ns := peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
					if len(peer.NamespaceSelector.MatchExpressions) > 0 || (ns != r.namespace && ns != monitoringNamespace) {
						t.Errorf("%s: admin port open to namespaces %v, want only %q or %q", where, peer.NamespaceSelector, r.namespace, monitoringNamespace)
					}
				}
			}
		}
	}
	for _, w := range ws {
		var admin, http bool
		for _, c := range w.pod.Containers {
			admin = admin || hasPort(c, adminPortName, adminPort)
			http = http || hasPort(c, httpPortName, httpPort)
		}
		isolated, public := false, false
		for _, np := range r.netpols {
			if !ingress(np) || !selects(&np.Spec.PodSelector, w.labels) {
				continue
			}
			isolated = true
			for _, rule := range np.Spec.Ingress {
				public = public || (len(rule.From) == 0 && ruleAdmits(rule, httpPort, httpPortName))
			}
		}
		if admin && !isolated {
			t.Errorf("%s %s: no NetworkPolicy selects its pods: the admin port is open to every source", w.kind, w.name)
		}
		if http && !public {
			t.Errorf("%s %s: no NetworkPolicy lets clients outside the namespace reach port http", w.kind, w.name)
		}
	}
}

func checkWebScaling(t *testing.T, r *rendered, web workload, fixed, min, max int32) {
	var hpas int
	for _, h := range r.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != web.name {
			t.Errorf("HorizontalPodAutoscaler %s targets %s %s %s, want apps/v1 Deployment %s", h.Name, ref.APIVersion, ref.Kind, ref.Name, web.name)
			continue
		}
		hpas++
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != min || h.Spec.MaxReplicas != max {
			t.Errorf("HorizontalPodAutoscaler %s: %d-%d replicas, want %d-%d", h.Name, replicas(h.Spec.MinReplicas), h.Spec.MaxReplicas, min, max)
		}
		var cpu, rps bool
		for _, m := range h.Spec.Metrics {
			switch {
			case m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil:
				cpu = true
			case m.Pods != nil && m.Pods.Metric.Name == "paredao_http_requests_per_second" && m.Pods.Target.AverageValue != nil:
				rps = true
			}
		}
		if !cpu || !rps {
			t.Errorf("HorizontalPodAutoscaler %s: want CPU utilization (%v) and the Pods metric paredao_http_requests_per_second (%v)", h.Name, cpu, rps)
		}
		for _, c := range web.pod.Containers {
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				t.Errorf("web container %s: CPU utilization needs a CPU request", c.Name)
			}
		}
		if web.replicas != nil {
			t.Errorf("Deployment %s sets replicas %d although an autoscaler owns the count: every apply would reset it", web.name, *web.replicas)
		}
	}
	switch {
	case max > 0 && hpas != 1:
		t.Errorf("want one HorizontalPodAutoscaler for the web tier, got %d", hpas)
	case max == 0 && hpas != 0:
		t.Errorf("want no HorizontalPodAutoscaler, got %d", hpas)
	case max == 0 && replicas(web.replicas) != fixed:
		t.Errorf("Deployment %s: replicas %d, want %d", web.name, replicas(web.replicas), fixed)
	}
}

func checkPDBs(t *testing.T, r *rendered, ws []workload, must ...workload) {
	covered := map[string]bool{}
	for _, p := range r.pdbs {
		pods := podsSelectedBy(ws, p.Spec.Selector)
		if len(pods) != 1 {
			t.Errorf("PodDisruptionBudget %s selects %d workloads, want 1", p.Name, len(pods))
			continue
		}
		covered[pods[0].kind+"/"+pods[0].name] = true
		if p.Spec.MinAvailable != nil || p.Spec.MaxUnavailable == nil {
			t.Errorf("PodDisruptionBudget %s: use maxUnavailable (a minAvailable equal to the replicas blocks every drain)", p.Name)
			continue
		}
		if mu := p.Spec.MaxUnavailable; (mu.Type == intstr.Int && mu.IntVal < 1) || mu.String() == "0%" {
			t.Errorf("PodDisruptionBudget %s: maxUnavailable %s blocks every drain", p.Name, mu.String())
		}
	}
	for _, w := range must {
		if !covered[w.kind+"/"+w.name] {
			t.Errorf("%s %s has no PodDisruptionBudget", w.kind, w.name)
		}
	}
}

// paredaoConfig is the value of a key of the ConfigMap the processors read.
func paredaoConfig(t *testing.T, r *rendered, proc workload, key string) string {
	t.Helper()
	env := r.env(t, "processor", proc.pod.Containers[0])
	v, ok := env[key]
	if !ok {
		t.Fatalf("%s is not set for the processors", key)
	}
	return v
}

// checkKafka: the topics are those of pipeline/topology.go (streams keep 14
// days, tables are compacted), partitioned and replicated as the binary
// expects, on a cluster that can hold them.
func checkKafka(t *testing.T, r *rendered, proc workload, top topology, wantPartitions int, wantProcessors, kedaMin, kedaMax int32) {
	kafkas := r.custom["Kafka"]
	if len(kafkas) != 1 {
		t.Fatalf("want one Kafka, got %d", len(kafkas))
	}
	k := kafkas[0]
	cluster := name(k)
	onlyKeys(t, "Kafka spec", pathMap(k, "spec"), "kafka", "entityOperator", "clusterCa", "clientsCa", "cruiseControl", "kafkaExporter", "maintenanceTimeWindows")
	// With node pools, replicas and storage live in the KafkaNodePool; KRaft has no zookeeper.
	onlyKeys(t, "Kafka spec.kafka", pathMap(k, "spec", "kafka"), "version", "metadataVersion", "listeners", "config", "authorization", "rack", "resources", "jvmOptions", "template", "metricsConfig", "logging", "image", "quotas", "tieredStorage", "brokerRackInitImage", "jmxOptions", "livenessProbe", "readinessProbe")
	ann := pathMap(k, "metadata", "annotations")
	if ann["strimzi.io/kraft"] != "enabled" || ann["strimzi.io/node-pools"] != "enabled" {
		t.Errorf("Kafka %s: want annotations strimzi.io/kraft and strimzi.io/node-pools enabled, got %v", cluster, ann)
	}
	if pathString(k, "spec", "kafka", "version") == "" {
		t.Errorf("Kafka %s: no spec.kafka.version", cluster)
	}
	if _, ok := path(k, "spec", "entityOperator", "topicOperator"); !ok {
		t.Errorf("Kafka %s: no Topic Operator: the KafkaTopics would not be created", cluster)
	}
	plain := map[int]bool{}
	for _, l := range pathList(k, "spec", "kafka", "listeners") {
		lm, _ := l.(map[string]any)
		port, ok := pathInt(lm, "port")
		if !ok || pathString(lm, "name") == "" || pathString(lm, "type") == "" {
			t.Errorf("Kafka %s: listener %v lacks name, port or type", cluster, lm)
		}
		if tls, _ := path(lm, "tls"); tls == false {
			plain[port] = true
		}
	}

	// Brokers: the node pools with the broker role; KRaft needs controllers too.
	brokers, controllers := 0, 0
	for _, np := range r.custom["KafkaNodePool"] {
		onlyKeys(t, "KafkaNodePool spec", pathMap(np, "spec"), "replicas", "roles", "storage", "resources", "jvmOptions", "template")
		if pathString(np, "metadata", "labels", "strimzi.io/cluster") != cluster {
			continue
		}
		n, ok := pathInt(np, "spec", "replicas")
		if !ok || n < 1 {
			t.Errorf("KafkaNodePool %s: spec.replicas must be at least 1", name(np))
		}
		roles := pathList(np, "spec", "roles")
		if contains(roles, any("broker")) {
			brokers += n
		}
		if contains(roles, any("controller")) {
			controllers += n
		}
		if pathString(np, "spec", "storage", "type") == "" {
			t.Errorf("KafkaNodePool %s: no storage", name(np))
		}
		if pathString(np, "spec", "storage", "type") == "jbod" {
			shared := false
			for _, v := range pathList(np, "spec", "storage", "volumes") {
				vm, _ := v.(map[string]any)
				shared = shared || pathString(vm, "kraftMetadata") == "shared"
			}
			if !shared && contains(roles, any("controller")) {
				t.Errorf("KafkaNodePool %s: no JBOD volume keeps the KRaft metadata (kraftMetadata: shared)", name(np))
			}
		}
	}
	if brokers < 1 || controllers < 1 || controllers%2 == 0 {
		t.Errorf("Kafka %s: %d brokers and %d controllers; want at least one broker and an odd number of controllers", cluster, brokers, controllers)
	}
	cfg := pathMap(k, "spec", "kafka", "config")
	for _, key := range []string{"default.replication.factor", "offsets.topic.replication.factor", "transaction.state.log.replication.factor"} {
		if n, ok := toInt(cfg[key]); !ok || n > brokers {
			t.Errorf("Kafka %s: %s = %v with %d brokers", cluster, key, cfg[key], brokers)
		}
	}
	minISR, ok := toInt(cfg["min.insync.replicas"])
	if !ok {
		t.Errorf("Kafka %s: min.insync.replicas not set", cluster)
	}

	// The binary's view of Kafka: brokers, partitions, replication.
	brokerList := paredaoConfig(t, r, proc, "PAREDAO_KAFKA_BROKERS")
	checkBootstrap(t, "PAREDAO_KAFKA_BROKERS", brokerList, cluster, r.namespace, false, plain)
	partitions, err := strconv.Atoi(paredaoConfig(t, r, proc, "PAREDAO_PARTITIONS"))
	if err != nil || partitions != wantPartitions {
		t.Errorf("PAREDAO_PARTITIONS = %d (%v), want %d", partitions, err, wantPartitions)
	}
	replication, err := strconv.Atoi(paredaoConfig(t, r, proc, "PAREDAO_REPLICATION"))
	if err != nil {
		t.Errorf("PAREDAO_REPLICATION: %v", err)
	}

	topics := map[string]map[string]any{}
	for _, kt := range r.custom["KafkaTopic"] {
		onlyKeys(t, "KafkaTopic spec", pathMap(kt, "spec"), "topicName", "partitions", "replicas", "config")
		tn := pathString(kt, "spec", "topicName")
		if tn == "" {
			tn = name(kt)
		}
		topics[tn] = kt
		where := "KafkaTopic " + tn
		if pathString(kt, "metadata", "labels", "strimzi.io/cluster") != cluster {
			t.Errorf("%s: label strimzi.io/cluster is not %q", where, cluster)
		}
		p, ok := pathInt(kt, "spec", "partitions")
		// goka co-partitions inputs with group tables: every topic has the
		// binary's partition count.
		if !ok || p != partitions {
			t.Errorf("%s: %d partitions, want PAREDAO_PARTITIONS = %d", where, p, partitions)
		}
		if int(replicas(proc.replicas)) > p {
			t.Errorf("%s: %d partitions < %d processor replicas: the extra processors would sit idle", where, p, replicas(proc.replicas))
		}
		rf, ok := pathInt(kt, "spec", "replicas")
		if !ok || rf != replication || rf > brokers {
			t.Errorf("%s: %d replicas; want PAREDAO_REPLICATION = %d and at most %d brokers", where, rf, replication, brokers)
		}
		if minISR > rf || (rf > 1 && minISR >= rf) {
			t.Errorf("%s: min.insync.replicas %d with %d replicas: one broker down would stop every write", where, minISR, rf)
		}
		policy := pathString(kt, "spec", "config", "cleanup.policy")
		switch {
		case contains(top.streams, tn):
			// As the binary gives them on the embedded broker
			// (cmd/paredao/kafka.go): the raw votes PAREDAO_AUDIT_DAYS
			// (30) and a week for the recount, ballots and windows a week.
			want := map[string]int{"votes": 37 * day, "ballots": 7 * day, "windows": 7 * day}[tn]
			ret, _ := pathInt(kt, "spec", "config", "retention.ms")
			if policy != "delete" || ret != want {
				t.Errorf("%s: stream wants cleanup.policy delete and retention.ms %d, got %q and %d", where, want, policy, ret)
			}
		case contains(top.tables, tn):
			if policy != "compact" {
				t.Errorf("%s: table wants cleanup.policy compact, got %q", where, policy)
			}
		default:
			t.Errorf("%s: not a topic of the pipeline", where)
		}
	}
	for _, tn := range append(append([]string{}, top.streams...), top.tables...) {
		if topics[tn] == nil {
			t.Errorf("no KafkaTopic %s", tn)
		}
	}

	// The processors: replicas <= partitions, or KEDA between min and max.
	objs := r.custom["ScaledObject"]
	switch {
	case kedaMax == 0:
		if len(objs) != 0 {
			t.Errorf("want no ScaledObject, got %d", len(objs))
		}
		if got := replicas(proc.replicas); got != wantProcessors {
			t.Errorf("StatefulSet %s: replicas %d, want %d", proc.name, got, wantProcessors)
		}
	case len(objs) != 1:
		t.Errorf("want one ScaledObject, got %d", len(objs))
	default:
		so := objs[0]
		onlyKeys(t, "ScaledObject spec", pathMap(so, "spec"), "scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount", "advanced", "triggers", "fallback")
		if proc.replicas != nil {
			t.Errorf("StatefulSet %s sets replicas %d although KEDA owns the count", proc.name, *proc.replicas)
		}
		ref := pathMap(so, "spec", "scaleTargetRef")
		if pathString(ref, "kind") != "StatefulSet" || pathString(ref, "name") != proc.name {
			t.Errorf("ScaledObject %s targets %v, want StatefulSet %s", name(so), ref, proc.name)
		}
		mn, _ := pathInt(so, "spec", "minReplicaCount")
		mx, _ := pathInt(so, "spec", "maxReplicaCount")
		if mn != int(kedaMin) || mx != int(kedaMax) {
			t.Errorf("ScaledObject %s: %d-%d replicas, want %d-%d", name(so), mn, mx, kedaMin, kedaMax)
		}
		if mx > partitions || mn > mx || mn < 1 {
			t.Errorf("ScaledObject %s: %d-%d replicas with %d partitions: want 1 <= min <= max <= partitions", name(so), mn, mx, partitions)
		}
		groups := map[string]string{}
		for _, tr := range pathList(so, "spec", "triggers") {
			tm, _ := tr.(map[string]any)
			if pathString(tm, "type") != "kafka" {
				t.Errorf("ScaledObject %s: trigger %v is not kafka", name(so), tm)
				continue
			}
			md := pathMap(tm, "metadata")
			groups[pathString(md, "consumerGroup")] = pathString(md, "topic")
			checkBootstrap(t, "ScaledObject bootstrapServers", pathString(md, "bootstrapServers"), cluster, r.namespace, true, plain)
			if pathString(md, "lagThreshold") == "" {
				t.Errorf("ScaledObject %s: trigger without lagThreshold", name(so))
			}
		}
		for g := range groups {
			if !slices.Contains(slices.Collect(maps.Values(top.groups)), g) {
				t.Errorf("ScaledObject %s: consumer group %q is not a group of the pipeline %v", name(so), g, top.groups)
			}
		}
		if groups["guard"] != "votes" || groups["tally"] != "ballots" {
			t.Errorf("ScaledObject %s: want lag triggers guard/votes and tally/ballots, got %v", name(so), groups)
		}
	}
}

// checkBootstrap: a broker list names Strimzi's bootstrap Service of the
// cluster, on a plain listener's port; fqdn demands the namespace in the name
// (for clients in other namespaces, such as KEDA).
func checkBootstrap(t *testing.T, what, list, cluster, namespace string, fqdn bool, plain map[int]bool) {
	if list == "" {
		t.Errorf("%s is empty", what)
		return
	}
	for _, b := range strings.Split(list, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(b))
		n, _ := strconv.Atoi(port)
		if err != nil || !plain[n] {
			t.Errorf("%s: %q is not on a plain (tls: false) listener port %v", what, b, plain)
			continue
		}
		parts := strings.Split(host, ".")
		if parts[0] != cluster+"-kafka-bootstrap" {
			t.Errorf("%s: %q is not Strimzi's bootstrap service %s-kafka-bootstrap", what, b, cluster)
		}
		if (fqdn && len(parts) < 2) || (len(parts) > 1 && parts[1] != namespace) {
			t.Errorf("%s: %q must name the namespace %q", what, b, namespace)
		}
	}
}

func checkPostgres(t *testing.T, r *rendered, ws []workload) {
	clusters := r.custom["Cluster"]
	if len(clusters) != 1 {
		t.Fatalf("want one CloudNativePG Cluster, got %d", len(clusters))
	}
	c := clusters[0]
	onlyKeys(t, "Cluster spec", pathMap(c, "spec"), "instances", "imageName", "primaryUpdateStrategy", "bootstrap", "postgresql", "storage", "walStorage", "resources", "monitoring", "backup", "affinity", "enableSuperuserAccess", "managed", "plugins", "description")
	if n, ok := pathInt(c, "spec", "instances"); !ok || n < 1 {
		t.Errorf("Cluster %s: spec.instances must be at least 1", name(c))
	}
	if pathString(c, "spec", "storage", "size") == "" {
		t.Errorf("Cluster %s: no spec.storage.size", name(c))
	}
	if !strings.Contains(pathString(c, "spec", "imageName"), "postgresql:16") {
		t.Errorf("Cluster %s: imageName %q is not PostgreSQL 16", name(c), pathString(c, "spec", "imageName"))
	}
	if pathString(c, "spec", "bootstrap", "initdb", "database") == "" || pathString(c, "spec", "bootstrap", "initdb", "owner") == "" {
		t.Errorf("Cluster %s: bootstrap.initdb needs database and owner (they make the app Secret)", name(c))
	}
	// PAREDAO_DATABASE_URL comes from the app Secret's uri.
	for _, w := range ws {
		for _, ctr := range w.pod.Containers {
			for _, e := range ctr.Env {
				if e.Name != "PAREDAO_DATABASE_URL" {
					continue
				}
				ref := e.ValueFrom
				if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != name(c)+"-app" || (ref.SecretKeyRef.Key != "uri" && ref.SecretKeyRef.Key != "fqdn-uri") {
					t.Errorf("%s %s: PAREDAO_DATABASE_URL must come from Secret %s-app, key uri", w.kind, w.name, name(c))
				}
			}
		}
	}
}

func checkSecrets(t *testing.T, r *rendered, external bool) {
	const placeholder = "paredao.io/placeholder"
	for _, s := range r.secrets {
		if external && s.Annotations[placeholder] == "true" {
			t.Errorf("Secret %s is the placeholder of the base: this overlay must take its secrets elsewhere", s.Name)
		}
		if v, ok := s.StringData["PAREDAO_SECRET"]; ok && len(v) < 32 {
			t.Errorf("Secret %s: PAREDAO_SECRET has %d bytes, the binary wants at least 32", s.Name, len(v))
		}
		if v, ok := s.Data["PAREDAO_SECRET"]; ok && len(v) < 32 {
			t.Errorf("Secret %s: PAREDAO_SECRET has %d bytes, the binary wants at least 32", s.Name, len(v))
		}
	}
	ess := r.custom["ExternalSecret"]
	if external != (len(ess) > 0) {
		t.Errorf("ExternalSecrets: %d, want them: %v", len(ess), external)
	}
	for _, es := range ess {
		onlyKeys(t, "ExternalSecret spec", pathMap(es, "spec"), "refreshInterval", "secretStoreRef", "target", "data", "dataFrom")
		if pathString(es, "spec", "secretStoreRef", "name") == "" || pathString(es, "spec", "secretStoreRef", "kind") == "" {
			t.Errorf("ExternalSecret %s: no secretStoreRef", name(es))
		}
		for _, d := range pathList(es, "spec", "data") {
			dm, _ := d.(map[string]any)
			if pathString(dm, "secretKey") == "" || pathString(dm, "remoteRef", "key") == "" {
				t.Errorf("ExternalSecret %s: data entry %v needs secretKey and remoteRef.key", name(es), dm)
			}
		}
	}
}

func checkPodMonitors(t *testing.T, r *rendered, ws []workload) {
	for _, pm := range r.custom["PodMonitor"] {
		onlyKeys(t, "PodMonitor spec", pathMap(pm, "spec"), "selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel", "podTargetLabels", "sampleLimit")
		raw, _ := yaml.Marshal(pathMap(pm, "spec", "selector"))
		var sel metav1.LabelSelector
		if err := yaml.UnmarshalStrict(raw, &sel); err != nil {
			t.Errorf("PodMonitor %s: selector: %v", name(pm), err)
			continue
		}
		scraped := map[string]bool{}
		for _, w := range podsSelectedBy(ws, &sel) {
			scraped[w.command] = true
		}
		for _, cmd := range []string{"web", "process", "sink"} {
			if !scraped[cmd] {
				t.Errorf("PodMonitor %s does not select the %s pods", name(pm), cmd)
			}
		}
		if scraped["migrate"] {
			t.Errorf("PodMonitor %s selects the migrate Job, which has no admin listener", name(pm))
		}
		for _, ep := range pathList(pm, "spec", "podMetricsEndpoints") {
			em, _ := ep.(map[string]any)
			if pathString(em, "port") != adminPortName || pathString(em, "path") != "/metrics" {
				t.Errorf("PodMonitor %s: endpoint %v, want port %q path /metrics", name(pm), em, adminPortName)
			}
		}
	}
}

// TestKustomizationSyntax: kustomize v5 fields only (the deprecated ones still
// build, with warnings, and are removed in later versions).
func TestKustomizationSyntax(t *testing.T) {
	deprecated := []string{"commonLabels", "patchesStrategicMerge", "patchesJson6902", "bases", "vars", "imageTags"}
	var files []string
	err := filepath.WalkDir("k8s", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) < 6 {
		t.Fatalf("kustomizations found: %v (%v)", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var k map[string]any
		if err := yaml.Unmarshal(raw, &k); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, d := range deprecated {
			if _, ok := k[d]; ok {
				t.Errorf("%s: deprecated field %s", f, d)
			}
		}
		switch k["kind"] {
		case "Kustomization":
			if k["apiVersion"] != "kustomize.config.k8s.io/v1beta1" {
				t.Errorf("%s: apiVersion %v", f, k["apiVersion"])
			}
		case "Component":
			if k["apiVersion"] != "kustomize.config.k8s.io/v1alpha1" {
				t.Errorf("%s: apiVersion %v", f, k["apiVersion"])
			}
		default:
			t.Errorf("%s: kind %v", f, k["kind"])
		}
	}
}

// TestProcessorReplicasRule: the comment that states the rule is where an
// operator changes the number.
func TestProcessorReplicasRule(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("k8s", "base", "processor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "REPLICAS <= PARTITIONS") {
		t.Error("k8s/base/processor.yaml no longer states the rule replicas <= partitions")
	}
	var sts appsv1.StatefulSet
	docs := strings.Split(string(raw), "\n---\n")
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &sts); err != nil || sts.Kind != "StatefulSet" {
		t.Fatalf("first document of processor.yaml is not a StatefulSet: %v", err)
	}
}
