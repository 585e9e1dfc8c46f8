{{/* Names and labels. */}}
{{- define "package-registry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "package-registry.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one role's objects: <fullname>-<role>. */}}
{{- define "package-registry.component" -}}
{{- printf "%s-%s" (include "package-registry.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "package-registry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "package-registry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one role; call with (dict "root" $ "component" "api"). */}}
{{- define "package-registry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "package-registry.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "package-registry.componentLabels" -}}
{{ include "package-registry.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The label a Service carries when it exposes a metrics port: the ServiceMonitor selects it. */}}
{{- define "package-registry.metricsLabel" -}}
package-registry/metrics: "true"
{{- end -}}

{{- define "package-registry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "package-registry.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "package-registry.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Which shape, checked once: every template calls it. */}}
{{- define "package-registry.validate" -}}
{{- if not (has .Values.mode (list "allInOne" "distributed")) -}}
{{- fail (printf "mode must be allInOne or distributed, not %q" .Values.mode) -}}
{{- end -}}
{{- if not .Values.registry.url -}}
{{- fail "registry.url is required: the OCI registry holding the packages (https://registry.example.com)" -}}
{{- end -}}
{{- $kinds := list "distribution" "gitlab" "zot" "harbor" "github" "artifactory" "quay" "dockerhub" "acr" "gar" -}}
{{- if not (has .Values.registry.kind $kinds) -}}
{{- fail (printf "registry.kind must be one of %s, not %q" (join ", " $kinds) .Values.registry.kind) -}}
{{- end -}}
{{- if and .Values.nats.enabled .Values.nats.url -}}
{{- fail "set either nats.url (an external NATS) or nats.enabled (the NATS chart), not both" -}}
{{- end -}}
{{- if and (eq .Values.mode "distributed") (not .Values.nats.enabled) (not .Values.nats.url) -}}
{{- fail "mode distributed needs a NATS with JetStream: set nats.url, or nats.enabled=true for the NATS chart" -}}
{{- end -}}
{{- if and .Values.nats.enabled (not .Values.nats.config.jetstream.enabled) -}}
{{- fail "nats.enabled needs nats.config.jetstream.enabled: the event stream and the index are JetStream" -}}
{{- end -}}
{{- end -}}

{{/* The NATS chart's fullname, as that chart computes it. */}}
{{- define "package-registry.natsFullname" -}}
{{- if .Values.nats.fullnameOverride -}}
{{- .Values.nats.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "nats" .Values.nats.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The NATS URL every role uses; empty means the all-in-one's embedded server. */}}
{{- define "package-registry.natsURL" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s.%s.svc:4222" (include "package-registry.natsFullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/*
Replicas of the event stream and the package bucket: one value for every role, so that no role
creates them with a count another role does not expect. The NATS chart's cluster size when it is
installed, nats.streamReplicas for an external NATS, 1 for the embedded server.
*/}}
{{- define "package-registry.natsReplicas" -}}
{{- if .Values.nats.enabled -}}
{{- if .Values.nats.config.cluster.enabled -}}
{{- /* JetStream keeps at most 5 replicas of a stream. */ -}}
{{- min 5 (int .Values.nats.config.cluster.replicas) -}}
{{- else -}}
1
{{- end -}}
{{- else if .Values.nats.url -}}
{{- int .Values.nats.streamReplicas -}}
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* Secrets. */}}
{{- define "package-registry.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "package-registry.fullname" .)) .Values.webhook.token.existingSecret -}}
{{- end -}}

{{- define "package-registry.githubSecretName" -}}
{{- default (printf "%s-webhook" (include "package-registry.fullname" .)) .Values.webhook.githubSecret.existingSecret -}}
{{- end -}}

{{- define "package-registry.githubSecretKey" -}}
{{- if .Values.webhook.githubSecret.existingSecret -}}{{ .Values.webhook.githubSecret.existingSecretKey }}{{- else -}}github-secret{{- end -}}
{{- end -}}

{{- define "package-registry.webhookSecretKey" -}}
{{- if .Values.webhook.token.existingSecret -}}{{ .Values.webhook.token.existingSecretKey }}{{- else -}}token{{- end -}}
{{- end -}}

{{- define "package-registry.hasGithubSecret" -}}
{{- if or .Values.webhook.githubSecret.existingSecret .Values.webhook.githubSecret.value -}}true{{- end -}}
{{- end -}}

{{- define "package-registry.credentialsSecretName" -}}
{{- default (printf "%s-registry" (include "package-registry.fullname" .)) .Values.registry.credentials.existingSecret -}}
{{- end -}}

{{- define "package-registry.hasCredentials" -}}
{{- if or .Values.registry.credentials.existingSecret .Values.registry.credentials.dockerConfigJson -}}true{{- end -}}
{{- end -}}

{{/* Paths inside the containers. */}}
{{- define "package-registry.dataRoot" -}}/var/lib/package-registry{{- end -}}
{{- define "package-registry.dockerConfigDir" -}}/etc/package-registry/docker{{- end -}}

{{/* Security contexts: non-root (the image's UID 65532), read-only root, no capabilities. */}}
{{- define "package-registry.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "package-registry.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
Environment shared by every role: logging, metrics, the memory limit for the Go runtime, and the
user's extra variables. Call with (dict "root" $ "container" "api" "resources" .Values.api.resources).
*/}}
{{- define "package-registry.commonEnv" -}}
- name: EPR_LOG_LEVEL
  value: {{ .root.Values.log.level | quote }}
- name: EPR_LOG_TYPE
  value: {{ .root.Values.log.type | quote }}
- name: EPR_METRICS_ADDRESS
  value: {{ if .root.Values.metrics.enabled }}{{ printf ":%d" (int .root.Values.metrics.port) | quote }}{{ else }}""{{ end }}
{{- if and .resources .resources.limits .resources.limits.memory }}
# The Go runtime collects harder as the heap nears the container's limit instead of being killed.
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      containerName: {{ .container }}
      resource: limits.memory
{{- end }}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The registry connection: the indexer's and the API's (and the all-in-one's). */}}
{{- define "package-registry.registryEnv" -}}
- name: EPR_OCI_REGISTRY
  value: {{ .Values.registry.url | quote }}
- name: EPR_OCI_REPOSITORY
  value: {{ .Values.registry.repository | quote }}
- name: EPR_OCI_INSECURE
  value: {{ .Values.registry.insecure | quote }}
# Credentials come only from the mounted Docker config Secret; empty: anonymous.
- name: EPR_OCI_DOCKER_CONFIG
  value: {{ if include "package-registry.hasCredentials" . }}{{ printf "%s/config.json" (include "package-registry.dockerConfigDir" .) | quote }}{{ else }}""{{ end }}
{{- end -}}

{{/* The NATS connection and stream replicas of a role that talks to NATS. */}}
{{- define "package-registry.natsEnv" -}}
{{- $url := include "package-registry.natsURL" . -}}
{{- if $url }}
- name: EPR_NATS_URL
  value: {{ $url | quote }}
{{- end }}
- name: EPR_NATS_REPLICAS
  value: {{ include "package-registry.natsReplicas" . | quote }}
{{- end -}}

{{/* The webhook routes' token (and GitHub secret), from Secrets only. */}}
{{- define "package-registry.webhookEnv" -}}
- name: EPR_WEBHOOK_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "package-registry.webhookSecretName" . }}
      key: {{ include "package-registry.webhookSecretKey" . }}
{{- if include "package-registry.hasGithubSecret" . }}
- name: EPR_WEBHOOK_GITHUB_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "package-registry.githubSecretName" . }}
      key: {{ include "package-registry.githubSecretKey" . }}
{{- end }}
- name: EPR_PUBLISH_TIMEOUT
  value: {{ .Values.webhook.publishTimeout | quote }}
{{- end -}}

{{/* The indexer's own settings (the indexer role and the all-in-one). */}}
{{- define "package-registry.indexerEnv" -}}
- name: EPR_RESYNC_INTERVAL
  value: {{ .Values.indexer.resyncInterval | quote }}
- name: EPR_PARALLELISM
  value: {{ .Values.indexer.parallelism | quote }}
- name: EPR_REQUIRE_PACKAGE_SIGNATURES
  value: {{ .Values.indexer.requirePackageSignatures | quote }}
{{- end -}}

{{- define "package-registry.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "package-registry.hasCredentials" . }}
- name: registry-credentials
  mountPath: {{ include "package-registry.dockerConfigDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "package-registry.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if include "package-registry.hasCredentials" . }}
- name: registry-credentials
  secret:
    secretName: {{ include "package-registry.credentialsSecretName" . }}
    items:
      - key: .dockerconfigjson
        path: config.json
{{- end }}
{{- end -}}

{{/*
Probes on the real port of a role: liveness on /health, readiness on /health?ready=true, and a
startup probe that gives a start from an existing store its time (a replica of 50k versions
loads its bbolt in about 3 s; a cold one catches up from the bucket in 8-14 s).
*/}}
{{- define "package-registry.probes" -}}
startupProbe:
  httpGet:
    path: /health
    port: {{ .port }}
  periodSeconds: 2
  failureThreshold: 150
livenessProbe:
  httpGet:
    path: /health
    port: {{ .port }}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /health?ready=true
    port: {{ .port }}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{- define "package-registry.metricsPort" -}}
{{- if .Values.metrics.enabled }}
- name: metrics
  containerPort: {{ .Values.metrics.port }}
  protocol: TCP
{{- end }}
{{- end -}}

{{- define "package-registry.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "package-registry.podMeta" -}}
labels:
  {{- include "package-registry.selectorLabels" . | nindent 2 }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- /* No checksum of the Secrets here: even a hash of a token does not belong in an annotation. */}}
{{- with .root.Values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
