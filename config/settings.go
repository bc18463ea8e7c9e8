package config

// Settings are oceand's effective settings: every setting of Ocean's
// IntegrationConfiguration plus oceand's own.
//
// A setting is one struct field. Its tags say everything else about it:
//
//	key       snake_case name (YAML uses the camelCase form, the environment
//	          OCEAN__ plus the upper-case form, __ between levels)
//	default   default value, written as it would be in an environment variable
//	required  the setting must be given
//	secret    the value is a credential: redacted everywhere
//	ignored   accepted for compatibility with Ocean but not acted on; the
//	          text says why (inherited by nested settings)
//
// Adding a setting is adding a field with its tags; loading, env names,
// coercion, `config print` and the ignored-settings report follow.
type Settings struct {
	Port          PortSettings          `key:"port"`
	EventListener EventListenerSettings `key:"event_listener"`
	Integration   IntegrationSettings   `key:"integration"`

	InitializePortResources bool `key:"initialize_port_resources" default:"true"`
	// ScheduledResyncInterval is in minutes; 0 means no scheduled resync.
	ScheduledResyncInterval int `key:"scheduled_resync_interval" default:"0"`
	// ScheduledResyncCron is a cron spec for scheduled resyncs (UTC unless
	// it starts with CRON_TZ=); exclusive with ScheduledResyncInterval.
	ScheduledResyncCron string `key:"scheduled_resync_cron" default:""`
	// AllowEnvironmentVariablesJQAccess false hides every variable from jq,
	// whatever JQEnvAllowList says.
	AllowEnvironmentVariablesJQAccess bool `key:"allow_environment_variables_jq_access" default:"true"`

	StatusHeartbeatIntervalSeconds int     `key:"status_heartbeat_interval_seconds" default:"10"`
	ClientTimeout                  int     `key:"client_timeout" default:"60" ignored:"no built-in source makes third-party HTTP requests yet"`
	CreatePortResourcesOrigin      string  `key:"create_port_resources_origin" ignored:"oceand creates the source's default resources itself"`
	SendRawDataExamples            bool    `key:"send_raw_data_examples" default:"true"`
	OAuthAccessTokenFilePath       string  `key:"oauth_access_token_file_path" ignored:"SaaS-only OAuth is not supported"`
	BaseURL                        string  `key:"base_url" ignored:"oceand receives no live events"`
	PathPrefix                     string  `key:"path_prefix" ignored:"oceand serves no integration routes"`
	EventWorkersCount              int     `key:"event_workers_count" default:"1" ignored:"oceand receives no live events"`
	EventsDebugLogging             bool    `key:"events_debug_logging" default:"false" ignored:"oceand receives no live events"`
	Runtime                        string  `key:"runtime" default:"OnPrem" ignored:"oceand always runs on premises"`
	ResourcesPath                  string  `key:"resources_path" default:".port/resources" ignored:"default resources are built into each source"`
	MaxEventProcessingSeconds      float64 `key:"max_event_processing_seconds" default:"90" ignored:"oceand receives no live events"`
	MaxWaitSecondsBeforeShutdown   float64 `key:"max_wait_seconds_before_shutdown" default:"5" ignored:"oceand receives no live events"`
	CachingStorageMode             string  `key:"caching_storage_mode" default:"disk" ignored:"oceand keeps its state in its own database"`
	UpsertEntitiesBatchMaxLength   int     `key:"upsert_entities_batch_max_length" default:"20" ignored:"oceand batches by Port's own limits (20 entities, 1 MiB)"`
	UpsertEntitiesBatchMaxSize     int     `key:"upsert_entities_batch_max_size_in_bytes" default:"1048576" ignored:"oceand batches by Port's own limits (20 entities, 1 MiB)"`
	LakehouseEnabled               bool    `key:"lakehouse_enabled" default:"true" ignored:"oceand writes nothing to Port's lakehouse"`
	DisableIPOutboundBlocker       *bool   `key:"disable_ip_outbound_blocker" ignored:"SaaS-only"`
	LakehouseBufferIntervalSeconds float64 `key:"lakehouse_buffer_interval_seconds" default:"10" ignored:"oceand writes nothing to Port's lakehouse"`
	LakehouseBufferMaxCount        int     `key:"lakehouse_buffer_max_count" default:"50" ignored:"oceand writes nothing to Port's lakehouse"`
	ProcessingMode                 string  `key:"processing_mode" default:"dsp" ignored:"oceand always maps items itself"`
	YieldItemsToParseBatchSize     int     `key:"yield_items_to_parse_batch_size" default:"200" ignored:"oceand sizes its own batches"`
	ProcessInQueueTimeout          int     `key:"process_in_queue_timeout" default:"120" ignored:"oceand limits jq time per item itself"`
	ProcessInQueueMaxWorkers       int     `key:"process_in_queue_max_workers" default:"0" ignored:"oceand evaluates jq on every core"`
	DeleteEntitiesMaxBatchSize     int     `key:"delete_entities_max_batch_size" default:"1000" ignored:"oceand deletes in Port's batches of 100"`
	ProcessExecutionMode           string  `key:"process_execution_mode" ignored:"deprecated in Ocean; oceand is one process"`

	Streaming        StreamingSettings        `key:"streaming" ignored:"sources stream their pages already"`
	ActionsProcessor ActionsProcessorSettings `key:"actions_processor" ignored:"oceand runs no actions"`
	LiveEvents       LiveEventsSettings       `key:"live_events" ignored:"oceand receives no live events"`
	Metrics          MetricsSettings          `key:"metrics"`
	SSL              SSLSettings              `key:"ssl" ignored:"oceand uses the system's certificate store"`

	// Application holds Ocean's APPLICATION__ settings (env only in
	// Ocean; oceand also reads them from config.yaml).
	Application ApplicationSettings `key:"application"`

	// oceand's own settings.

	// StateDir holds oceand.db and oceand.sock.
	StateDir string `key:"state_dir" default:".oceand"`
	// ControlSocket serves the CLI on stateDir/oceand.sock while the
	// daemon runs (mode 0600); --no-control-socket turns it off.
	ControlSocket bool `key:"control_socket" default:"true"`
	// ServeHealth serves /health/live and /health/ready on
	// eventListener.bindAddress:application.port with every listener (the
	// WEBHOOK listener always serves them).
	ServeHealth bool `key:"serve_health" default:"false"`
	// ResyncPolicy is what a new trigger does to a running resync:
	// supersede, queue or skip.
	ResyncPolicy string `key:"resync_policy" default:"supersede"`
	// JobHistoryLimit is how many jobs the history keeps.
	JobHistoryLimit int `key:"job_history_limit" default:"1000"`
	// LogFormat is auto, text or json.
	LogFormat string `key:"log_format" default:"auto"`
	// LogLevel is debug, info, warning or error. Unset, Ocean's
	// APPLICATION__LOG_LEVEL applies.
	LogLevel string `key:"log_level" default:"info"`
	// JQEnvAllowList names the environment variables jq mappings may read.
	JQEnvAllowList []string `key:"jq_env_allow_list" default:"[]"`
	// SendSyncMetrics reports Ocean's sync metrics and heartbeats to the
	// metrics ingest Port names (Ocean always does; oceand can be told not
	// to).
	SendSyncMetrics bool `key:"send_sync_metrics" default:"true"`

	// meta is how the settings were loaded: origins, warnings, secrets.
	meta *meta
}

