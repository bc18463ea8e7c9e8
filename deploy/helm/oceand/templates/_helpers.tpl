{{/* The chart's name, and the release's full name (63 characters at most). */}}
{{- define "oceand.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "oceand.fullname" -}}
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

{{- define "oceand.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oceand.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "oceand.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "oceand.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "oceand.secretName" -}}
{{- if .Values.secret.useExistingSecret }}
{{- required "secret.name is required with secret.useExistingSecret" .Values.secret.name }}
{{- else }}
{{- default (include "oceand.fullname" .) .Values.secret.name }}
{{- end }}
{{- end }}

{{- define "oceand.claimName" -}}
{{- default (printf "%s-state" (include "oceand.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* An environment value: objects and lists as JSON, the rest as a string. */}}
{{- define "oceand.envValue" -}}
{{- if or (kindIs "map" .) (kindIs "slice" .) }}
{{- toJson . }}
{{- else if and (kindIs "float64" .) (eq . (floor .)) }}
{{- /* YAML numbers arrive as float64: 1000000, not 1e+06. */}}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* The event listener's settings, as JSON: Ocean's port-ocean chart takes
them under integration.eventListener, which wins over eventListener (whose
default type POLLING would otherwise hide an Ocean values file's). */}}
{{- define "oceand.eventListener" -}}
{{- toJson (merge (deepCopy (default dict .Values.integration.eventListener)) (default dict .Values.eventListener)) }}
{{- end }}

{{/* The listener's type as oceand will run it. */}}
{{- define "oceand.listenerType" -}}
{{- if eq .Values.mode "cronjob" }}ONCE{{ else }}{{ default "POLLING" (include "oceand.eventListener" . | fromJson).type | upper }}{{ end }}
{{- end }}

{{/* Checks that no template can express on its own. */}}
{{- define "oceand.validate" -}}
{{- if not (has .Values.mode (list "deployment" "cronjob")) }}
{{- fail (printf "mode must be deployment or cronjob, not %q" .Values.mode) }}
{{- end }}
{{- $_ := required "integration.type is required (a source built into oceand, e.g. fake)" .Values.integration.type }}
{{- if and (eq .Values.mode "deployment") (eq (include "oceand.listenerType" .) "ONCE") }}
{{- fail "eventListener.type ONCE exits after one resync, and a Deployment would restart it forever: use mode: cronjob" }}
{{- end }}
{{- $eventListener := include "oceand.eventListener" . | fromJson }}
{{- if and (eq (include "oceand.listenerType" .) "WEBHOOK") (not $eventListener.appHost) }}
{{- fail "eventListener.appHost is required for the WEBHOOK listener: the URL Port calls (<appHost>/resync), e.g. the Service's Ingress" }}
{{- end }}
{{- if .Values.secret.useExistingSecret }}
{{- if or .Values.port.clientId .Values.port.clientSecret .Values.integration.secrets $eventListener.webhookSecret }}
{{- fail (printf "with secret.useExistingSecret, port.clientId/clientSecret, integration.secrets and eventListener.webhookSecret go into the Secret %q as OCEAN__ variables, not into values" (toString .Values.secret.name)) }}
{{- end }}
{{- else }}
{{- $_ := required "port.clientId is required (or secret.useExistingSecret with secret.name)" .Values.port.clientId }}
{{- $_ := required "port.clientSecret is required (or secret.useExistingSecret with secret.name)" .Values.port.clientSecret }}
{{- end }}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) (not (has "ReadWriteOnce" .Values.persistence.accessModes)) (not (has "ReadWriteOncePod" .Values.persistence.accessModes)) }}
{{- fail "persistence.accessModes: the state file has one writer; use ReadWriteOnce or ReadWriteOncePod" }}
{{- end }}
{{- end }}

{{/* The pod spec the Deployment and the CronJob share. */}}
{{- define "oceand.podSpec" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
{{- if eq .Values.mode "cronjob" }}
restartPolicy: Never
{{- end }}
containers:
  - name: oceand
    image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args: ["run"]
    envFrom:
      - configMapRef:
          name: {{ include "oceand.fullname" . }}
      - secretRef:
          name: {{ include "oceand.secretName" . }}
    {{- with .Values.extraEnv }}
    env:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if eq .Values.mode "deployment" }}
    ports:
      - name: http
        containerPort: {{ .Values.application.port }}
        protocol: TCP
    {{- with .Values.startupProbe }}
    {{- if .enabled }}
    startupProbe:
      httpGet:
        path: /health/live
        port: http
      periodSeconds: {{ .periodSeconds }}
      timeoutSeconds: {{ .timeoutSeconds }}
      failureThreshold: {{ .failureThreshold }}
    {{- end }}
    {{- end }}
    {{- with .Values.livenessProbe }}
    {{- if .enabled }}
    livenessProbe:
      httpGet:
        path: /health/live
        port: http
      initialDelaySeconds: {{ .initialDelaySeconds }}
      periodSeconds: {{ .periodSeconds }}
      timeoutSeconds: {{ .timeoutSeconds }}
      failureThreshold: {{ .failureThreshold }}
    {{- end }}
    {{- end }}
    {{- with .Values.readinessProbe }}
    {{- if .enabled }}
    readinessProbe:
      httpGet:
        path: /health/ready
        port: http
      initialDelaySeconds: {{ .initialDelaySeconds }}
      periodSeconds: {{ .periodSeconds }}
      timeoutSeconds: {{ .timeoutSeconds }}
      failureThreshold: {{ .failureThreshold }}
    {{- end }}
    {{- end }}
    {{- end }}
    securityContext:
      {{- toYaml .Values.containerSecurityContext | nindent 6 }}
    resources:
      {{- toYaml .Values.resources | nindent 6 }}
    volumeMounts:
      - name: state
        mountPath: {{ .Values.stateDir }}
      {{- with .Values.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  - name: state
    {{- if .Values.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ include "oceand.claimName" . }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod metadata: labels, and checksums that roll the pod when settings change. */}}
{{- define "oceand.podMetadata" -}}
labels:
  {{- include "oceand.selectorLabels" . | nindent 2 }}
  {{- with .Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
  {{- if not .Values.secret.useExistingSecret }}
  checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
  {{- end }}
  {{- with .Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
