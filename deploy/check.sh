#!/usr/bin/env bash
# Checks the Helm chart: helm lint, helm template in both modes with the value
# sets in deploy/helm/oceand/ci/, assertions on what it renders, and
# `oceand config validate` on the variables it renders, so a key the chart
# names wrongly fails here rather than in a cluster; then systemd-analyze
# verify on the systemd unit, where systemd is installed.
#
# Needs Go and the Go module proxy (helm is built from its module, once per
# build cache); nothing else from the network.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_MODULE=helm.sh/helm/v4/cmd/helm@v4.3.2
chart=deploy/helm/oceand
values=$chart/ci

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# helm keeps its repositories and plugins here, not in $HOME.
export HELM_CACHE_HOME=$work/helm/cache HELM_CONFIG_HOME=$work/helm/config HELM_DATA_HOME=$work/helm/data

start=$SECONDS
# HELM names a helm binary to use instead (a quicker rerun).
helm=${HELM:-}
if [ -z "$helm" ]; then
	GOBIN=$work/bin go install "$HELM_MODULE"
	helm=$work/bin/helm
fi
go build -o "$work/bin/oceand" ./cmd/oceand
echo "check.sh: $("$helm" version --template '{{.Version}}') and oceand ready in $((SECONDS - start))s"

failures=0
fail() {
	echo "check.sh: FAIL: $*" >&2
	failures=$((failures + 1))
}

# doc FILE KIND prints the rendered documents of that kind.
doc() {
	awk -v want="kind: $2" '
		/^---$/ { if (found) printf "%s", buf; buf = ""; found = 0; next }
		{ buf = buf $0 "\n"; if ($0 == want) found = 1 }
		END { if (found) printf "%s", buf }' "$1"
}

# has WHAT TEXT REGEX... fails for each extended regex TEXT lacks.
has() {
	local what=$1 text=$2
	shift 2
	for re in "$@"; do
		grep -qE -- "$re" <<<"$text" || fail "$what: no line matches /$re/"
	done
}

# hasnt WHAT TEXT REGEX... fails for each extended regex TEXT matches.
hasnt() {
	local what=$1 text=$2
	shift 2
	for re in "$@"; do
		if grep -qE -- "$re" <<<"$text"; then
			fail "$what: a line matches /$re/: $(grep -E -- "$re" <<<"$text" | head -1)"
		fi
	done
}

render() {
	local out=$1
	shift
	"$helm" template oceand "$chart" --namespace oceand "$@" >"$work/$out.yaml"
}

# refuses NAME MESSAGE ARGS...: helm template must fail, saying MESSAGE.
refuses() {
	local name=$1 message=$2
	shift 2
	if "$helm" template oceand "$chart" "$@" >"$work/$name.out" 2>&1; then
		fail "$name: helm template accepted $*"
	elif ! grep -qF -- "$message" "$work/$name.out"; then
		fail "$name: helm template failed without saying \"$message\": $(cat "$work/$name.out")"
	fi
}

# validate NAME FILE [VAR=VALUE...]: `oceand config validate` on the
# ConfigMap's and the Secret's variables (and VARs, the keys of an existing
# Secret), in an empty directory, with no other OCEAN__ variable.
validate() {
	local name=$1 file=$2
	shift 2
	local -a vars=("$@")
	local key value
	while IFS=$'\t' read -r key value; do
		vars+=("$key=$value")
	done < <(doc "$file" ConfigMap | awk '
		/^data:/ { data = 1; next }
		data && /^  [A-Z_]+: "/ {
			key = $1; sub(/:$/, "", key)
			value = $0; sub(/^  [A-Z_]+: "/, "", value); sub(/"$/, "", value)
			gsub(/\\"/, "\"", value); gsub(/\\\\/, "\\", value)
			print key "\t" value
		}')
	while IFS=$'\t' read -r key value; do
		vars+=("$key=$(base64 -d <<<"$value")")
	done < <(doc "$file" Secret | awk '
		/^data:/ { data = 1; next }
		data && /^  [A-Z_]+: "/ { key = $1; sub(/:$/, "", key); v = $2; gsub(/"/, "", v); print key "\t" v }')
	mkdir -p "$work/$name.dir"
	local out
	if ! out=$(cd "$work/$name.dir" && env -i PATH="$PATH" "${vars[@]}" "$work/bin/oceand" config validate 2>&1); then
		fail "$name: oceand config validate refused the chart's variables:
$out"
		return
	fi
	hasnt "$name: oceand config validate" "$out" '[Uu]nknown' 'did you mean'
}

