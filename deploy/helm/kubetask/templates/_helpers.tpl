{{/* Resource name shared by every object of the release. */}}
{{- define "kubetask.name" -}}
kubetask-controller
{{- end }}

{{/*
Name of a cluster-scoped object owned by this install, from (list . "base-name"). A
cluster-wide install (no watchNamespaces) is the only one of its kind and keeps the base
name; an install scoped to some namespaces appends its own namespace, so several scoped
installs (one per group of namespaces, see README "Operating at scale") never claim the
same object.
*/}}
{{- define "kubetask.clusterScopedName" -}}
{{- $root := index . 0 -}}
{{- $base := index . 1 -}}
{{- if $root.Values.watchNamespaces -}}
{{ $base }}-{{ $root.Release.Namespace }}
{{- else -}}
{{ $base }}
{{- end -}}
{{- end }}

{{- define "kubetask.labels" -}}
app.kubernetes.io/name: kubetask
app.kubernetes.io/component: controller
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "kubetask.selectorLabels" -}}
app.kubernetes.io/name: kubetask
app.kubernetes.io/component: controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The controllers' API permissions; the same list as deploy/clusterrole.yaml
(tests/unit/ship checks they match). No Secrets: Jobs reference them.
*/}}
{{- define "kubetask.rules" -}}
- apiGroups: ["kubetask.io"]
  resources: ["tasks"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["kubetask.io"]
  resources: ["tasks/status"]
  verbs: ["update"]
- apiGroups: ["kubetask.io"]
  resources: ["crontasks"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["kubetask.io"]
  resources: ["crontasks/status"]
  verbs: ["update"]
- apiGroups: ["kubetask.io"]
  resources: ["agents", "contexts", "contextgrants", "kubetaskconfigs"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["kubetask.io"]
  resources: ["agents/status"]
  verbs: ["update"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["kueue.x-k8s.io"]
  resources: ["workloads"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "patch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch", "list", "watch"]
{{- end }}
