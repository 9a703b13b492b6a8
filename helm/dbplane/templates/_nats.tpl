{{/*
NATS authentication (values `natsAuth`): every service connects as its own user, whose
permissions files/nats-permissions.json holds (generated from the contracts by
`pnpm deploy:generate`, checked by `pnpm deploy:check`).
*/}}

{{/* Env of one service's NATS user, from the natsAuth Secret. The keys are optional: without
the Secret (an overlay's unauthenticated NATS) the service connects anonymously, and a server
with auth refuses it, so a missing Secret fails closed. */}}
{{- define "dbplane.natsAuthEnv" -}}
{{- $auth := .root.Values.natsAuth -}}
{{- if $auth.enabled }}
- name: DBPLANE_NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $auth.secretName }}
      key: {{ printf "%s-user" .name }}
      optional: true
- name: DBPLANE_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $auth.secretName }}
      key: {{ printf "%s-password" .name }}
      optional: true
{{- end }}
{{- end -}}

{{/* The `accounts` block of nats-server's config: one account with JetStream, one user per
service with its generated permissions plus values' natsAuth.extraPublish.<service>. */}}
{{- define "dbplane.natsAccounts" -}}
{{- $perms := .root.Files.Get "files/nats-permissions.json" | fromJson -}}
{{- $users := list -}}
{{- range $service := keys .root.Values.services | sortAlpha -}}
{{- /* A service the contracts do not know (one added under services:) may publish only its extraPublish,
and read only its own inbox (the bus uses _INBOX_<service> as the inbox prefix). */ -}}
{{- $p := index $perms $service | default (dict "publish" (dict "allow" list "deny" list) "subscribe" (dict "allow" (list (printf "_INBOX_%s.>" $service)))) -}}
{{- $extra := index ($.root.Values.natsAuth.extraPublish | default dict) $service | default list -}}
{{- $publish := dict "allow" (concat $p.publish.allow $extra) "deny" $p.publish.deny -}}
{{- $permissions := dict "publish" $publish "subscribe" $p.subscribe -}}
{{- $users = append $users (dict "user" $service "password" (index $.passwords $service) "permissions" $permissions) -}}
{{- end -}}
{{- /* toJson writes >, < and & as \u escapes, which nats-server's parser does not read. */ -}}
{{- dict "DBPLANE" (dict "jetstream" "enabled" "users" $users) | toJson | replace "\\u003e" ">" | replace "\\u003c" "<" | replace "\\u0026" "&" -}}
{{- end -}}
