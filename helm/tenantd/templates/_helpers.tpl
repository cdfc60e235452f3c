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
A scalar value as the string Kubernetes wants. Helm reads every number of
values as a float, which toString would print as 1e+06: whole numbers are
printed as integers. Nothing (a value removed with null) is "".
*/}}
{{- define "tenantd.string" -}}
{{- if kindIs "invalid" . }}
{{- /* A value set to null: Helm removed it. */}}
{{- else if and (kindIs "float64" .) (eq (float64 (int64 .)) .) }}
{{- int64 . | toString }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
An IntOrString value (a count, or a percentage such as "25%") as YAML.
*/}}
{{- define "tenantd.intOrString" -}}
{{- if kindIs "string" . }}
{{- quote . }}
{{- else }}
{{- int64 . }}
{{- end }}
{{- end }}

{{/*
A name -> scalar map (labels, annotations) as YAML with every value quoted.
*/}}
{{- define "tenantd.stringMap" -}}
{{- $strings := dict }}
{{- range $name, $value := . }}
{{- $_ := set $strings $name (include "tenantd.string" $value) }}
{{- end }}
{{- toYaml $strings }}
{{- end }}

{{/*
Standard labels. Call with (dict "ctx" $ "component" "server"). commonLabels
may replace the informational ones, never the selector labels (refused in
tenantd.validate), and each key appears once.
*/}}
{{- define "tenantd.labels" -}}
{{- $labels := include "tenantd.selectorLabels" . | fromYaml }}
{{- $_ := set $labels "helm.sh/chart" (include "tenantd.chart" .ctx) }}
{{- $_ := set $labels "app.kubernetes.io/version" (include "tenantd.imageTag" .ctx | replace "+" "_" | replace "@" "_" | replace ":" "_" | trunc 63 | trimSuffix "-") }}
{{- $_ := set $labels "app.kubernetes.io/part-of" (.ctx.Values.partOf | default (include "tenantd.name" .ctx)) }}
{{- $_ := set $labels "app.kubernetes.io/managed-by" .ctx.Release.Service }}
{{- range $name, $value := .ctx.Values.commonLabels }}
{{- $_ := set $labels $name $value }}
{{- end }}
{{- include "tenantd.stringMap" $labels }}
{{- end }}

{{/*
Labels of the server pods: the standard ones and podLabels.
*/}}
{{- define "tenantd.podLabels" -}}
{{- $labels := include "tenantd.labels" (dict "ctx" . "component" "server") | fromYaml }}
{{- range $name, $value := .Values.podLabels }}
{{- $_ := set $labels $name $value }}
{{- end }}
{{- include "tenantd.stringMap" $labels }}
{{- end }}

{{/*
Whether more than one server pod may run: "true" or "".
*/}}
{{- define "tenantd.multiReplica" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
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
Key of the table owner's URL (migration Job, SCHEMA tenants' DDL):
migrationSecretKey, or secretKey.
*/}}
{{- define "tenantd.migrationSecretKey" -}}
{{- .Values.database.migrationSecretKey | default .Values.database.secretKey }}
{{- end }}

{{/*
Secret of the table owner's URL: migrationExistingSecret, or the database Secret.
*/}}
{{- define "tenantd.migrationSecretName" -}}
{{- .Values.database.migrationExistingSecret | default (include "tenantd.databaseSecretName" .) }}
{{- end }}

{{/*
Name of the Secret holding the callers' tokens (never created by the chart).
*/}}
{{- define "tenantd.authSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "tenantd.fullname" .)) }}
{{- end }}

{{/*
Name of the Secret holding the Redis URL (never created by the chart).
*/}}
{{- define "tenantd.tlsSecretName" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "tenantd.fullname" .)) }}
{{- end }}

{{/*
The port the kubelet's probes ask: the gRPC port, or the plaintext health
port while TLS is on.
*/}}
{{- define "tenantd.probePort" -}}
{{- if .Values.tls.enabled }}{{ .Values.tls.healthPort }}{{ else }}{{ .Values.containerPort }}{{ end }}
{{- end }}