# --- lint ----------------------------------------------------------------
for f in "$values"/*.yaml; do
	"$helm" lint --strict "$chart" -f "$f" >"$work/lint.out" 2>&1 || fail "helm lint -f $f: $(cat "$work/lint.out")"
done
# With the defaults too (lint lets `required` pass; template does not, below).
"$helm" lint --strict "$chart" >"$work/lint.out" 2>&1 || fail "helm lint with the defaults: $(cat "$work/lint.out")"

# --- POLLING Deployment, the chart's Secret ------------------------------
render polling -f "$values/polling-values.yaml"
out=$work/polling.yaml
dep=$(doc "$out" Deployment)
cm=$(doc "$out" ConfigMap)
sec=$(doc "$out" Secret)
has "polling Deployment" "$dep" \
	'^  replicas: 1$' '^    type: Recreate$' \
	'claimName: oceand-state$' \
	'path: /health/live$' 'path: /health/ready$' 'startupProbe:' \
	'readOnlyRootFilesystem: true' 'runAsNonRoot: true' 'runAsUser: 65532' \
	'allowPrivilegeEscalation: false' 'automountServiceAccountToken: false' \
	'mountPath: /var/lib/oceand$' 'containerPort: 8000$' \
	'args: \["run"\]' 'checksum/secret:' \
	'name: APPLICATION__LOG_LEVEL'
has "polling PersistentVolumeClaim" "$(doc "$out" PersistentVolumeClaim)" \
	'^  name: oceand-state$' 'storage: 1Gi' '- ReadWriteOnce' 'helm.sh/resource-policy: keep'
has "polling ConfigMap" "$cm" \
	'OCEAN__EVENT_LISTENER__TYPE: "POLLING"' \
	'OCEAN__EVENT_LISTENER__BIND_ADDRESS: "0.0.0.0"' 'OCEAN__SERVE_HEALTH: "true"' \
	'OCEAN__STATE_DIR: "/var/lib/oceand"' 'OCEAN__SCHEDULED_RESYNC_INTERVAL: "60"' \
	'OCEAN__INTEGRATION__TYPE: "fake"' 'OCEAN__INTEGRATION__IDENTIFIER: "my-fake"' \
	'OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT: "1000000"' \
	'OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS: "5"' \
	'OCEAN__INTEGRATION__CONFIG__SINGLE_DEPARTMENT_RUN: "true"' \
	'OCEAN__INITIALIZE_PORT_RESOURCES: "true"'
has "polling Secret" "$sec" \
	'OCEAN__PORT__CLIENT_ID: "'"$(printf %s ci-client-id-plaintext-marker | base64 -w0)"'"' \
	'OCEAN__PORT__CLIENT_SECRET: ' 'OCEAN__INTEGRATION__CONFIG__API_TOKEN: '
# No secret in clear anywhere, least of all in the pod spec.
hasnt "polling render" "$(cat "$out")" 'plaintext-marker'
hasnt "polling Deployment" "$dep" 'CLIENT_SECRET' 'API_TOKEN'
# ... it takes them from the Secret, by name.
has "polling Deployment" "$(grep -A1 -- '- secretRef:' <<<"$dep")" 'name: oceand$'
hasnt "polling render" "$(cat "$out")" '^kind: Service$' '^kind: CronJob$'
validate polling "$out"

# --- WEBHOOK, an existing Secret and an existing claim --------------------
render webhook -f "$values/webhook-existing-secret-values.yaml"
out=$work/webhook.yaml
dep=$(doc "$out" Deployment)
has "webhook Deployment" "$dep" '^  replicas: 1$' '^    type: Recreate$' 'claimName: my-oceand-state$'
has "webhook Deployment" "$(grep -A1 -- '- secretRef:' <<<"$dep")" 'name: my-port-credentials$'
hasnt "webhook Deployment" "$dep" 'checksum/secret:'
hasnt "webhook render" "$(cat "$out")" '^kind: Secret$' '^kind: PersistentVolumeClaim$'
has "webhook Service" "$(doc "$out" Service)" 'port: 8000$' 'targetPort: http$'
has "webhook ConfigMap" "$(doc "$out" ConfigMap)" \
	'OCEAN__EVENT_LISTENER__TYPE: "WEBHOOK"' 'OCEAN__EVENT_LISTENER__BIND_ADDRESS: "0.0.0.0"' \
	'OCEAN__INTEGRATION__CONFIG__BASE_URL: "https://api.example.com"' \
	'OCEAN__INTEGRATION__CONFIG__CUSTOM_HEADERS: "\{\\"Accept\\":\\"application/json\\"\}"' \
	'OCEAN__EVENT_LISTENER__APP_HOST: "https://oceand.example.com"' \
	'OCEAN__INITIALIZE_PORT_RESOURCES: "false"'
# The existing Secret holds the credentials.
validate webhook "$out" OCEAN__PORT__CLIENT_ID=id OCEAN__PORT__CLIENT_SECRET=secret

# --- ONCE as a CronJob ---------------------------------------------------
render cronjob -f "$values/cronjob-values.yaml"
out=$work/cronjob.yaml
cron=$(doc "$out" CronJob)
has "CronJob" "$cron" 'schedule: "\*/30 \* \* \* \*"' 'concurrencyPolicy: Forbid$' \
	'restartPolicy: Never$' 'activeDeadlineSeconds: 3600$' 'backoffLimit: 0$' \
	'claimName: oceand-state$' 'readOnlyRootFilesystem: true' 'runAsNonRoot: true'
