{{/*
Helpers of the Prometheus Operator and Grafana objects (servicemonitor.yaml,
prometheusrule.yaml, grafana-dashboard.yaml): their labels, their checks,
and the values files/rules.yaml and files/dashboard.json are filled with.
*/}}

{{/*
Labels of a monitoring object: the standard ones (component "monitoring"),
then the object's own. Call with (dict "ctx" $ "extra" MAP).
*/}}
{{- define "tenantd.monitoringLabels" -}}
{{- $labels := include "tenantd.labels" (dict "ctx" .ctx "component" "monitoring") | fromYaml }}
{{- range $name, $value := .extra }}
{{- $_ := set $labels $name $value }}
{{- end }}
{{- include "tenantd.stringMap" $labels }}
{{- end }}

{{/*
A Prometheus duration (1h30m, 30s, 500ms) in milliseconds.
*/}}
{{- define "tenantd.durationMs" -}}
{{- $total := 0 }}
{{- range $part := regexFindAll "[0-9]+(ms|h|m|s)" . -1 }}
{{- $number := atoi (regexFind "^[0-9]+" $part) }}
{{- if hasSuffix "ms" $part }}
{{- $total = add $total $number }}
{{- else if hasSuffix "h" $part }}
{{- $total = add $total (mul $number 3600000) }}
{{- else if hasSuffix "m" $part }}
{{- $total = add $total (mul $number 60000) }}
{{- else }}
{{- $total = add $total (mul $number 1000) }}
{{- end }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
The monitoring values the schema cannot judge alone (tenantd.validate
includes this).
*/}}
{{- define "tenantd.validateMonitoring" -}}
{{- $metrics := .Values.metrics }}
{{- range $name := list "serviceMonitor" "prometheusRule" "grafanaDashboard" }}
{{- if and (index $metrics $name).enabled (not $metrics.enabled) }}
{{- fail (printf "metrics.%s.enabled needs metrics.enabled=true: without it tenantd serves no metrics, so there is nothing to scrape, alert on or chart" $name) }}
{{- end }}
{{- end }}
{{- $monitor := $metrics.serviceMonitor }}
{{- if and $monitor.enabled $monitor.interval $monitor.scrapeTimeout }}
{{- if gt (int (include "tenantd.durationMs" $monitor.scrapeTimeout)) (int (include "tenantd.durationMs" $monitor.interval)) }}
{{- fail (printf "metrics.serviceMonitor.scrapeTimeout (%s) must not be longer than metrics.serviceMonitor.interval (%s): Prometheus refuses such a scrape" $monitor.scrapeTimeout $monitor.interval) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The label matchers of every selector in the rules: metrics.prometheusRule.selector,
or this release's namespace and the job the chart's ServiceMonitor scrapes as
(Prometheus names it after the Service).
*/}}
{{- define "tenantd.ruleSelector" -}}
{{- .Values.metrics.prometheusRule.selector | default (printf "namespace=%q,job=%q" .Release.Namespace (include "tenantd.fullname" .)) }}
{{- end }}

{{/*
The labels every recording rule keeps: namespace, job and whatever label the
selector matches on, so that the alerts can apply the same selector to the
recorded series and one release's alerts never fire on another's tenants.
*/}}
{{- define "tenantd.ruleGrouping" -}}
{{- $kept := list "namespace" "job" }}
{{- /* Label values may hold anything, "=" included: match names outside them. */}}
{{- $matchers := regexReplaceAll `"(\\.|[^"\\])*"` (include "tenantd.ruleSelector" .) `""` }}
{{- range $matcher := regexFindAll `[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)` $matchers -1 }}
{{- $name := regexFind `^[a-zA-Z_][a-zA-Z0-9_]*` $matcher }}
{{- /* Labels a rule groups by itself, or aggregates away, stay out. */}}
{{- if not (has $name (list "tenant" "le" "grpc_service" "grpc_method" "grpc_code")) }}
{{- $kept = append $kept $name }}
{{- end }}
{{- end }}
{{- uniq $kept | join ", " }}
{{- end }}

{{/*
A regular expression for the `le` label of the bucket bound
metrics.slo.latencyThresholdSeconds. Prometheus 3 stores a whole bound as
"1.0" where older servers and most exporters write "1"; the dot matches
itself, as no other character can stand there in a bound.
*/}}
{{- define "tenantd.sloLatencyLe" -}}
{{- $bound := include "tenantd.string" .Values.metrics.slo.latencyThresholdSeconds }}
{{- if contains "." $bound }}
{{- $bound }}
{{- else }}
{{- printf "%s(.0)?" $bound }}
{{- end }}
{{- end }}

{{/*
What files/rules.yaml is templated with, as YAML: every value a string.
*/}}
{{- define "tenantd.ruleValues" -}}
{{- $slo := .Values.metrics.slo }}
selector: {{ include "tenantd.ruleSelector" . | quote }}
by: {{ include "tenantd.ruleGrouping" . | quote }}
availability: {{ include "tenantd.string" $slo.availability | quote }}
latencyThreshold: {{ include "tenantd.string" $slo.latencyThresholdSeconds | quote }}
latencyLe: {{ include "tenantd.sloLatencyLe" . | quote }}
latencyTarget: {{ include "tenantd.string" $slo.latencyTarget | quote }}
{{- end }}