// PortSettings locate and authenticate Port.
type PortSettings struct {
	ClientID     string `key:"client_id" required:"true" secret:"true"`
	ClientSecret string `key:"client_secret" required:"true" secret:"true"`
	// BaseURL is Port's API root without /v1; a trailing slash is removed.
	BaseURL string `key:"base_url" default:"https://api.getport.io"`
	// MaxConcurrentRequests bounds entity writes in flight (oceand's own).
	MaxConcurrentRequests int `key:"max_concurrent_requests" default:"5"`

	PortAppConfigCacheTTL    int     `key:"port_app_config_cache_ttl" default:"60" ignored:"oceand reads the mapping once per resync"`
	FeatureFlagsCacheTTL     float64 `key:"feature_flags_cache_ttl_seconds" default:"300" ignored:"oceand reads feature flags once"`
	BlueprintCacheTTLSeconds float64 `key:"blueprint_cache_ttl_seconds" default:"120" ignored:"oceand reads blueprints once per resync"`
}

// EventListenerSettings choose how resyncs are triggered. Fields of every
// listener type live side by side; those of other types are unused.
type EventListenerSettings struct {
	// Type is POLLING, WEBHOOK, KAFKA or ONCE (upper-cased when read).
	Type string `key:"type" default:"POLLING"`

	ShouldResync          bool `key:"should_resync" default:"true" ignored:"the listener type decides"`
	ShouldProcessWebhooks bool `key:"should_process_webhooks" default:"true" ignored:"oceand receives no live events"`
	ShouldRunActions      bool `key:"should_run_actions" default:"true" ignored:"oceand runs no actions"`

	// POLLING: seconds between reads of the integration.
	Interval      int  `key:"interval" default:"60"`
	ResyncOnStart bool `key:"resync_on_start" default:"true"`

	// WEBHOOK: the URL Port calls; Port receives <appHost>/resync.
	AppHost string `key:"app_host" secret:"true"`
	// BindAddress is the address the HTTP server (WEBHOOK, health)
	// listens on, with application.port.
	BindAddress string `key:"bind_address" default:"127.0.0.1"`
	// WebhookSecret, when set, must come with POST /resync (query
	// parameter secret or header X-Oceand-Secret); it is added to the URL
	// Port is given.
	WebhookSecret string `key:"webhook_secret" secret:"true"`

	// KAFKA: Port's brokers (a comma list or a JSON array).
	Brokers                 []string `key:"brokers" default:"b-1-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196,b-2-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196,b-3-public.publicclusterprod.t9rw6w.c1.kafka.eu-west-1.amazonaws.com:9196"`
	SecurityProtocol        string   `key:"security_protocol" default:"SASL_SSL"`
	AuthenticationMechanism string   `key:"authentication_mechanism" default:"SCRAM-SHA-512"`
	KafkaSecurityEnabled    bool     `key:"kafka_security_enabled" default:"true"`
	// ConsumerPollTimeout is in seconds.
	ConsumerPollTimeout int `key:"consumer_poll_timeout" default:"1"`
}

