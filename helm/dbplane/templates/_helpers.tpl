{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "dbplane.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped prefix of every object name: "dbplane" for a release named dbplane. */}}
{{- define "dbplane.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "dbplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: dbplane
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
One service's values merged over `defaults:`, as YAML (read back with fromYaml):
  include "dbplane.serviceValues" (dict "root" $ "values" $values)
Maps merge key by key; lists and scalars of the service replace the defaults.
*/}}
{{- define "dbplane.serviceValues" -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy (default dict .values)) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Selector labels of one service: stable across upgrades, so never the version. */}}
{{- define "dbplane.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* All labels of one service's objects. */}}
{{- define "dbplane.serviceLabels" -}}
{{ include "dbplane.labels" .root }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Name of one service's objects: <fullname>-<service>. */}}
{{- define "dbplane.serviceFullname" -}}
{{- printf "%s-%s" (include "dbplane.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The namespace of the shards (the provisioner's objects): shards.namespace or <release ns>-shards. */}}
{{- define "dbplane.shardNamespace" -}}
{{- default (printf "%s-shards" .Release.Namespace) .Values.shards.namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The provisioner's shard CA: a Secret (with its key) and a ConfigMap (its certificate only). */ -}}
{{- define "dbplane.shardCaName" -}}
{{- printf "%s-shard-ca" (include "dbplane.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The ConfigMap whose ca.crt shard clients trust: cert-manager's issuer's CA, or the provisioner's. */ -}}
{{- define "dbplane.shardCaConfigMap" -}}
{{- if .Values.shards.tls.certManager.issuerName -}}
{{- required "shards.tls.certManager.caConfigMap: with an issuer, name the ConfigMap (key ca.crt) of the CA it signs with" .Values.shards.tls.certManager.caConfigMap -}}
{{- else -}}
{{- include "dbplane.shardCaName" . -}}
{{- end -}}
{{- end -}}

{{- define "dbplane.secretName" -}}
{{- default (printf "%s-secrets" (include "dbplane.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "dbplane.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats:4222" .Release.Name -}}
{{- else -}}
{{- .Values.externalNats.url -}}
{{- end -}}
{{- end -}}

{{- define "dbplane.image" -}}
{{- $repository := default (printf "%s/%s" .root.Values.image.registry .name) .svc.image.repository -}}
{{- $tag := default (default .root.Chart.AppVersion .root.Values.image.tag) .svc.image.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/*
Env entries for one secret key. Without an existing Secret or an explicit URL, the PostgreSQL
and Redis URLs are assembled in the pod from the subcharts' own generated passwords with
Kubernetes' $(VAR) expansion, so no password passes through values.
*/}}
{{- define "dbplane.secretEnv" -}}
{{- $v := .root.Values -}}
{{- if and (eq .key "DBPLANE_PG_URL") (not $v.secrets.existingSecret) (not $v.secrets.pgUrl) $v.platformPostgres.cloudnativepg.enabled }}
{{- if $v.postgresql.enabled }}
{{- fail "platformPostgres.cloudnativepg.enabled and postgresql.enabled: choose one platform PostgreSQL" }}
{{- end }}
- name: DBPLANE_PG_URL
  valueFrom:
    secretKeyRef:
      name: {{ .root.Release.Name }}-platform-pg-app
      key: uri
{{- else }}
{{- $fromSubchart := and (not $v.secrets.existingSecret) (or
      (and (eq .key "DBPLANE_PG_URL") (not $v.secrets.pgUrl) $v.postgresql.enabled)
      (and (eq .key "DBPLANE_REDIS_URL") (not $v.secrets.redisUrl) $v.redis.enabled)) -}}
{{- if $fromSubchart -}}
{{- if eq .key "DBPLANE_PG_URL" }}
- name: DBPLANE_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .root.Release.Name }}-postgresql
      key: password
- name: DBPLANE_PG_URL
  value: {{ printf "postgres://%s:$(DBPLANE_PG_PASSWORD)@%s-postgresql:5432/%s" $v.postgresql.auth.username .root.Release.Name $v.postgresql.auth.database | quote }}
{{- else }}
- name: DBPLANE_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .root.Release.Name }}-redis
      key: redis-password
- name: DBPLANE_REDIS_URL
  value: {{ printf "redis://:$(DBPLANE_REDIS_PASSWORD)@%s-redis-master:6379" .root.Release.Name | quote }}
{{- end }}
{{- else -}}
{{- if and (not $v.secrets.existingSecret) (eq .key "DBPLANE_PG_URL") (not $v.secrets.pgUrl) -}}
{{- fail "DBPLANE_PG_URL: set secrets.pgUrl, secrets.existingSecret or postgresql.enabled" -}}
{{- end -}}
{{- if and (not $v.secrets.existingSecret) (eq .key "DBPLANE_REDIS_URL") (not $v.secrets.redisUrl) -}}
{{- fail "DBPLANE_REDIS_URL: set secrets.redisUrl, secrets.existingSecret or redis.enabled" -}}
{{- end }}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "dbplane.secretName" .root }}
      key: {{ .key }}
{{- end -}}
{{- end -}}
{{- end -}}
