{{/*
Names, labels and images shared by the chart's templates.
*/}}

{{/* The chart's name (aegis-operator), at most 63 characters. */}}
{{- define "aegis-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the release's objects: the release name when it already
contains the chart's name (so `helm install aegis-operator ...` names
everything aegis-operator, as manifests/ does), else release-chart.
*/}}
{{- define "aegis-operator.fullname" -}}
{{- $name := include "aegis-operator.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "aegis-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select the operator's pods. */}}
{{- define "aegis-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aegis-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels every object carries besides its name/instance/component. */}}
{{- define "aegis-operator.commonLabels" -}}
helm.sh/chart: {{ include "aegis-operator.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aegis
{{- end }}

{{/* The standard labels of the operator's objects. */}}
{{- define "aegis-operator.labels" -}}
{{ include "aegis-operator.selectorLabels" . }}
{{ include "aegis-operator.commonLabels" . }}
{{- end }}

{{/* The labels that select the `helm test` pod. */}}
{{- define "aegis-operator.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "aegis-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{/*
The labels of the engine pods the operator makes (operator/src/desired.rs,
`labels`): what the PodMonitor and the engine NetworkPolicy select.
*/}}
{{- define "aegis-operator.engineSelectorLabels" -}}
app.kubernetes.io/name: aegis-engine
app.kubernetes.io/component: engine
app.kubernetes.io/managed-by: aegis-operator
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "aegis-operator.serviceAccountName" -}}
{{- include "aegis-operator.fullname" . }}
{{- end }}

{{/* The Lease's namespace: leaderElection.leaseNamespace or the release's. */}}
{{- define "aegis-operator.leaseNamespace" -}}
{{- .Values.leaderElection.leaseNamespace | default .Release.Namespace }}
{{- end }}

{{/*
An image reference from {repository, tag, digest} and the chart's
appVersion: repository@digest when a digest is set, else repository:tag
(tag defaulting to the appVersion).
Call: include "aegis-operator.image" (dict "image" .Values.image "context" $)
*/}}
{{- define "aegis-operator.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (.image.tag | default .context.Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The hardened container securityContext shared by the operator and the test
pod: non-root UID 65532, read-only root, no privilege escalation, no
capabilities, the runtime's default seccomp profile.
*/}}
{{- define "aegis-operator.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The pod securityContext shared by the operator and the test pod. */}}
{{- define "aegis-operator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