// IntegrationSettings name the integration and configure its source.
type IntegrationSettings struct {
	// Identifier defaults to my-<type>-integration.
	Identifier string `key:"identifier"`
	// Type chooses the source; lower-cased when read.
	Type string `key:"type" required:"true"`
	// Config is the source's settings, checked against its spec by
	// ApplySpec. Keys are snake_case at the first level; nested values
	// are kept as written.
	Config map[string]any `key:"config"`

	IncrementalSyncEnabled  bool   `key:"incremental_sync_enabled" default:"false" ignored:"oceand sends only changed entities on every resync"`
	IncrementalSyncInterval string `key:"incremental_sync_interval" default:"15" ignored:"oceand sends only changed entities on every resync"`
}

// ApplicationSettings are Ocean's APPLICATION__ variables.
type ApplicationSettings struct {
	// LogLevel is used when log_level is not set.
	LogLevel string `key:"log_level"`
	// EnableHTTPLogging ships log records to Port's log ingest.
	EnableHTTPLogging bool `key:"enable_http_logging" default:"true"`
	// Port is the HTTP listen port (WEBHOOK listener, health).
	Port int `key:"port" default:"8000"`
}

// StreamingSettings are Ocean's third-party streaming knobs.
type StreamingSettings struct {
	Enabled         bool   `key:"enabled" default:"false"`
	MaxBufferSizeMB int    `key:"max_buffer_size_mb" default:"20971520"`
	ChunkSize       int    `key:"chunk_size" default:"65536"`
	Location        string `key:"location" default:"/tmp/ocean/streaming"`
}