{{- define "tenantd.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "tenantd.fullname" .)) }}
{{- end }}

{{/*
A secretKeyRef env entry body. Call with (list NAME KEY OPTIONAL).
*/}}
{{- define "tenantd.secretEnv" -}}
{{- $ref := dict "name" (index . 0) "key" (index . 1) }}
{{- if index . 2 }}
{{- $_ := set $ref "optional" true }}
{{- end }}
{{- toYaml (dict "valueFrom" (dict "secretKeyRef" $ref)) }}
{{- end }}

{{/*
Plain settings shared by the server and the migration Job (which runs before
the ConfigMap exists on install), as a name -> string map in YAML.
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
Plain settings of the server, as a name -> string map in YAML.
*/}}
{{- define "tenantd.serverPlainEnv" -}}
{{ include "tenantd.commonEnv" . }}
TENANTD_LISTEN_ADDR: {{ printf "0.0.0.0:%d" (int .Values.containerPort) | quote }}
TENANTD_BASE_DOMAIN: {{ .Values.config.baseDomain | default "" | toString | quote }}
TENANTD_PURGE_AFTER_DAYS: {{ include "tenantd.string" .Values.config.purgeAfterDays | quote }}
TENANTD_DRAIN_DELAY_SECONDS: {{ include "tenantd.string" .Values.config.drainDelaySeconds | quote }}
TENANTD_MAX_CONNECTION_AGE_SECONDS: {{ include "tenantd.string" .Values.config.maxConnectionAgeSeconds | quote }}
TENANTD_MAX_CONNECTION_AGE_GRACE_SECONDS: {{ include "tenantd.string" .Values.config.maxConnectionAgeGraceSeconds | quote }}
TENANTD_HTTP2_KEEPALIVE_SECONDS: {{ include "tenantd.string" .Values.config.http2KeepaliveSeconds | quote }}
TENANTD_SHUTDOWN_GRACE_SECONDS: {{ include "tenantd.string" .Values.config.shutdownGraceSeconds | quote }}
{{- if .Values.config.maxDbConnections }}
TENANTD_MAX_DB_CONNECTIONS: {{ include "tenantd.string" .Values.config.maxDbConnections | quote }}
{{- end }}
{{- if .Values.config.dnsResolver }}
TENANTD_DNS_RESOLVER: {{ .Values.config.dnsResolver | toString | quote }}
{{- end }}
{{- if .Values.config.tenantTemplateDir }}
TENANTD_TENANT_TEMPLATE_DIR: {{ .Values.config.tenantTemplateDir | toString | quote }}
{{- end }}
{{- if .Values.config.configSchemaFile }}
TENANTD_CONFIG_SCHEMA_FILE: {{ .Values.config.configSchemaFile | toString | quote }}
{{- end }}
TENANTD_TENANT_JOBS_INTERVAL_SECONDS: {{ include "tenantd.string" .Values.config.tenantJobsIntervalSeconds | quote }}
{{- if .Values.metrics.enabled }}
TENANTD_METRICS_ADDR: {{ printf "0.0.0.0:%d" (int .Values.metrics.port) | quote }}
{{- end }}
{{- if .Values.tls.enabled }}
TENANTD_TLS_CERT: "/etc/tenantd/tls/tls.crt"
TENANTD_TLS_KEY: "/etc/tenantd/tls/tls.key"
TENANTD_HEALTH_LISTEN_ADDR: {{ printf "0.0.0.0:%d" (int .Values.tls.healthPort) | quote }}
{{- if .Values.tls.clientAuth }}
TENANTD_TLS_CLIENT_CA: "/etc/tenantd/tls/ca.crt"
{{- if .Values.tls.clientServices }}
TENANTD_TLS_CLIENT_SERVICES: {{ .Values.tls.clientServices | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.redis.enabled }}
TENANTD_REDIS_CLUSTER: {{ .Values.redis.cluster | toString | quote }}
TENANTD_REDIS_FAILURE: {{ .Values.redis.failurePolicy | toString | quote }}
{{- end }}
{{- if .Values.migration.enabled }}
# The migration Job (a pre-install/pre-upgrade hook) migrates.
TENANTD_NO_MIGRATE: "true"
{{- end }}
{{- end }}

{{/*
Settings of the server read from Secrets, as a name -> env entry body map.
*/}}
{{- define "tenantd.serverSecretEnv" -}}
TENANTD_DATABASE_URL:
  {{- include "tenantd.secretEnv" (list (include "tenantd.databaseSecretName" .) .Values.database.secretKey false) | nindent 2 }}
# SCHEMA tenants' schemas and roles are made and dropped as the owner
# (CREATEROLE, CREATE on the database), never as the serving role.
TENANTD_MIGRATION_DATABASE_URL:
  {{- include "tenantd.secretEnv" (list (include "tenantd.migrationSecretName" .) (include "tenantd.migrationSecretKey" .) false) | nindent 2 }}
TENANTD_ADMIN_TOKENS:
  {{- include "tenantd.secretEnv" (list (include "tenantd.authSecretName" .) "admin-tokens" false) | nindent 2 }}
TENANTD_SERVICE_TOKENS:
  {{- include "tenantd.secretEnv" (list (include "tenantd.authSecretName" .) "service-tokens" true) | nindent 2 }}
TENANTD_PAGE_TOKEN_KEY:
  {{- include "tenantd.secretEnv" (list (include "tenantd.authSecretName" .) "page-token-key" true) | nindent 2 }}
{{- if .Values.redis.enabled }}
TENANTD_REDIS_URL:
  {{- include "tenantd.secretEnv" (list (include "tenantd.redisSecretName" .) .Values.redis.secretKey false) | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Splits environment variables between the ConfigMap and the container's env
so that no name appears twice. Call with (dict "plain" MAP "secret" MAP
"extra" (list MAP...)): each extra map, in order, replaces what came before
it, a scalar value going to "plain" and a {valueFrom: ...} value to "secret".
Returns {plain: name -> string, secret: name -> env entry body} as YAML.
*/}}
{{- define "tenantd.envPlan" -}}
{{- $plain := .plain }}
{{- $secret := .secret }}
{{- range $extra := .extra }}
{{- range $name, $value := $extra }}
{{- if kindIs "map" $value }}
{{- $_ := unset $plain $name }}
{{- $_ := set $secret $name $value }}
{{- else }}
{{- $_ := unset $secret $name }}
{{- $_ := set $plain $name (include "tenantd.string" $value) }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml (dict "plain" $plain "secret" $secret) }}
{{- end }}

{{/*
The server's environment plan (see tenantd.envPlan).
*/}}
{{- define "tenantd.serverEnv" -}}
{{- include "tenantd.envPlan" (dict "plain" (include "tenantd.serverPlainEnv" . | fromYaml) "secret" (include "tenantd.serverSecretEnv" . | fromYaml) "extra" (list .Values.extraEnv)) }}
{{- end }}

{{/*
A plan's variables as a container's env list, sorted by name: the "plain"
ones as values (unless "plainInConfigMap"), the "secret" ones as they are.
Call with (dict "plan" PLAN "plainInConfigMap" BOOL).
*/}}
{{- define "tenantd.envList" -}}
{{- $entries := dict }}
{{- if not .plainInConfigMap }}
{{- range $name, $value := .plan.plain }}
{{- $_ := set $entries $name (dict "name" $name "value" $value) }}
{{- end }}
{{- end }}
{{- range $name, $body := .plan.secret }}
{{- $_ := set $entries $name (merge (dict "name" $name) $body) }}
{{- end }}
{{- $list := list }}
{{- range $name := keys $entries | sortAlpha }}
{{- $list = append $list (get $entries $name) }}
{{- end }}
{{- with $list }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
The chart's own checks, included by the Deployment: values the schema
cannot judge alone.
*/}}
{{- define "tenantd.validate" -}}
{{- $drain := add (int .Values.config.drainDelaySeconds) (int .Values.config.shutdownGraceSeconds) }}
{{- if le (int .Values.terminationGracePeriodSeconds) $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than config.drainDelaySeconds plus config.shutdownGraceSeconds (%d), or in-flight calls are killed before they finish" (int .Values.terminationGracePeriodSeconds) $drain) }}
{{- end }}
{{- if and .Values.tls.clientAuth (not .Values.tls.enabled) }}
{{- fail "tls.clientAuth needs tls.enabled: client certificates are asked for in the TLS handshake" }}
{{- end }}
{{- if and .Values.tls.clientServices (not .Values.tls.clientAuth) }}
{{- fail "tls.clientServices needs tls.clientAuth: only verified client certificates name services" }}
{{- end }}
{{- if and .Values.tls.enabled (or (eq (int .Values.tls.healthPort) (int .Values.containerPort)) (and .Values.metrics.enabled (eq (int .Values.tls.healthPort) (int .Values.metrics.port)))) }}
{{- fail "tls.healthPort must differ from containerPort and metrics.port" }}
{{- end }}
{{- if and .Values.tests.enabled .Values.tls.clientAuth (not .Values.tls.testClientSecret) }}
{{- fail "tests.enabled with tls.clientAuth needs tls.testClientSecret: the helm test pod must present a client certificate (or set tests.enabled=false)" }}
{{- end }}
{{- if and (include "tenantd.multiReplica" .) (not .Values.redis.enabled) (not .Values.redis.allowPerReplicaCounters) }}
{{- $replicas := ternary (printf "autoscaling.maxReplicas is %d" (int .Values.autoscaling.maxReplicas)) (printf "replicaCount is %d" (int .Values.replicaCount)) .Values.autoscaling.enabled }}
{{- fail (printf "%s but Redis is not configured: each replica would count quotas on its own, so every quota would admit up to that many times its limit. Set redis.enabled=true and redis.existingSecret to a Secret whose key %q holds the Redis URL, or set redis.allowPerReplicaCounters=true to accept per-replica counting" $replicas .Values.redis.secretKey) }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.containerPort)) }}
{{- fail (printf "metrics.port (%d) must differ from containerPort, where gRPC is served" (int .Values.metrics.port)) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (eq (include "tenantd.string" $pdb.minAvailable) "") (eq (include "tenantd.string" $pdb.maxUnavailable) "") }}
{{- fail "podDisruptionBudget needs maxUnavailable or minAvailable" }}
{{- end }}
{{- if and $pdb.enabled (ne (include "tenantd.string" $pdb.minAvailable) "") (ne (include "tenantd.string" $pdb.maxUnavailable) "") }}
{{- fail "podDisruptionBudget takes maxUnavailable or minAvailable, not both: set the other to \"\"" }}
{{- end }}
{{- range $name := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" }}
{{- if or (hasKey $.Values.commonLabels $name) (hasKey $.Values.podLabels $name) }}
{{- fail (printf "commonLabels and podLabels may not set %s: it is one of the chart's selector labels" $name) }}
{{- end }}
{{- end }}
{{- range $.Values.extraVolumes }}
{{- if eq (toString .name) "tmp" }}
{{- fail "extraVolumes may not be named \"tmp\": the chart mounts its own scratch volume under that name" }}
{{- end }}
{{- end }}
{{- include "tenantd.validateMonitoring" . }}
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