hasnt "CronJob" "$cron" '/health/' 'containerPort'
has "cronjob ConfigMap" "$(doc "$out" ConfigMap)" 'OCEAN__EVENT_LISTENER__TYPE: "ONCE"'
hasnt "cronjob ConfigMap" "$(doc "$out" ConfigMap)" 'OCEAN__SERVE_HEALTH' 'BIND_ADDRESS'
has "cronjob PersistentVolumeClaim" "$(doc "$out" PersistentVolumeClaim)" 'storageClassName: "fast-ssd"'
hasnt "cronjob render" "$(cat "$out")" '^kind: Deployment$' 'plaintext-marker'
validate cronjob "$out"

# --- Ocean's values: the listener under integration.eventListener ------------
# As Port's docs install an integration: --set integration.eventListener.type=...
render ocean-values --set integration.type=fake --set integration.identifier=my-fake \
	--set port.clientId=id --set port.clientSecret=secret \
	--set integration.eventListener.type=KAFKA --set integration.eventListener.consumerPollTimeout=2
cm=$(doc "$work/ocean-values.yaml" ConfigMap)
has "ocean-values ConfigMap" "$cm" 'OCEAN__EVENT_LISTENER__TYPE: "KAFKA"' \
	'OCEAN__EVENT_LISTENER__CONSUMER_POLL_TIMEOUT: "2"' 'OCEAN__SERVE_HEALTH: "true"'
hasnt "ocean-values ConfigMap" "$cm" 'POLLING'
validate ocean-values "$work/ocean-values.yaml"

# --- without persistence --------------------------------------------------
render ephemeral -f "$values/polling-values.yaml" --set persistence.enabled=false
hasnt "ephemeral render" "$(cat "$work/ephemeral.yaml")" '^kind: PersistentVolumeClaim$' 'claimName:'
has "ephemeral Deployment" "$(doc "$work/ephemeral.yaml" Deployment)" 'emptyDir: \{\}'

# --- refused value sets -----------------------------------------------------
base=(--set integration.type=fake --set port.clientId=id --set port.clientSecret=secret)
refuses once-deployment "use mode: cronjob" "${base[@]}" --set eventListener.type=ONCE
refuses bad-mode "mode must be deployment or cronjob" "${base[@]}" --set mode=daemonset
refuses webhook-no-app-host "eventListener.appHost is required" "${base[@]}" --set eventListener.type=WEBHOOK
refuses ocean-webhook-no-app-host "eventListener.appHost is required" "${base[@]}" --set integration.eventListener.type=WEBHOOK
refuses ocean-once-deployment "use mode: cronjob" "${base[@]}" --set integration.eventListener.type=ONCE
refuses no-type "integration.type is required" --set port.clientId=id --set port.clientSecret=secret
refuses no-credentials "port.clientId is required" --set integration.type=fake
refuses existing-secret-unnamed "secret.name is required" --set integration.type=fake --set secret.useExistingSecret=true
refuses existing-secret-and-values "go into the Secret" --set integration.type=fake \
	--set secret.useExistingSecret=true --set secret.name=s --set integration.secrets.token=t
refuses shared-volume "ReadWriteOnce" "${base[@]}" --set 'persistence.accessModes={ReadWriteMany}'

# --- systemd unit ---------------------------------------------------------
# verify needs the unit's ExecStart binary and the standard targets in its
# root; it prints a line for each key it cannot parse and still exits 0.
if command -v systemd-analyze >/dev/null && [ -d /lib/systemd/system ]; then
	root=$work/systemd-root
	mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
	cp "$work/bin/oceand" "$root/usr/local/bin/oceand"
	cp -r /lib/systemd/system "$root/usr/lib/systemd/"
	cp deploy/systemd/oceand.service "$root/etc/systemd/system/"
	if ! out=$(systemd-analyze verify --root="$root" "$root/etc/systemd/system/oceand.service" 2>&1) || [ -n "$out" ]; then
		fail "systemd-analyze verify deploy/systemd/oceand.service: $out"
	fi
else
	echo "check.sh: no systemd-analyze here; deploy/systemd/oceand.service not verified"
fi

if ((failures > 0)); then
	echo "check.sh: $failures failed" >&2
	exit 1
fi
echo "check.sh: Helm chart checks passed ($((SECONDS - start))s)"