// ActionsProcessorSettings are Ocean's action-run knobs.
type ActionsProcessorSettings struct {
	Enabled                       bool `key:"enabled" default:"false"`
	RunsBufferHighWatermark       int  `key:"runs_buffer_high_watermark" default:"300"`
	VisibilityTimeoutMS           int  `key:"visibility_timeout_ms" default:"60000"`
	PollCheckIntervalSeconds      int  `key:"poll_check_interval_seconds" default:"10"`
	WorkersCount                  int  `key:"workers_count" default:"3"`
	MaxRunsBufferUtilPctPerAction int  `key:"max_runs_buffer_util_pct_per_action" default:"30"`
}

// LiveEventsSettings are Ocean's Redis live-event consumer knobs.
type LiveEventsSettings struct {
	Type                         string        `key:"type" default:"REDIS"`
	IsRedisStreamConsumerEnabled bool          `key:"is_redis_stream_consumer_enabled" default:"false"`
	Redis                        RedisSettings `key:"redis"`
}

// RedisSettings locate Ocean's live-event Redis.
type RedisSettings struct {
	URL                                   string  `key:"url" default:"redis://localhost:6379"`
	Username                              string  `key:"username"`
	Password                              string  `key:"password" secret:"true"`
	EnableTLS                             bool    `key:"enable_tls" default:"false"`
	CA                                    string  `key:"ca"`
	Cert                                  string  `key:"cert"`
	PrivateKey                            string  `key:"private_key" secret:"true"`
	BlockMS                               int     `key:"block_ms" default:"1000"`
	ReadCount                             int     `key:"read_count" default:"10"`
	StreamTTLSeconds                      int     `key:"stream_ttl_seconds" default:"2592000"`
	StreamMaintenanceWorkerEnabled        bool    `key:"stream_maintenance_worker_enabled" default:"true"`
	PELStuckTimeoutSeconds                int     `key:"pel_stuck_timeout_seconds" default:"600"`
	PELMaxRequeueCount                    int     `key:"pel_max_requeue_count" default:"3"`
	StreamMaintenanceScanIntervalSeconds  float64 `key:"stream_maintenance_scan_interval_seconds" default:"30"`
	PELXAutoclaimCount                    int     `key:"pel_xautoclaim_count" default:"100"`
	StreamMaintenanceErrorBackoffSeconds  float64 `key:"stream_maintenance_error_backoff_seconds" default:"5"`
	StreamMaintenanceConsumerCleanup      bool    `key:"stream_maintenance_consumer_cleanup_enabled" default:"true"`
	StreamMaintenanceConsumerCleanupIdle  int     `key:"stream_maintenance_consumer_cleanup_idle_seconds" default:"86400"`
	ConnectionErrorBackoffSeconds         float64 `key:"connection_error_backoff_seconds" default:"5"`
	ConnectionStartupMaxRetries           int     `key:"connection_startup_max_retries" default:"5"`
	ConnectionStartupInitialBackoffSecond float64 `key:"connection_startup_initial_backoff_seconds" default:"1"`
	ConnectionStartupExponentialBase      float64 `key:"connection_startup_exponential_base" default:"2"`
}

// MetricsSettings are Ocean's metrics knobs.
type MetricsSettings struct {
	// Enabled serves /metrics on application.port with any listener
	// (the HTTP server also serves the health routes), as Ocean does.
	Enabled    bool   `key:"enabled" default:"false"`
	WebhookURL string `key:"webhook_url" ignored:"oceand pushes no metrics to a webhook; Prometheus scrapes /metrics"`
}

// SSLSettings are Ocean's TLS verification switches.
type SSLSettings struct {
	Port       TLSSettings `key:"port"`
	ThirdParty TLSSettings `key:"third_party"`
}

// TLSSettings switch certificate checks for one side.
type TLSSettings struct {
	Verify bool         `key:"verify" default:"true"`
	X509   X509Settings `key:"x509"`
}

// X509Settings switch Python 3.13's strict X.509 checks.
type X509Settings struct {
	Strict bool `key:"strict" default:"true"`
}

// Event listener types.
const (
	ListenerPolling = "POLLING"
	ListenerWebhook = "WEBHOOK"
	ListenerKafka   = "KAFKA"
	ListenerOnce    = "ONCE"
)
