package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// rendered is one kustomization, built by krusty (the library behind
// `kubectl kustomize`) and every object decoded strictly.
type rendered struct {
	dir       string
	namespace string

	namespaces      []corev1.Namespace
	serviceAccounts []corev1.ServiceAccount
	configMaps      []corev1.ConfigMap
	secrets         []corev1.Secret
	services        []corev1.Service
	deployments     []appsv1.Deployment
	statefulSets    []appsv1.StatefulSet
	jobs            []batchv1.Job
	hpas            []autoscalingv2.HorizontalPodAutoscaler
	pdbs            []policyv1.PodDisruptionBudget
	netpols         []networkingv1.NetworkPolicy

	// custom resources by kind, as generic maps (numbers as json.Number)
	custom map[string][]map[string]any
}

// customKinds are the custom resources the manifests may use, by apiVersion.
var customKinds = map[string][]string{
	"kafka.strimzi.io/v1beta2": {"Kafka", "KafkaNodePool", "KafkaTopic"},
	"postgresql.cnpg.io/v1":    {"Cluster"},
	"keda.sh/v1alpha1":         {"ScaledObject"},
	"monitoring.coreos.com/v1": {"PodMonitor", "PrometheusRule"},
	"external-secrets.io/v1":   {"ExternalSecret"},
}

// render builds the kustomization in dir (relative to deploy/k8s).
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	path := filepath.Join("k8s", dir)
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), path)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", path, err)
	}
	r := &rendered{dir: dir, custom: map[string][]map[string]any{}}
	if len(m.Resources()) == 0 {
		t.Fatalf("kustomize build %s: no objects", path)
	}
	for _, res := range m.Resources() {
		raw, err := res.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: marshal %s: %v", dir, res.CurId(), err)
		}
		if err := r.add(raw); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	if len(r.namespaces) != 1 {
		t.Fatalf("%s: want one Namespace, got %d", dir, len(r.namespaces))
	}
	r.namespace = r.namespaces[0].Name
	return r
}

// add decodes one rendered object strictly into its k8s.io/api type: unknown
// or misspelt fields, duplicate fields and unknown kinds are errors.
func (r *rendered) add(raw []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return err
	}
	id := head.APIVersion + " " + head.Kind + " " + head.Metadata.Name
	var err error
	switch head.APIVersion + "/" + head.Kind {
	case "v1/Namespace":
		err = strictAppend(raw, &r.namespaces)
	case "v1/ServiceAccount":
		err = strictAppend(raw, &r.serviceAccounts)
	case "v1/ConfigMap":
		err = strictAppend(raw, &r.configMaps)
	case "v1/Secret":
		err = strictAppend(raw, &r.secrets)
	case "v1/Service":
		err = strictAppend(raw, &r.services)
	case "apps/v1/Deployment":
		err = strictAppend(raw, &r.deployments)
	case "apps/v1/StatefulSet":
		err = strictAppend(raw, &r.statefulSets)
	case "batch/v1/Job":
		err = strictAppend(raw, &r.jobs)
	case "autoscaling/v2/HorizontalPodAutoscaler":
		err = strictAppend(raw, &r.hpas)
	case "policy/v1/PodDisruptionBudget":
		err = strictAppend(raw, &r.pdbs)
	case "networking.k8s.io/v1/NetworkPolicy":
		err = strictAppend(raw, &r.netpols)
	default:
		kinds, ok := customKinds[head.APIVersion]
		if !ok || !contains(kinds, head.Kind) {
			return fmt.Errorf("%s: unknown kind (add it to the test with its type or its checks)", id)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err = dec.Decode(&m); err == nil {
			r.custom[head.Kind] = append(r.custom[head.Kind], m)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	return nil
}

// strictAppend decodes raw into a new element of *list, rejecting unknown and
// duplicate fields (case-sensitively, as the API server's strict field
// validation does).
func strictAppend[T any](raw []byte, list *[]T) error {
	var v T
	strict, err := kjson.UnmarshalStrict(raw, &v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("strict decoding: %v", strict)
	}
	*list = append(*list, v)
	return nil
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// path reads a nested field of a generic object: path(m, "spec", "replicas").
func path(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func pathMap(m map[string]any, keys ...string) map[string]any {
	v, _ := path(m, keys...)
	mm, _ := v.(map[string]any)
	return mm
}

func pathList(m map[string]any, keys ...string) []any {
	v, _ := path(m, keys...)
	l, _ := v.([]any)
	return l
}

func pathString(m map[string]any, keys ...string) string {
	v, _ := path(m, keys...)
	s, _ := v.(string)
	return s
}

// pathInt reads an integer written as a number or a numeric string.
func pathInt(m map[string]any, keys ...string) (int, bool) {
	v, ok := path(m, keys...)
	if !ok {
		return 0, false
	}
	return toInt(v)
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(v.String())
		return n, err == nil
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func name(m map[string]any) string { return pathString(m, "metadata", "name") }

// onlyKeys reports keys of m that are not in allowed: a cheap guard against
// misspelt fields of custom resources, whose schemas this test does not have.
func onlyKeys(t *testing.T, where string, m map[string]any, allowed ...string) {
	t.Helper()
	for k := range m {
		if !contains(allowed, k) {
			t.Errorf("%s: unexpected field %q (allowed here: %s)", where, k, strings.Join(allowed, ", "))
		}
	}
}
