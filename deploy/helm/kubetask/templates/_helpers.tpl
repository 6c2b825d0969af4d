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
- apiGroups: ["kubetask.io"]
  resources: ["namespacebudgets"]
  verbs: ["get", "list", "watch"]
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

{{- define "kubetask.gatewayLabels" -}}
app.kubernetes.io/name: kubetask
app.kubernetes.io/component: gateway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "kubetask.gatewaySelectorLabels" -}}
app.kubernetes.io/name: kubetask
app.kubernetes.io/component: gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The gateway's Secret with tls.crt, tls.key and ca.crt: the user's, or the one the chart generates. */}}
{{- define "kubetask.gatewayTLSSecret" -}}
{{ .Values.gateway.tls.secretName | default "kubetask-gateway-tls" }}
{{- end }}

{{/*
The gateway's cluster-scoped calls; the same list as deploy/gateway/rbac.yaml's
ClusterRole kubetask-gateway (tests/unit/ship checks they match).
*/}}
{{- define "kubetask.gatewayClusterRules" -}}
- apiGroups: ["authentication.k8s.io"]
  resources: ["tokenreviews"]
  verbs: ["create"]
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
- apiGroups: ["kubetask.io"]
  resources: ["modelproviders"]
  verbs: ["get"]
- apiGroups: ["kubetask.io"]
  resources: ["namespacebudgets"]
  verbs: ["get"]
- apiGroups: ["kubetask.io"]
  resources: ["namespacebudgets/status"]
  verbs: ["update"]
{{- end }}

{{/*
The gateway's calls in the Tasks' namespaces; the same list as
deploy/gateway/rbac.yaml's ClusterRole kubetask-gateway-tasks.
*/}}
{{- define "kubetask.gatewayTaskRules" -}}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get"]
- apiGroups: ["kubetask.io"]
  resources: ["tasks"]
  verbs: ["get", "list"]
- apiGroups: ["kubetask.io"]
  resources: ["tasks/status"]
  verbs: ["patch"]
- apiGroups: ["kubetask.io"]
  resources: ["agents"]
  verbs: ["get"]
{{- end }}

{{/* The operator's flags for the gateway (gateway.enabled). */}}
{{- define "kubetask.gatewayOperatorArgs" -}}
- --gateway-url=https://kubetask-gateway.{{ .Release.Namespace }}.svc:{{ .Values.gateway.port }}
- --gateway-ca-file=/etc/kubetask/gateway-ca/ca.crt
- --gateway-audience={{ .Values.gateway.audience }}
- --gateway-service={{ .Release.Namespace }}/kubetask-gateway
{{- end }}

{{/*
The gateway's values, checked before anything renders: each reaches an argument, a URL, a
Secret's, a StorageClass's or a PersistentVolume's name. A bad one fails the install with what was expected.
*/}}
{{- define "kubetask.gatewayValidate" -}}
{{- $g := .Values.gateway -}}
{{- $dns := "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$" -}}
{{- $duration := "^([0-9]{1,6}(h|m|s))+$" -}}
{{- if not (and (eq (float64 (int64 $g.port)) (float64 $g.port)) (ge (int64 $g.port) 1) (le (int64 $g.port) 65535)) }}
{{- fail (printf "gateway.port must be a port number (1-65535), got %v" $g.port) }}
{{- end }}
{{- if not (regexMatch "^[A-Za-z0-9]([-A-Za-z0-9._:/]{0,251}[A-Za-z0-9])?$" (toString $g.audience)) }}
{{- fail (printf "gateway.audience must be letters, digits and -._:/ (at most 253), got %q" (toString $g.audience)) }}
{{- end }}
{{- if not (has (toString $g.logLevel) (list "debug" "info" "warn" "error")) }}
{{- fail (printf "gateway.logLevel must be debug, info, warn or error, got %q" (toString $g.logLevel)) }}
{{- end }}
{{- if not (regexMatch $duration (toString $g.usageFlushInterval)) }}
{{- fail (printf "gateway.usageFlushInterval must be a duration such as 2s or 1m, got %q" (toString $g.usageFlushInterval)) }}
{{- end }}
{{- if not (regexMatch $duration (toString $g.transcripts.retention)) }}
{{- fail (printf "gateway.transcripts.retention must be a duration such as 168h or 30m, got %q" (toString $g.transcripts.retention)) }}
{{- end }}
{{- if and $g.tls.secretName (not (regexMatch $dns (toString $g.tls.secretName))) }}
{{- fail (printf "gateway.tls.secretName must be a Secret's name (lower case, digits, -.), got %q" (toString $g.tls.secretName)) }}
{{- end }}
{{- if not (and (eq (float64 (int64 $g.tls.validityDays)) (float64 $g.tls.validityDays)) (ge (int64 $g.tls.validityDays) 1)) }}
{{- fail (printf "gateway.tls.validityDays must be a whole number of days, at least 1, got %v" $g.tls.validityDays) }}
{{- end }}
{{- if and $g.transcripts.storageClass (not (regexMatch $dns (toString $g.transcripts.storageClass))) }}
{{- fail (printf "gateway.transcripts.storageClass must be a StorageClass's name, got %q" (toString $g.transcripts.storageClass)) }}
{{- end }}
{{- if and $g.transcripts.volumeName (not (regexMatch $dns (toString $g.transcripts.volumeName))) }}
{{- fail (printf "gateway.transcripts.volumeName must be a PersistentVolume's name, got %q" (toString $g.transcripts.volumeName)) }}
{{- end }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$" (toString $g.transcripts.size)) }}
{{- fail (printf "gateway.transcripts.size must be a quantity such as 10Gi, got %q" (toString $g.transcripts.size)) }}
{{- end }}
{{- if not (and (eq (float64 (int64 $g.transcripts.maxBytesPerTask)) (float64 $g.transcripts.maxBytesPerTask)) (ge (int64 $g.transcripts.maxBytesPerTask) 4096)) }}
{{- fail (printf "gateway.transcripts.maxBytesPerTask must be a whole number of bytes, at least 4096, got %v" $g.transcripts.maxBytesPerTask) }}
{{- end }}
{{- end }}
