{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "pullguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's object name; also the name of both webhook configurations. */}}
{{- define "pullguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pullguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pullguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pullguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pullguard.labels" -}}
helm.sh/chart: {{ include "pullguard.chart" . }}
{{ include "pullguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pullguard
{{- end }}

{{/* Labels of the webhook pods and everything that belongs to the webhook itself. */}}
{{- define "pullguard.webhookSelectorLabels" -}}
{{ include "pullguard.selectorLabels" . }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "pullguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pullguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The namespaces whose pull secrets the webhook watches with rbac.secrets.scope=namespaces, comma
separated and sorted: rbac.secrets.namespaces plus the namespaces whose labels match
rbac.secrets.namespaceSelector.matchLabels now (helm lookup; empty without a cluster). Fails when
none is selected: a webhook that may read no secret would deny every private image.
*/}}
{{- define "pullguard.secretNamespaces" -}}
{{- $names := list }}
{{- range .Values.rbac.secrets.namespaces }}
{{- $names = append $names . }}
{{- end }}
{{- $matchLabels := dig "matchLabels" dict (.Values.rbac.secrets.namespaceSelector | default dict) }}
{{- if $matchLabels }}
{{- $found := lookup "v1" "Namespace" "" "" | default dict }}
{{- range (get $found "items" | default list) }}
{{- $labels := .metadata.labels | default dict }}
{{- $match := true }}
{{- range $key, $value := $matchLabels }}
{{- if ne (get $labels $key | toString) ($value | toString) }}{{ $match = false }}{{ end }}
{{- end }}
{{- if $match }}{{ $names = append $names .metadata.name }}{{ end }}
{{- end }}
{{- end }}
{{- if not $names }}
{{- fail "rbac.secrets.scope=namespaces selects no namespace: list them in rbac.secrets.namespaces, or label them to match rbac.secrets.namespaceSelector (looked up at install/upgrade; helm template cannot look up)" }}
{{- end }}
{{- $names | uniq | sortAlpha | join "," }}
{{- end }}

{{- define "pullguard.clientCaConfigMapName" -}}
{{- if .Values.server.clientAuth.existingConfigMap }}
{{- .Values.server.clientAuth.existingConfigMap }}
{{- else if .Values.server.clientAuth.caBundle }}
{{- printf "%s-client-ca" (include "pullguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- fail "server.clientAuth.enabled needs the CA that signs the API server's client certificate: server.clientAuth.caBundle (PEM) or server.clientAuth.existingConfigMap" }}
{{- end }}
{{- end }}

{{- define "pullguard.policyConfigMapName" -}}
{{- printf "%s-policy" (include "pullguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret the webhook mounts: tls.crt, tls.key, ca.crt. */}}
{{- define "pullguard.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" }}
{{- required "certificates.existingSecret.name is required in existingSecret mode" .Values.certificates.existingSecret.name }}
{{- else }}
{{- default (printf "%s-tls" (include "pullguard.fullname" .)) .Values.certificates.secretName }}
{{- end }}
{{- end }}

{{- define "pullguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Server ------------------------------------------------------------------------------------ */}}

{{/*
Per-request timeout of the server: one second below the webhook's timeoutSeconds unless set, so the
server answers (503, a decision error) before the API server gives up and applies failurePolicy blindly.
*/}}
{{- define "pullguard.requestTimeoutMs" -}}
{{- $budget := mul (int .Values.webhooks.timeoutSeconds) 1000 }}
{{- if kindIs "invalid" .Values.server.requestTimeoutMs }}
{{- sub $budget 1000 }}
{{- else }}
{{- $explicit := int .Values.server.requestTimeoutMs }}
{{- if ge $explicit $budget }}
{{- fail (printf "server.requestTimeoutMs (%d) must be below webhooks.timeoutSeconds (%d s): the server must answer before the API server gives up" $explicit (int .Values.webhooks.timeoutSeconds)) }}
{{- end }}
{{- $explicit }}
{{- end }}
{{- end }}

{{/* Certificates ------------------------------------------------------------------------------ */}}

{{/* DNS names the API server may use for the Service: it connects to <service>.<namespace>.svc. */}}
{{- define "pullguard.serviceDnsNames" -}}
{{- $service := include "pullguard.fullname" . }}
{{- $namespace := .Release.Namespace }}
{{- list $service (printf "%s.%s" $service $namespace) (printf "%s.%s.svc" $service $namespace) (printf "%s.%s.svc.%s" $service $namespace .Values.certificates.clusterDomain) | toJson }}
{{- end }}

{{/* Arguments of `pullguard certs` for the Jobs; `patchWebhooks` adds the caBundle targets. */}}
{{- define "pullguard.certsArgs" -}}
{{- $root := .root -}}
- certs
- --out
- ""
{{- range (include "pullguard.serviceDnsNames" $root | fromJsonArray) }}
- --host
- {{ . | quote }}
{{- end }}
- --secret
- {{ printf "%s/%s" $root.Release.Namespace (include "pullguard.tlsSecretName" $root) | quote }}
- --days
- {{ $root.Values.certificates.job.days | quote }}
- --renew-before
- {{ $root.Values.certificates.job.renewBeforeDays | quote }}
{{- if .patchWebhooks }}
- --mutating-webhook
- {{ include "pullguard.fullname" $root | quote }}
- --validating-webhook
- {{ include "pullguard.fullname" $root | quote }}
{{- end }}
{{- end }}

{{/* Webhooks ---------------------------------------------------------------------------------- */}}

{{/*
Namespaces the API server never sends: our own (a webhook that reviews its own pods cannot start
after an outage), kube-system (same for the cluster's own components), the values' extras, and any
namespace labelled pullguard.io/ignore=true.
*/}}
{{- define "pullguard.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- range (concat (list .Release.Namespace "kube-system") .Values.webhooks.excludeNamespaces | uniq) }}
        - {{ . | quote }}
        {{- end }}
    - key: pullguard.io/ignore
      operator: NotIn
      values:
        - "true"
    {{- if eq .Values.rbac.secrets.scope "namespaces" }}
    # Pull secrets are watched in these namespaces only: elsewhere the webhook could not decide.
    - key: kubernetes.io/metadata.name
      operator: In
      values:
        {{- range (include "pullguard.secretNamespaces" . | splitList ",") }}
        - {{ . | quote }}
        {{- end }}
    {{- end }}
{{- end }}

{{- define "pullguard.clientConfig" -}}
{{- $root := .root -}}
clientConfig:
  {{- if $root.Values.webhooks.url }}
  url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhooks.url) .path | quote }}
  {{- else }}
  service:
    name: {{ include "pullguard.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: {{ $root.Values.service.port }}
  {{- end }}
  {{- if eq $root.Values.certificates.mode "existingSecret" }}
  caBundle: {{ required "certificates.existingSecret.caBundle is required in existingSecret mode" $root.Values.certificates.existingSecret.caBundle | nospace | quote }}
  {{- end }}
{{- end }}

{{/* Settings every webhook entry shares. */}}
{{- define "pullguard.webhookCommon" -}}
admissionReviewVersions:
  - v1
sideEffects: None
failurePolicy: {{ .Values.webhooks.failurePolicy }}
timeoutSeconds: {{ .Values.webhooks.timeoutSeconds }}
matchPolicy: Equivalent
{{ include "pullguard.namespaceSelector" . }}
{{- end }}

{{/* The pod-template kinds, with the operations given. */}}
{{- define "pullguard.workloadRules" -}}
- apiGroups: ["apps"]
  apiVersions: ["v1"]
  operations: {{ .operations | toJson }}
  resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
  scope: Namespaced
- apiGroups: ["batch"]
  apiVersions: ["v1"]
  operations: {{ .operations | toJson }}
  resources: ["jobs", "cronjobs"]
  scope: Namespaced
- apiGroups: [""]
  apiVersions: ["v1"]
  operations: {{ .operations | toJson }}
  resources: ["replicationcontrollers", "podtemplates"]
  scope: Namespaced
{{- range .custom }}
- apiGroups: {{ .apiGroups | toJson }}
  apiVersions: {{ .apiVersions | default (list "*") | toJson }}
  operations: {{ $.operations | toJson }}
  resources: {{ .resources | toJson }}
  scope: Namespaced
{{- end }}
{{- end }}

{{/* Pods ----------------------------------------------------------------------------------------- */}}

{{/* Pod-level settings the webhook and the certificate Jobs share. */}}
{{- define "pullguard.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . | quote }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The ServiceAccount, Role, ClusterRole and bindings of the certificate Jobs (hooks or not). */}}
{{- define "pullguard.certsRbac" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $fullname := include "pullguard.fullname" $root -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pullguard.labels" $root | nindent 4 }}
    app.kubernetes.io/component: certificates
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# Only the Job's pod, which asks for it, gets a token.
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pullguard.labels" $root | nindent 4 }}
    app.kubernetes.io/component: certificates
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
rules:
  # The serving Secret only: read it (kept while valid), replace its data, or delete and recreate
  # it when an object of another type is in the way.
  - apiGroups: [""]
    resources: ["secrets"]
    resourceNames: [{{ include "pullguard.tlsSecretName" $root | quote }}]
    verbs: ["get", "update", "delete"]
  # RBAC cannot limit `create` by name (the name is not part of the request URL).
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pullguard.labels" $root | nindent 4 }}
    app.kubernetes.io/component: certificates
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $root.Release.Namespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $name }}
  labels:
    {{- include "pullguard.labels" $root | nindent 4 }}
    app.kubernetes.io/component: certificates
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
rules:
  # Only this release's two webhook configurations: write the CA into their caBundles.
  - apiGroups: ["admissionregistration.k8s.io"]
    resources: ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"]
    resourceNames: [{{ $fullname | quote }}]
    verbs: ["get", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "pullguard.labels" $root | nindent 4 }}
    app.kubernetes.io/component: certificates
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}

{{/* A certificate Job's pod template. */}}
{{- define "pullguard.certsPodTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "pullguard.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: certificates
spec:
  serviceAccountName: {{ .serviceAccountName }}
  # The ServiceAccount mounts no token by default; the Job needs one to publish the Secret.
  automountServiceAccountToken: true
  restartPolicy: Never
  {{- include "pullguard.podCommon" $root | trim | nindent 2 }}
  containers:
    - name: certs
      image: {{ include "pullguard.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- include "pullguard.certsArgs" (dict "root" $root "patchWebhooks" .patchWebhooks) | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml $root.Values.certificates.job.resources | nindent 8 }}
{{- end }}

{{/*
Registries the nodes of each managed cloud pull with their own identity (values.cloud). The same
lists as CLOUD_NODE_REGISTRIES in src/policy/cloud-registries.ts; test/chart/chart.test.ts checks
that they agree.
*/}}
{{- define "pullguard.cloudNodeRegistries" -}}
eks: ["*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn", "*.dkr.ecr-fips.*.amazonaws.com"]
gke: ["*-docker.pkg.dev", "gcr.io", "*.gcr.io"]
aks: ["*.azurecr.io"]
{{- end }}
