{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "tenantd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full resource name: <release>-<chart name>, or the release name alone when it
already contains the chart name; overridable with fullnameOverride.
*/}}
{{- define "tenantd.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "tenantd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Image tag: image.tag, or the chart's appVersion.
*/}}
{{- define "tenantd.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
Full image reference; a digest, when given, pins it.
*/}}
{{- define "tenantd.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "tenantd.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Selector labels. Call with (dict "ctx" $ "component" "server").
The component keeps the Service from selecting migration pods.
*/}}
{{- define "tenantd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantd.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Standard labels. Call with (dict "ctx" $ "component" "server").
*/}}
{{- define "tenantd.labels" -}}
helm.sh/chart: {{ include "tenantd.chart" .ctx }}
{{ include "tenantd.selectorLabels" . }}
app.kubernetes.io/version: {{ include "tenantd.imageTag" .ctx | replace "+" "_" | replace "@" "_" | replace ":" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: {{ .ctx.Values.partOf | default (include "tenantd.name" .ctx) }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
ServiceAccount of the server pods.
*/}}
{{- define "tenantd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tenantd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the database URL (never created by the chart).
*/}}
{{- define "tenantd.databaseSecretName" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "tenantd.fullname" .)) }}
{{- end }}

{{/*
Key of the database URL for the migration Job: migrationSecretKey, or secretKey.
*/}}
{{- define "tenantd.migrationSecretKey" -}}
{{- .Values.database.migrationSecretKey | default .Values.database.secretKey }}
{{- end }}

{{/*
Environment shared by the ConfigMap (server) and the migration Job (which runs
before the ConfigMap exists on install), as a name -> string map in YAML.
*/}}
{{- define "tenantd.commonEnv" -}}
TENANTD_LOG_FORMAT: {{ .Values.config.logFormat | toString | quote }}
TENANTD_LOG: {{ .Values.config.log | toString | quote }}
{{- if .Values.otel.endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.otel.endpoint | toString | quote }}
OTEL_SERVICE_NAME: {{ .Values.otel.serviceName | default (include "tenantd.name" .) | toString | quote }}
{{- end }}
{{- end }}

{{/*
Environment of the server, rendered into the ConfigMap.
*/}}
{{- define "tenantd.serverEnv" -}}
{{ include "tenantd.commonEnv" . }}
TENANTD_LISTEN_ADDR: {{ printf "0.0.0.0:%d" (int .Values.containerPort) | quote }}
TENANTD_BASE_DOMAIN: {{ .Values.config.baseDomain | default "" | toString | quote }}
TENANTD_PURGE_AFTER_DAYS: {{ .Values.config.purgeAfterDays | toString | quote }}
TENANTD_SHUTDOWN_GRACE_SECONDS: {{ .Values.config.shutdownGraceSeconds | toString | quote }}
{{- if .Values.config.maxDbConnections }}
TENANTD_MAX_DB_CONNECTIONS: {{ .Values.config.maxDbConnections | toString | quote }}
{{- end }}
{{- if .Values.config.dnsResolver }}
TENANTD_DNS_RESOLVER: {{ .Values.config.dnsResolver | toString | quote }}
{{- end }}
{{- if .Values.config.tenantTemplateDir }}
TENANTD_TENANT_TEMPLATE_DIR: {{ .Values.config.tenantTemplateDir | toString | quote }}
{{- end }}
TENANTD_TENANT_JOBS_INTERVAL_SECONDS: {{ .Values.config.tenantJobsIntervalSeconds | toString | quote }}
{{- range $name, $value := .Values.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
Pod security context and container security context, shared by the server
and the migration Job.
*/}}
{{- define "tenantd.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "tenantd.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}
